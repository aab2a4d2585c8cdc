using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Strata.Contracts;
using Strata.Core.Tracking;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Tracking;

/// <summary>Experiment tracking on every store: both channels, the job token's confinement, limits, tenancy.</summary>
public abstract class MetricsApiTests<TApp>(TApp app) : IClassFixture<TApp>
    where TApp : StrataApp
{
    /// <summary>A job that prints <paramref name="lines"/>, then waits until the test creates its release file.</summary>
    private async Task<(string Id, string Release)> StartHeldJobAsync(HttpClient client, string name, params string[] lines)
    {
        var release = Path.Combine(app.SharedPath, "release-" + Guid.NewGuid().ToString("N"));
        var prints = string.Concat(lines.Select(l => $"echo '{l}'; "));
        var job = await StrataApp.SubmitAsync(client, new { name, entrypoint = $"{prints}while [ ! -e '{release}' ]; do sleep 0.1; done" });
        var id = job.GetProperty("id").GetString()!;
        await StrataApp.WaitForStatusAsync(client, id, "running");
        return (id, release);
    }

    /// <summary>The job's own token, from the launch file its attempt was started with.</summary>
    private string JobToken(string tenant, string id)
    {
        using var launch = JsonDocument.Parse(File.ReadAllText(Path.Combine(app.DataPath, "attempts", tenant, $"{id}-1", "launch.json")));
        return launch.RootElement.GetProperty("environment").GetProperty("STRATA_JOB_TOKEN").GetString()!;
    }

    private static async Task<JsonElement> HistoryAsync(HttpClient client, string id, string query = "")
    {
        using var response = await client.GetAsync($"/v1/jobs/training/{id}/metrics{query}");
        return await Http.ExpectAsync(response, 200);
    }

    [SkippableFact]
    public async Task Metric_lines_of_a_running_job_are_recorded_while_it_runs_and_its_latest_values_are_on_the_job()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (_, client) = await app.TenantClientAsync("lines");
        using var _ = client;
        var (id, release) = await StartHeldJobAsync(client, "printer",
            """STRATA_METRIC {"name": "loss", "value": 0.9, "step": 1}""",
            "epoch 1 done",
            """STRATA_METRIC {"name": "loss", "value": 0.4, "step": 2}""",
            """STRATA_METRIC {"name": "loss", "value": "not a number"}""");

        // Recorded while the job is still running: it waits for the release file.
        var deadline = DateTimeOffset.UtcNow.AddSeconds(60);
        JsonElement history;
        while ((history = await HistoryAsync(client, id)).GetArrayLength() < 2 && DateTimeOffset.UtcNow < deadline) await Task.Delay(100);
        using (var get = await client.GetAsync($"/v1/jobs/training/{id}"))
        {
            var job = await Http.ExpectAsync(get, 200);
            Assert.Equal("running", job.GetProperty("status").GetString());
            Assert.Equal(0.4, job.GetProperty("metrics").GetProperty("loss").GetDouble());
        }
        Assert.Equal([(1L, 0.9), (2L, 0.4)], history.EnumerateArray().Select(p => (p.GetProperty("step").GetInt64(), p.GetProperty("value").GetDouble())));

        File.WriteAllText(release, "");
        await StrataApp.WaitForStatusAsync(client, id, "succeeded");
        // Nothing is recorded twice once the finished attempt's log has been read to its end.
        await StrataApp.WaitForAsync(client, id, _ => !app.LogMetricsPending(id));
        Assert.Equal(2, (await HistoryAsync(client, id)).GetArrayLength());
    }

    [SkippableFact]
    public async Task A_jobs_token_reports_its_own_metrics_and_no_other_jobs()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenant, client) = await app.TenantClientAsync("token");
        using var _ = client;
        var (id, release) = await StartHeldJobAsync(client, "reporter");
        var (other, otherRelease) = await StartHeldJobAsync(client, "bystander");
        using var job = app.ClientFor(JobToken(tenant, id));
        try
        {
            using (var one = await job.PostAsJsonAsync($"/v1/jobs/training/{id}/metrics", new { name = "accuracy", value = 0.5, step = 1 }))
            {
                Assert.Equal(1, (await Http.ExpectAsync(one, 200)).GetProperty("recorded").GetInt32());
            }
            using (var batch = await job.PostAsJsonAsync($"/v1/jobs/training/{id}/metrics", new object[]
            {
                new { name = "accuracy", value = 0.8, step = 3 },
                new { name = "accuracy", value = 0.7, step = 2 },
                new { name = "val/loss", value = 1.25, time = "2026-01-01T00:00:00Z" },
            }))
            {
                Assert.Equal(3, (await Http.ExpectAsync(batch, 200)).GetProperty("recorded").GetInt32());
            }
            using (var elsewhere = await job.PostAsJsonAsync($"/v1/jobs/training/{other}/metrics", new { name = "accuracy", value = 1.0 }))
            {
                await Http.ExpectProblemAsync(elsewhere, 403, ProblemTypes.Forbidden);
            }
            using (var read = await job.GetAsync($"/v1/jobs/training/{id}/metrics"))
            {
                await Http.ExpectProblemAsync(read, 403, ProblemTypes.Forbidden);
            }
            using (var submit = await job.PostAsJsonAsync("/v1/jobs/training", new { name = "spawned", entrypoint = "true" }))
            {
                await Http.ExpectProblemAsync(submit, 403, ProblemTypes.Forbidden);
            }

            var accuracy = await HistoryAsync(client, id, "?name=accuracy");
            Assert.Equal([0.5, 0.8, 0.7], accuracy.EnumerateArray().Select(p => p.GetProperty("value").GetDouble()));
            Assert.Empty((await HistoryAsync(client, other)).EnumerateArray());
            var latest = (await StrataApp.WaitForStatusAsync(client, id, "running")).GetProperty("metrics");
            // The latest value is the highest step's, not the last reported.
            Assert.Equal(0.8, latest.GetProperty("accuracy").GetDouble());
            Assert.Equal(1.25, latest.GetProperty("val/loss").GetDouble());
            var page = await HistoryAsync(client, id, "?limit=2");
            Assert.Equal(2, page.GetArrayLength());
        }
        finally
        {
            File.WriteAllText(release, "");
            File.WriteAllText(otherRelease, "");
        }
    }

    [SkippableFact]
    public async Task Another_tenants_metrics_are_404_to_read_and_to_write()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (_, owner) = await app.TenantClientAsync("owner");
        var (_, intruder) = await app.TenantClientAsync("intruder", Roles.Owner);
        using var _o = owner;
        using var _i = intruder;
        var id = (await StrataApp.SubmitAsync(owner, new { name = "private", entrypoint = "true" })).GetProperty("id").GetString()!;
        using (var report = await owner.PostAsJsonAsync($"/v1/jobs/training/{id}/metrics", new { name = "auc", value = 0.9 }))
        {
            await Http.ExpectAsync(report, 200);
        }

        using (var read = await intruder.GetAsync($"/v1/jobs/training/{id}/metrics"))
        {
            await Http.ExpectProblemAsync(read, 404, ProblemTypes.NotFound);
        }
        using (var write = await intruder.PostAsJsonAsync($"/v1/jobs/training/{id}/metrics", new { name = "auc", value = 0.1 }))
        {
            await Http.ExpectProblemAsync(write, 404, ProblemTypes.NotFound);
        }
        Assert.Single((await HistoryAsync(owner, id)).EnumerateArray());
        await StrataApp.WaitForEndAsync(owner, id);
    }

    [SkippableFact]
    public async Task Invalid_reports_are_refused_whole_with_the_fields_named()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (_, client) = await app.TenantClientAsync("invalid");
        using var _ = client;
        var id = (await StrataApp.SubmitAsync(client, new { name = "target", entrypoint = "true" })).GetProperty("id").GetString()!;
        var url = $"/v1/jobs/training/{id}/metrics";

        using (var response = await client.PostRawAsync(url, """[{"name":"ok","value":1},{"name":"bad name!","step":-1}]"""))
        {
            await Http.ExpectValidationAsync(response, "[1].name", "[1].value", "[1].step");
        }
        using (var response = await client.PostRawAsync(url, "[]"))
        {
            await Http.ExpectValidationAsync(response, "metrics");
        }
        var tooMany = "[" + string.Join(",", Enumerable.Repeat("""{"name":"x","value":1}""", MetricLimits.MaxBatch + 1)) + "]";
        using (var response = await client.PostRawAsync(url, tooMany))
        {
            await Http.ExpectValidationAsync(response, "metrics");
        }
        using (var response = await client.PostRawAsync(url, """{"name":"x","value":1,"colour":"red"}"""))
        {
            await Http.ExpectProblemAsync(response, 400, ProblemTypes.MalformedRequest);
        }
        var names = "[" + string.Join(",", Enumerable.Range(0, MetricLimits.MaxNamesPerJob + 1).Select(i => $$"""{"name":"m{{i}}","value":1}""")) + "]";
        using (var response = await client.PostRawAsync(url, names))
        {
            var problem = await Http.ExpectProblemAsync(response, 409, ProblemTypes.Conflict);
            Assert.Contains($"at most {MetricLimits.MaxNamesPerJob} metric names", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
        Assert.Empty((await HistoryAsync(client, id)).EnumerateArray());
        using (var unknown = await client.PostRawAsync($"/v1/jobs/training/{Guid.NewGuid()}/metrics", """{"name":"x","value":1}"""))
        {
            await Http.ExpectProblemAsync(unknown, 404, ProblemTypes.NotFound);
        }
        await StrataApp.WaitForEndAsync(client, id);
    }
}

public sealed class SqliteMetricsApiTests(SqliteApp app) : MetricsApiTests<SqliteApp>(app);

public sealed class PostgresMetricsApiTests(PostgresApp app) : MetricsApiTests<PostgresApp>(app);
