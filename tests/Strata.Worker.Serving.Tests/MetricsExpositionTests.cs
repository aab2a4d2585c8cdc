using System.Net.Http.Headers;
using System.Text.RegularExpressions;

namespace Strata.Worker.Serving.Tests;

/// <summary>
/// The replica's <c>/metrics</c> as Prometheus reads it, to the letter: the dashboards and alerts in deploy/ query
/// these names, labels and bucket boundaries, so a change of metrics library must not change any of them.
/// </summary>
[Collection(TrainedModelsCollection.Name)]
public sealed partial class MetricsExpositionTests(TrainedModels models)
{
    /// <summary>Prometheus' own Accept header (2.x and 3.x scrape_protocols): OpenMetrics first, the classic text format as the fallback.</summary>
    private const string PrometheusAccept = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

    private const string Labels = "{model_name=\"churn\",version=\"3\"}";

    private static readonly string[] Buckets = ["0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"];

    /// <summary>Every series of a replica, by name and labels (the le label of each bucket written out), sorted: Prometheus does not read the order.</summary>
    private static readonly List<string> Series = Sorted(
    [
        "predictions_total" + Labels,
        .. Buckets.Select(le => $"prediction_duration_seconds_bucket{{le=\"{le}\",model_name=\"churn\",version=\"3\"}}"),
        "prediction_duration_seconds_sum" + Labels,
        "prediction_duration_seconds_count" + Labels,
        "model_loaded" + Labels,
        "prediction_errors_total" + Labels,
    ]);

    [Fact]
    public async Task The_text_format_has_exactly_the_four_families_with_their_help_and_type()
    {
        await using var replica = await Replica.StartAsync(models.Churn);
        await replica.PredictAsync(TrainedModels.ChurnInstance());

        var text = await replica.MetricsAsync();

        Assert.Equal(
        [
            "# HELP predictions_total Instances predicted.",
            "# TYPE predictions_total counter",
            "# HELP prediction_duration_seconds Time to answer a prediction request, from reading it to writing the answer.",
            "# TYPE prediction_duration_seconds histogram",
            "# HELP model_loaded 1 when the model is loaded and the replica ready, else 0.",
            "# TYPE model_loaded gauge",
            "# HELP prediction_errors_total Prediction requests answered with an error (malformed or invalid input, or a failure).",
            "# TYPE prediction_errors_total counter",
        ], Metadata(text));
        Assert.Equal(Series, SeriesOf(text));
    }

    [Fact]
    public async Task Prometheus_scraping_as_it_does_reads_the_same_series()
    {
        await using var replica = await Replica.StartAsync(models.Churn);
        await replica.PredictAsync(TrainedModels.ChurnInstance());

        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/metrics", UriKind.Relative));
        request.Headers.Accept.ParseAdd(PrometheusAccept);
        using var response = await replica.Client.SendAsync(request);
        response.EnsureSuccessStatusCode();

        Assert.Equal(Series, SeriesOf(await response.Content.ReadAsStringAsync()));
    }

    [Fact]
    public async Task Before_its_model_loads_a_replica_shows_every_series_with_model_loaded_at_0()
    {
        var folder = Directory.CreateTempSubdirectory("strata-serving-unloadable-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(folder, "model.zip"), "not a zip");
            await using var replica = await Replica.StartAsync(folder, waitForLoad: false);
            await Assert.ThrowsAsync<ModelLoadException>(() => replica.Loaded);

            var text = await replica.MetricsAsync();

            Assert.Equal(Series, SeriesOf(text));
            Assert.Equal(0, await replica.MetricAsync("model_loaded" + Labels));
            Assert.Equal(0, await replica.MetricAsync("predictions_total" + Labels));
            Assert.Equal(0, await replica.MetricAsync("prediction_errors_total" + Labels));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// PredictionErrorRatioHigh (deploy/prometheus/rules) divides the errors by errors + prediction_duration_seconds_count:
    /// for a version that refuses every request, that count must be there at 0, or the sum has no series and the alert
    /// cannot fire.
    /// </summary>
    [Fact]
    public async Task A_replica_that_answered_only_errors_shows_its_successes_at_0()
    {
        await using var replica = await Replica.StartAsync(models.Churn);
        var instance = TrainedModels.ChurnInstance();
        instance["tenure_months"] = "ten";

        var (status, _) = await replica.PredictAsync(instance);

        Assert.Equal(400, status);
        Assert.Equal(1, await replica.MetricAsync("prediction_errors_total" + Labels));
        Assert.Equal(0, await replica.MetricAsync("prediction_duration_seconds_count" + Labels));
        Assert.Equal(0, await replica.MetricAsync("predictions_total" + Labels));
    }

    /// <summary>The HELP and TYPE lines, in order.</summary>
    private static List<string> Metadata(string text) =>
        [.. text.Split('\n').Where(l => l.StartsWith("# HELP ", StringComparison.Ordinal) || l.StartsWith("# TYPE ", StringComparison.Ordinal))];

    /// <summary>Each sample's name and labels, labels sorted by name as Prometheus stores them.</summary>
    private static List<string> SeriesOf(string text) =>
        Sorted(text.Split('\n').Where(l => l.Length > 0 && l[0] != '#').Select(Sample).Select(m =>
        {
            var labels = LabelPair().Matches(m.Groups["labels"].Value).Select(p => p.Value).Order(StringComparer.Ordinal);
            return $"{m.Groups["name"].Value}{{{string.Join(",", labels)}}}";
        }));

    private static List<string> Sorted(IEnumerable<string> series) => [.. series.Order(StringComparer.Ordinal)];

    private static Match Sample(string line) =>
        SampleLine().Match(line) is { Success: true } match ? match : throw new InvalidOperationException($"not a sample line: {line}");

    [GeneratedRegex("""^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[^}]*)\})? """)]
    private static partial Regex SampleLine();

    [GeneratedRegex(@"[a-zA-Z_][a-zA-Z0-9_]*=""(\\.|[^""\\])*""")]
    private static partial Regex LabelPair();
}
