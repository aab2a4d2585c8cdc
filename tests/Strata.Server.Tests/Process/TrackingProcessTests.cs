using System.Net;
using System.Text.Json;

namespace Strata.Server.Tests.Process;

/// <summary>Metrics from a real job process through both channels, against the built server on a real port.</summary>
[Collection(ServerProcessCollection.Name)]
public sealed class TrackingProcessTests
{
    private const string Script = """
        import json, os, urllib.request
        print('STRATA_METRIC {"name": "loss", "value": 0.75, "step": 1}', flush=True)
        print('STRATA_METRIC {"name": "loss", "value": 0.5, "step": 2}', flush=True)
        body = json.dumps([{"name": "accuracy", "value": 0.875, "step": 2}]).encode()
        request = urllib.request.Request(
            os.environ["STRATA_API_URL"] + "/v1/jobs/training/" + os.environ["STRATA_JOB_ID"] + "/metrics",
            data=body, method="POST",
            headers={"Authorization": "Bearer " + os.environ["STRATA_JOB_TOKEN"], "Content-Type": "application/json"})
        print("posted", urllib.request.urlopen(request).status, flush=True)
        """;

    /// <summary>
    /// The end of an attempt is recorded after its metrics: with the periodic log scan once a minute (its longest), a job
    /// whose last line is a metric has it the moment it is seen succeeded, and so does its failed sibling.
    /// </summary>
    [Fact]
    public async Task A_job_seen_ended_already_has_the_metric_its_last_line_printed()
    {
        using var server = new ServerProcess(new Dictionary<string, string> { ["Tracking__LogScanMilliseconds"] = "60000" });
        await server.StartAsync();
        using var client = await server.CreateTenantAsync("last-line");

        foreach (var (exit, status) in new[] { (0, "succeeded"), (3, "failed") })
        {
            var entrypoint = $$"""python3 -c "import sys; print('STRATA_METRIC {\"name\": \"accuracy\", \"value\": 0.91, \"step\": 4}', end=''); sys.exit({{exit}})" """;
            var job = await client.SubmitAsync(JsonSerializer.Serialize(new { name = "last-line", entrypoint, retry = new { max_attempts = 1 } }));
            var id = job.GetProperty("id").GetString()!;
            var ended = await client.WaitForStatusAsync(id, status);

            Assert.True(ended.GetProperty("metrics").TryGetProperty("accuracy", out var accuracy), $"job {id} is {status} without its last metric: {ended}\n{server.LogTail()}");
            Assert.Equal(0.91, accuracy.GetDouble());
            var history = await client.GetJsonAsync($"/v1/jobs/training/{id}/metrics");
            Assert.Equal(4, Assert.Single(history.EnumerateArray()).GetProperty("step").GetInt32());
        }
    }

    [Fact]
    public async Task A_job_reports_metrics_by_printing_lines_and_by_posting_with_its_token()
    {
        using var server = new ServerProcess();
        await server.StartAsync();
        using var client = await server.CreateTenantAsync("tracked");
        var script = Path.Combine(server.MarkerPath, "report.py");
        await File.WriteAllTextAsync(script, Script);

        var job = await client.SubmitAsync(JsonSerializer.Serialize(new { name = "reporter", entrypoint = $"python3 {script}", retry = new { max_attempts = 1 } }));
        var id = job.GetProperty("id").GetString()!;
        await client.WaitForStatusAsync(id, "succeeded");

        var history = default(JsonElement);
        await Wait.UntilAsync(async () =>
        {
            history = await client.GetJsonAsync($"/v1/jobs/training/{id}/metrics");
            return history.GetArrayLength() >= 3;
        }, () => $"three metric points; have {history}", server);
        var points = history.EnumerateArray().Select(p => (p.GetProperty("name").GetString(), p.GetProperty("value").GetDouble())).Order().ToArray();
        Assert.Equal([("accuracy", 0.875), ("loss", 0.5), ("loss", 0.75)], points);
        var metrics = (await client.JobAsync(id)).GetProperty("metrics");
        Assert.Equal(0.5, metrics.GetProperty("loss").GetDouble());
        Assert.Equal(0.875, metrics.GetProperty("accuracy").GetDouble());
        using var logs = await client.SendAsync(HttpMethod.Get, $"/v1/jobs/training/{id}/logs");
        Assert.Contains("posted 200", await logs.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, logs.StatusCode);
    }
}
