using System.Diagnostics;
using System.Diagnostics.Metrics;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

BenchmarkSwitcher.FromAssembly(typeof(Strata.Bench.Metrics.ReplicaMetricsBenchmarks).Assembly).Run(args);

namespace Strata.Bench.Metrics
{
/// <summary>
/// What a replica records per successful request (predictions_total += 1, one prediction_duration_seconds
/// observation), each way it could: prometheus-net's pre-bound children (the replica today); OpenTelemetry with the
/// two labels as tags on every call (the server's way); OpenTelemetry with no tags, the labels added by the
/// Prometheus exporter from the resource (ResourceConstantLabels). Each with its exporter attached, as in a replica.
/// </summary>
[MemoryDiagnoser]
public class ReplicaMetricsBenchmarks
{
    private static readonly double[] Buckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private const double Seconds = 0.00004; // a single-row prediction: about 40 µs

    private Prometheus.Counter.Child _promCounter = null!;
    private Prometheus.Histogram.Child _promHistogram = null!;
    private Meter _taggedMeter = null!, _plainMeter = null!;
    private MeterProvider _taggedProvider = null!, _plainProvider = null!;
    private Counter<long> _taggedCounter = null!, _plainCounter = null!;
    private Histogram<double> _taggedHistogram = null!, _plainHistogram = null!;

    [GlobalSetup]
    public void Setup()
    {
        var factory = Prometheus.Metrics.WithCustomRegistry(Prometheus.Metrics.NewCustomRegistry());
        string[] labels = ["model_name", "version"];
        _promCounter = factory.CreateCounter("predictions_total", "Instances predicted.", labels).WithLabels("churn", "3");
        _promHistogram = factory.CreateHistogram("prediction_duration_seconds", "Time.", new Prometheus.HistogramConfiguration { LabelNames = labels, Buckets = Buckets })
            .WithLabels("churn", "3");

        (_taggedMeter, _taggedProvider, _taggedCounter, _taggedHistogram) = OpenTelemetry("Bench.Tagged", constantLabels: false);
        (_plainMeter, _plainProvider, _plainCounter, _plainHistogram) = OpenTelemetry("Bench.Plain", constantLabels: true);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _taggedProvider.Dispose();
        _plainProvider.Dispose();
        _taggedMeter.Dispose();
        _plainMeter.Dispose();
    }

    [Benchmark(Baseline = true)]
    public void PrometheusNet_children()
    {
        _promCounter.Inc();
        _promHistogram.Observe(Seconds);
    }

    [Benchmark]
    public void OpenTelemetry_two_tags_per_call()
    {
        var tags = new TagList { { "model_name", "churn" }, { "version", "3" } };
        _taggedCounter.Add(1, tags);
        _taggedHistogram.Record(Seconds, tags);
    }

    [Benchmark]
    public void OpenTelemetry_no_tags_constant_labels()
    {
        _plainCounter.Add(1);
        _plainHistogram.Record(Seconds);
    }

    private static (Meter, MeterProvider, Counter<long>, Histogram<double>) OpenTelemetry(string name, bool constantLabels)
    {
        var meter = new Meter(name);
        var provider = Sdk.CreateMeterProviderBuilder()
            .ConfigureResource(r => r.AddAttributes([new("model_name", "churn"), new("version", "3")]))
            .AddMeter(name)
            .AddPrometheusExporter(o =>
            {
                o.ScopeInfoEnabled = false;
                o.TargetInfoEnabled = false;
                if (constantLabels) o.ResourceConstantLabels = key => key is "model_name" or "version";
            })
            .Build();
        var counter = meter.CreateCounter<long>("predictions", description: "Instances predicted.");
        var histogram = meter.CreateHistogram("prediction_duration", "s", "Time.", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = Buckets });
        return (meter, provider, counter, histogram);
    }
}
}
