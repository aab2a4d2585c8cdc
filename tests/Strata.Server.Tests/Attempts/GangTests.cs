using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Attempts;

/// <summary>
/// Distributed jobs on the local runtime: N worker processes started as one gang, each with torchrun's variables,
/// a log each, and stopped and retried whole when one rank fails (docs/distributed.md).
/// </summary>
public sealed partial class GangTests(SqliteApp app) : IClassFixture<SqliteApp>
{
    private static readonly int[] RetryOn = [75];

    [Fact]
    public async Task Each_rank_of_a_gang_sees_torchruns_variables_and_keeps_its_own_log()
    {
        var (_, client) = await app.TenantClientAsync("gang");
        using var _ = client;
        var job = await StrataApp.SubmitAsync(client, new
        {
            name = "gang",
            compute = new { cpu_cores = 1, memory_gb = 1 },
            distributed = new { num_workers = 2 },
            entrypoint = "echo \"rank=$RANK world=$WORLD_SIZE local=$LOCAL_RANK/$LOCAL_WORLD_SIZE node=$NODE_RANK master=$MASTER_ADDR:$MASTER_PORT\"; echo \"second line of $RANK\"",
        });
        var id = job.GetProperty("id").GetString()!;

        var done = await StrataApp.WaitForEndAsync(client, id);

        Assert.Equal("succeeded", done.GetProperty("status").GetString());
        var rank0 = await LogAsync(client, id, "");
        var rank1 = await LogAsync(client, id, "?rank=1");
        Assert.Matches(@"^rank=0 world=2 local=0/2 node=0 master=127\.0\.0\.1:\d+\nsecond line of 0\n$", rank0);
        Assert.Matches(@"^rank=1 world=2 local=1/2 node=0 master=127\.0\.0\.1:\d+\nsecond line of 1\n$", rank1);
        // One rendezvous: both ranks were given the same port.
        Assert.Equal(MasterPort().Match(rank0).Value, MasterPort().Match(rank1).Value);

        var all = (await LogAsync(client, id, "?rank=all")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, all.Length);
        Assert.Equal(["[rank 0] second line of 0", "[rank 1] second line of 1"], all.Where(l => l.Contains("second", StringComparison.Ordinal)).Order());
        Assert.Equal(["[rank 0] ", "[rank 0] ", "[rank 1] ", "[rank 1] "], all.Select(l => l[..9]).Order());
        var tailed = (await LogAsync(client, id, "?rank=all&tail=1")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["[rank 0] second line of 0", "[rank 1] second line of 1"], tailed.Order());

        // The gang held, and is charged for, both workers.
        var usage = (await AttemptsAsync(client, id)).Single().GetProperty("usage");
        var wall = usage.GetProperty("wall_seconds").GetDouble();
        Assert.Equal(2 * wall, usage.GetProperty("reserved").GetProperty("core_seconds").GetDouble(), tolerance: 0.01);
    }

    [Theory]
    [InlineData("?rank=2")]
    [InlineData("?rank=-1")]
    [InlineData("?rank=one")]
    [InlineData("?rank=1.0")]
    public async Task A_rank_the_job_does_not_have_is_a_400(string query)
    {
        var (_, client) = await app.TenantClientAsync("gang-rank");
        using var _ = client;
        var job = await StrataApp.SubmitAsync(client, new { name = "pair", distributed = new { num_workers = 2 }, entrypoint = "true" });
        var id = job.GetProperty("id").GetString()!;

        using var response = await client.GetAsync($"/v1/jobs/training/{id}/logs{query}");

        var problem = await Http.ExpectAsync(response, 400);
        Assert.True(problem.GetProperty("errors").TryGetProperty("rank", out var __), problem.ToString());
    }

    [Fact]
    public async Task Another_tenants_gang_log_is_a_404_for_every_rank()
    {
        var (_, owner) = await app.TenantClientAsync("gang-owner");
        var (_, other) = await app.TenantClientAsync("gang-other");
        using var _ = owner;
        using var __ = other;
        var job = await StrataApp.SubmitAsync(owner, new { name = "pair", distributed = new { num_workers = 2 }, entrypoint = "echo secret-$RANK" });
        var id = job.GetProperty("id").GetString()!;
        await StrataApp.WaitForEndAsync(owner, id);

        foreach (var query in new[] { "", "?rank=1", "?rank=all" })
        {
            using var response = await other.GetAsync($"/v1/jobs/training/{id}/logs{query}");
            Assert.Equal(404, (int)response.StatusCode);
            Assert.DoesNotContain("secret", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task When_one_rank_fails_the_others_are_stopped_and_the_whole_gang_is_retried()
    {
        var (_, client) = await app.TenantClientAsync("gang-retry");
        using var _ = client;
        var job = await StrataApp.SubmitAsync(client, new
        {
            name = "gang-retry",
            compute = new { cpu_cores = 1, memory_gb = 1 },
            distributed = new { num_workers = 2 },
            retry = new { max_attempts = 2, backoff_seconds = 0, retry_on_exit_codes = RetryOn },
            // Attempt 1: rank 1 fails while rank 0 would wait for five minutes; attempt 2: both finish.
            entrypoint = "if [ \"$STRATA_ATTEMPT\" = 1 ]; then if [ \"$RANK\" = 1 ]; then sleep 0.5; exit 75; fi; sleep 300; fi; echo \"rank $RANK done in attempt $STRATA_ATTEMPT\"",
        });
        var id = job.GetProperty("id").GetString()!;

        var done = await StrataApp.WaitForEndAsync(client, id, TimeSpan.FromSeconds(90));

        Assert.Equal("succeeded", done.GetProperty("status").GetString());
        var attempts = (await AttemptsAsync(client, id)).OrderBy(a => a.GetProperty("number").GetInt32()).ToArray();
        Assert.Equal(2, attempts.Length);
        Assert.Equal("infrastructure", attempts[0].GetProperty("classification").GetString());
        Assert.Equal("retry", attempts[0].GetProperty("decision").GetString());
        Assert.Contains("rank 1: exited with code 75", attempts[0].GetProperty("error_message").GetString(), StringComparison.Ordinal);
        var all = await LogAsync(client, id, "?rank=all&attempt=2");
        Assert.Contains("[rank 0] rank 0 done in attempt 2", all, StringComparison.Ordinal);
        Assert.Contains("[rank 1] rank 1 done in attempt 2", all, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_single_worker_whose_supervisor_is_killed_is_retried_as_an_infrastructure_failure()
    {
        var (tenant, client) = await app.TenantClientAsync("killed");
        using var _ = client;
        var job = await StrataApp.SubmitAsync(client, new
        {
            name = "killed",
            retry = new { max_attempts = 2, backoff_seconds = 1 },
            entrypoint = "if [ \"$STRATA_ATTEMPT\" = 1 ]; then sleep 300; fi; echo second attempt",
        });
        var id = job.GetProperty("id").GetString()!;
        await StrataApp.WaitForStatusAsync(client, id, "running");

        var (worker, jobPid) = await SupervisorAsync(Path.Combine(app.DataPath, "attempts", tenant, $"{id}-1"));
        Signal(worker);
        Signal(jobPid);

        var done = await StrataApp.WaitForEndAsync(client, id, TimeSpan.FromSeconds(60));
        Assert.Equal("succeeded", done.GetProperty("status").GetString());
        var first = (await AttemptsAsync(client, id)).Single(a => a.GetProperty("number").GetInt32() == 1);
        Assert.Equal("supervisor_lost", first.GetProperty("outcome").GetString());
        Assert.Equal("infrastructure", first.GetProperty("classification").GetString());
        Assert.Equal("retry", first.GetProperty("decision").GetString());
    }

    [SkippableFact]
    public async Task A_two_rank_torch_DDP_job_killed_mid_way_resumes_from_its_checkpoint_and_ends_with_identical_replicas()
    {
        Skip.IfNot(TorchInstalled(), "Debian's python3-torch is not installed (scripts/test installs it)");
        var (tenant, client) = await app.TenantClientAsync("ddp");
        using var _ = client;
        var script = Path.Combine(app.SharedPath, $"ddp-{Guid.NewGuid():N}.py");
        File.Copy(Path.Combine(Dashboards.DashboardFiles.RepositoryRoot, "examples", "ddp", "train.py"), script);
        var job = await StrataApp.SubmitAsync(client, new
        {
            name = "ddp",
            compute = new { cpu_cores = 1, memory_gb = 2 },
            distributed = new { num_workers = 2 },
            retry = new { max_attempts = 2, backoff_seconds = 0 },
            hyperparameters = new { epochs = 6, epoch_seconds = 1 },
            entrypoint = $"/usr/bin/python3 {script}",
        });
        var id = job.GetProperty("id").GetString()!;

        // Once two epochs are checkpointed, rank 1's supervisor and job are killed, as a lost machine would be.
        var firstLog = "";
        for (var deadline = DateTimeOffset.UtcNow.AddSeconds(90); !firstLog.Contains("epoch 1: ", StringComparison.Ordinal); await Task.Delay(200))
        {
            Assert.True(DateTimeOffset.UtcNow < deadline, $"no second epoch in time; rank 0 said: {firstLog}");
            // 404 until the attempt exists.
            using var response = await client.GetAsync($"/v1/jobs/training/{id}/logs?attempt=1");
            firstLog = await response.Content.ReadAsStringAsync();
        }
        var (worker, jobPid) = await SupervisorAsync(Path.Combine(app.DataPath, "attempts", tenant, $"{id}-1", "ranks", "1"));
        Signal(worker);
        Signal(jobPid);

        var done = await StrataApp.WaitForEndAsync(client, id, TimeSpan.FromSeconds(120));

        Assert.Equal("succeeded", done.GetProperty("status").GetString());
        var attempts = (await AttemptsAsync(client, id)).OrderBy(a => a.GetProperty("number").GetInt32()).ToArray();
        Assert.Equal(2, attempts.Length);
        Assert.Equal("infrastructure", attempts[0].GetProperty("classification").GetString());
        Assert.StartsWith("rank 1: ", attempts[0].GetProperty("error_message").GetString(), StringComparison.Ordinal);
        Assert.Equal("ddp-checkpoint.pt", attempts[0].GetProperty("checkpoint").GetProperty("path").GetString());
        // The second attempt starts after the last epoch the first one saved.
        var saved = SavedEpochs().Matches(await LogAsync(client, id, "?attempt=1")).Select(m => int.Parse(m.Groups[1].Value)).Max();
        var second = await LogAsync(client, id, "?attempt=2&rank=all");
        Assert.Contains($"[rank 0] rank 0 resumed from ", second, StringComparison.Ordinal);
        Assert.Contains($"at epoch {saved + 1}", second, StringComparison.Ordinal);
        Assert.Contains($"[rank 1] rank 1 resumed from ", second, StringComparison.Ordinal);
        // DDP's all-reduce kept the replicas identical.
        var digests = Digests().Matches(second).Select(m => (Rank: m.Groups[1].Value, Digest: m.Groups[2].Value)).ToList();
        Assert.Equal(["0", "1"], digests.Select(d => d.Rank).Order());
        Assert.Single(digests.Select(d => d.Digest).Distinct());
        Assert.Equal("ddp-checkpoint.pt", attempts[1].GetProperty("checkpoint").GetProperty("path").GetString());
    }

    [Fact]
    public async Task The_newest_checkpoint_is_recorded_without_following_a_link_or_opening_a_fifo()
    {
        var (_, client) = await app.TenantClientAsync("ckpt");
        using var _ = client;
        var job = await StrataApp.SubmitAsync(client, new
        {
            name = "ckpt",
            entrypoint = "cd \"$STRATA_CHECKPOINT_DIR\" && mkfifo pipe && sleep 0.05 && mkdir -p epochs && echo 3 > epochs/model-3.ckpt && sleep 0.05 && ln -s /etc/passwd newest-link",
        });
        var id = job.GetProperty("id").GetString()!;

        var done = await StrataApp.WaitForEndAsync(client, id);

        Assert.Equal("succeeded", done.GetProperty("status").GetString());
        var checkpoint = (await AttemptsAsync(client, id)).Single().GetProperty("checkpoint");
        Assert.Equal(Path.Combine("epochs", "model-3.ckpt"), checkpoint.GetProperty("path").GetString());
        Assert.True(checkpoint.GetProperty("modified_at").GetDateTimeOffset() <= DateTimeOffset.UtcNow);
    }

    private static async Task<string> LogAsync(HttpClient client, string id, string query)
    {
        using var response = await client.GetAsync($"/v1/jobs/training/{id}/logs{query}");
        Assert.Equal(200, (int)response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    private static async Task<JsonElement[]> AttemptsAsync(HttpClient client, string id)
    {
        using var response = await client.GetAsync($"/v1/jobs/training/{id}/attempts");
        return [.. (await Http.ExpectAsync(response, 200)).EnumerateArray()];
    }

    /// <summary>worker_pid and job_pid from a worker's supervisor.json, once it has written it.</summary>
    private static async Task<(int Worker, int Job)> SupervisorAsync(string folder)
    {
        var path = Path.Combine(folder, "supervisor.json");
        for (var deadline = DateTimeOffset.UtcNow.AddSeconds(30); !File.Exists(path); await Task.Delay(50))
        {
            Assert.True(DateTimeOffset.UtcNow < deadline, $"{path} was not written in time");
        }
        using var document = JsonDocument.Parse(await File.ReadAllTextAsync(path));
        return (document.RootElement.GetProperty("worker_pid").GetInt32(), document.RootElement.GetProperty("job_pid").GetInt32());
    }

    private static void Signal(int pid)
    {
        try
        {
            System.Diagnostics.Process.GetProcessById(pid).Kill();
        }
        catch (ArgumentException)
        {
            // Already gone.
        }
    }

    private static bool TorchInstalled()
    {
        if (!File.Exists("/usr/bin/python3")) return false;
        using var probe = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("/usr/bin/python3", ["-c", "import torch"]) { RedirectStandardError = true })!;
        probe.WaitForExit();
        return probe.ExitCode == 0;
    }

    [GeneratedRegex(@"master=\S+")]
    private static partial Regex MasterPort();

    [GeneratedRegex(@"epoch (\d+): loss \S+, checkpoint saved")]
    private static partial Regex SavedEpochs();

    [GeneratedRegex(@"rank (\d) parameters sha256 ([0-9a-f]+)")]
    private static partial Regex Digests();
}

/// <summary>A sandbox whose jobs have no network (loopback of their own): a gang's ranks could not meet.</summary>
public sealed class NoNetworkApp() : StrataApp(StorageKind.Sqlite, new Dictionary<string, string?> { ["Runtime:Local:Sandbox:Network"] = "none" });

public sealed class GangWithoutNetworkTests(NoNetworkApp app) : IClassFixture<NoNetworkApp>
{
    [SkippableFact]
    public async Task Without_the_hosts_network_a_distributed_job_is_a_400_and_a_single_worker_still_runs()
    {
        Skip.IfNot(File.Exists("/usr/bin/bwrap"), "bubblewrap is not installed (scripts/test installs it)");
        var (_, client) = await app.TenantClientAsync("no-network");
        using var _ = client;

        using (var response = await client.PostAsJsonAsync("/v1/jobs/training", new { name = "pair", distributed = new { num_workers = 2 }, entrypoint = "true" }, Http.Json))
        {
            var problem = await Http.ExpectValidationAsync(response, "distributed.num_workers");
            Assert.Contains("at most 1 worker", problem.GetProperty("errors").GetProperty("distributed.num_workers")[0].GetString(), StringComparison.Ordinal);
        }
        using (var list = await client.GetAsync("/v1/jobs/training"))
        {
            Assert.Empty((await Http.ExpectAsync(list, 200)).EnumerateArray());
        }
        var single = await StrataApp.SubmitAsync(client, new { name = "single", entrypoint = "true" });
        Assert.Equal("succeeded", (await StrataApp.WaitForEndAsync(client, single.GetProperty("id").GetString()!)).GetProperty("status").GetString());
    }
}
