using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Strata.Worker.Serving.Tests;

/// <summary>A model server on a free loopback port, with an HTTP client to it.</summary>
public sealed partial class Replica : IAsyncDisposable
{
    private readonly ModelServer _server;

    private Replica(ModelServer server, HttpClient client)
    {
        _server = server;
        Client = client;
    }

    public HttpClient Client { get; }

    public Task Loaded => _server.Loaded;

    /// <param name="socket">A Unix domain socket it also listens on (<c>--socket</c>); null for its port alone.</param>
    public static async Task<Replica> StartAsync(string model, string name = "churn", string version = "3", bool waitForLoad = true, string? socket = null)
    {
        string[] arguments = ["--model", model, "--port", "0", "--model-name", name, "--version", version];
        if (socket is not null) arguments = [.. arguments, "--socket", socket];
        var options = ServeOptions.Parse(arguments, out var problem) ?? throw new InvalidOperationException(problem);
        var server = new ModelServer(options);
        await server.StartAsync();
        var replica = new Replica(server, new HttpClient { BaseAddress = server.Address });
        if (waitForLoad) await server.Loaded;
        return replica;
    }

    public async Task<(int Status, JsonElement Body)> PredictAsync(object body)
    {
        using var response = await Client.PostAsJsonAsync("/predict", body);
        return ((int)response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }

    public async Task<string> MetricsAsync() => await Client.GetStringAsync(new Uri("/metrics", UriKind.Relative));

    /// <summary>The value of a sample in the Prometheus text, e.g. <c>prediction_errors_total{model_name="churn",version="3"}</c>.</summary>
    public async Task<double> MetricAsync(string sample)
    {
        var text = await MetricsAsync();
        var line = text.Split('\n').SingleOrDefault(l => l.StartsWith(sample + " ", StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"{sample} is not in /metrics:\n{text}");
        return double.Parse(line[(sample.Length + 1)..], CultureInfo.InvariantCulture);
    }

    /// <summary>The metric families in the Prometheus text (from its TYPE lines).</summary>
    public static IReadOnlyList<string> Families(string text) => [.. TypeLine().Matches(text).Select(m => m.Groups[1].Value)];

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _server.StopAsync();
        await _server.DisposeAsync();
    }

    [GeneratedRegex(@"^# TYPE (\S+) ", RegexOptions.Multiline)]
    private static partial Regex TypeLine();
}
