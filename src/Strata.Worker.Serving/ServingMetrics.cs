using Prometheus;

namespace Strata.Worker.Serving;

/// <summary>
/// The replica's metrics, in a registry of their own so that <c>/metrics</c> holds exactly these four,
/// each labelled <c>model_name</c> and <c>version</c>: <c>predictions_total</c> (instances predicted),
/// <c>prediction_duration_seconds</c> (per request, reading to answering), <c>model_loaded</c> (1 once
/// the model is ready) and <c>prediction_errors_total</c> (requests answered with an error, bad input included).
/// </summary>
public sealed class ServingMetrics
{
    private static readonly string[] Labels = ["model_name", "version"];
    // Sub-millisecond buckets: a single-row prediction takes tens of microseconds.
    private static readonly double[] DurationBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    public ServingMetrics(string modelName, string version)
    {
        Registry = Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);
        Predictions = factory.CreateCounter("predictions_total", "Instances predicted.", Labels).WithLabels(modelName, version);
        Duration = factory.CreateHistogram("prediction_duration_seconds", "Time to answer a prediction request, from reading it to writing the answer.",
            new HistogramConfiguration { LabelNames = Labels, Buckets = DurationBuckets }).WithLabels(modelName, version);
        Loaded = factory.CreateGauge("model_loaded", "1 when the model is loaded and the replica ready, else 0.", Labels).WithLabels(modelName, version);
        Errors = factory.CreateCounter("prediction_errors_total", "Prediction requests answered with an error (malformed or invalid input, or a failure).", Labels).WithLabels(modelName, version);
        // Published at 0 before the model loads, so that a replica stuck loading shows as such.
        Loaded.Set(0);
        Predictions.IncTo(0);
        Errors.IncTo(0);
    }

    public CollectorRegistry Registry { get; }
    public Counter.Child Predictions { get; }
    public Histogram.Child Duration { get; }
    public Gauge.Child Loaded { get; }
    public Counter.Child Errors { get; }
}
