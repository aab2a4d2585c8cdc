using System.Net;
using System.Text.Json;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Sandbox;

/// <summary>
/// A hostile tenant's jobs go after their limits all at once (a fork bomb, a disk filler, a gigabyte of
/// output) while a neighbour of another tenant runs: each is stopped the way docs/limits.md says, and the
/// neighbour runs on.
/// </summary>
public sealed class LimitAttackTests(SmallLogsApp app) : IClassFixture<SmallLogsApp>
{
    [SkippableFact]
    public async Task Jobs_that_attack_their_limits_are_stopped_while_a_neighbour_of_another_tenant_runs()
    {
        var (_, neighbour) = await app.TenantClientAsync("calm");
        var (tenant, attacker) = await app.TenantClientAsync("greedy");
        using var _ = neighbour;
        using var __ = attacker;
        var calm = (await StrataApp.SubmitAsync(neighbour, new { name = "calm", entrypoint = "while true; do echo alive; sleep 0.5; done" })).GetProperty("id").GetString()!;
        await StrataApp.WaitForStatusAsync(neighbour, calm, "running");

        var sleep = $"30.{Random.Shared.Next(100_000, 999_999)}";
        var forks = await SubmitAsync(attacker, "forks", $"for i in $(seq 10000); do sleep {sleep} & done; echo never", new { max_processes = 64 });
        var disk = await SubmitAsync(attacker, "disk", "head -c 100000000 /dev/zero > big; sleep 30", new { disk_gb = 0.01 });
        var log = await SubmitAsync(attacker, "log", "yes 'a line of output, printed again and again by a job that means no good' | head -c 1073741824", null);

        var forked = await StrataApp.WaitForEndAsync(attacker, forks, TimeSpan.FromMinutes(2));
        var filled = await StrataApp.WaitForEndAsync(attacker, disk, TimeSpan.FromMinutes(2));
        var printed = await StrataApp.WaitForEndAsync(attacker, log, TimeSpan.FromMinutes(3));

        var limits = File.ReadLines(Path.Combine(app.DataPath, "attempts", tenant, $"{forks}-1", "worker.log")).First();
        Skip.IfNot(limits.Contains("processes 64;", StringComparison.Ordinal), $"no pids controller here ({limits})");
        Assert.Equal("failed", forked.GetProperty("status").GetString());
        Assert.Contains("refused at its limit of 64 processes", forked.GetProperty("error_message").GetString(), StringComparison.Ordinal);
        Assert.Empty(Process.ProcFs.ProcessesMentioning(sleep));

        Assert.Equal("failed", filled.GetProperty("status").GetString());
        Assert.Equal("disk_limit_exceeded", filled.GetProperty("status_reason").GetString());

        Assert.Equal("succeeded", printed.GetProperty("status").GetString());
        var output = new FileInfo(Path.Combine(app.DataPath, "attempts", tenant, $"{log}-1", "output.log"));
        Assert.InRange(output.Length, 1, SmallLogsApp.MaxLogBytes);
        Assert.Contains("of output dropped]", File.ReadAllText(output.FullName), StringComparison.Ordinal);

        using (var response = await neighbour.GetAsync($"/v1/jobs/training/{calm}"))
        {
            Assert.Equal("running", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("status").GetString());
        }
        using var cancelled = await neighbour.DeleteAsync($"/v1/jobs/training/{calm}");
        Assert.Equal(HttpStatusCode.NoContent, cancelled.StatusCode);
    }

    private static async Task<string> SubmitAsync(HttpClient client, string name, string entrypoint, object? compute)
    {
        var job = compute is null
            ? await StrataApp.SubmitAsync(client, new { name, entrypoint, retry = new { max_attempts = 1 } })
            : await StrataApp.SubmitAsync(client, new { name, entrypoint, compute, retry = new { max_attempts = 1 } });
        return job.GetProperty("id").GetString()!;
    }
}
