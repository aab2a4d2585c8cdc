using System.Text.Json;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Sandbox;

/// <summary>An app whose attempts keep at most 1 MiB of output.</summary>
public sealed class SmallLogsApp : StrataApp
{
    public const long MaxLogBytes = 1 << 20;

    public SmallLogsApp() : base(StorageKind.Sqlite, new Dictionary<string, string?> { ["Jobs:MaxLogBytes"] = MaxLogBytes.ToString(System.Globalization.CultureInfo.InvariantCulture) }) { }
}

/// <summary>Limits that hold, through the API and the real worker: processes, disk and output.</summary>
public sealed class ResourceLimitTests(SmallLogsApp app) : IClassFixture<SmallLogsApp>
{
    private string AttemptFolder(string tenant, string id) => Path.Combine(app.DataPath, "attempts", tenant, $"{id}-1");

    private JsonElement LaunchFile(string tenant, string id)
    {
        using var launch = JsonDocument.Parse(File.ReadAllText(Path.Combine(AttemptFolder(tenant, id), "launch.json")));
        return launch.RootElement.Clone();
    }

    [SkippableFact]
    public async Task A_fork_bomb_fails_at_its_max_processes_and_leaves_no_process_behind()
    {
        var (tenant, client) = await app.TenantClientAsync("forks");
        using var _ = client;
        var sleep = $"30.{Random.Shared.Next(100_000, 999_999)}";
        var job = await StrataApp.SubmitAsync(client, new
        {
            name = "fork-bomb",
            // The pids the job sees are its sandbox's own: its sleeps are found on this machine by their unique duration.
            entrypoint = $"for i in $(seq 10000); do sleep {sleep} & echo $! >> \"$STRATA_CHECKPOINT_DIR/pids\"; done; echo never",
            compute = new { max_processes = 64 },
        });
        var id = job.GetProperty("id").GetString()!;
        Assert.Equal(64, job.GetProperty("spec").GetProperty("compute").GetProperty("max_processes").GetInt32());

        var done = await StrataApp.WaitForEndAsync(client, id);

        var folder = AttemptFolder(tenant, id);
        var limits = File.ReadLines(Path.Combine(folder, "worker.log")).First();
        Skip.IfNot(limits.Contains("processes 64;", StringComparison.Ordinal), $"no pids controller here ({limits})");
        Assert.Equal(64, LaunchFile(tenant, id).GetProperty("max_processes").GetInt32());
        Assert.Equal("failed", done.GetProperty("status").GetString());
        Assert.Equal("exited_with_error", done.GetProperty("status_reason").GetString());
        Assert.Contains("refused at its limit of 64 processes", done.GetProperty("error_message").GetString(), StringComparison.Ordinal);
        var pids = File.ReadAllLines(Path.Combine(app.DataPath, "checkpoints", id, "pids")).Select(int.Parse).ToArray();
        Assert.InRange(pids.Length, 1, 64);
        Assert.Empty(Process.ProcFs.ProcessesMentioning(sleep));
    }

    [Fact]
    public async Task A_job_that_fills_its_checkpoint_folder_past_disk_gb_fails_with_disk_limit_exceeded_and_is_not_retried()
    {
        var (tenant, client) = await app.TenantClientAsync("disk");
        using var _ = client;
        var job = await StrataApp.SubmitAsync(client, new
        {
            name = "disk-filler",
            entrypoint = "head -c 3000000 /dev/zero > \"$STRATA_CHECKPOINT_DIR/ckpt\"; sleep 60",
            compute = new { disk_gb = 0.001 },
        });
        var id = job.GetProperty("id").GetString()!;

        var done = await StrataApp.WaitForEndAsync(client, id);

        Assert.Equal("failed", done.GetProperty("status").GetString());
        Assert.Equal("disk_limit_exceeded", done.GetProperty("status_reason").GetString());
        Assert.StartsWith("exceeded its disk limit of 1073741 bytes: ", done.GetProperty("error_message").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, done.GetProperty("attempts").GetInt32());
        var launch = LaunchFile(tenant, id);
        var environment = launch.GetProperty("environment");
        Assert.Equal(1073741, launch.GetProperty("disk_bytes").GetInt64());
        Assert.Equal(
            [Path.Combine(AttemptFolder(tenant, id), "work"), environment.GetProperty("STRATA_CHECKPOINT_DIR").GetString(), environment.GetProperty("MODEL_OUTPUT_PATH").GetString()],
            launch.GetProperty("disk_paths").EnumerateArray().Select(p => p.GetString()));
    }

    [Fact]
    public async Task Output_beyond_max_log_bytes_keeps_its_head_and_tail_and_its_metric_lines_are_recorded()
    {
        var (tenant, client) = await app.TenantClientAsync("chatty");
        using var _ = client;
        // About 200 MB: 2 x 2.5 million lines of 39 bytes, a metric line between.
        var job = await StrataApp.SubmitAsync(client, new
        {
            name = "chatty",
            entrypoint = "echo first line; yes 'some output of the job, over and over' 2>/dev/null | head -n 2500000; " +
                "echo 'STRATA_METRIC {\"name\": \"loss\", \"value\": 0.25, \"step\": 7}'; " +
                "yes 'more output of the job, over and over' 2>/dev/null | head -n 2500000; echo last line",
        });
        var id = job.GetProperty("id").GetString()!;

        var done = await StrataApp.WaitForEndAsync(client, id);

        Assert.Equal("succeeded", done.GetProperty("status").GetString());
        Assert.Equal(SmallLogsApp.MaxLogBytes, LaunchFile(tenant, id).GetProperty("max_log_bytes").GetInt64());
        using (var logs = await client.GetAsync($"/v1/jobs/training/{id}/logs"))
        {
            Assert.Equal(200, (int)logs.StatusCode);
            var text = await logs.Content.ReadAsStringAsync();
            Assert.InRange(text.Length, SmallLogsApp.MaxLogBytes / 2, SmallLogsApp.MaxLogBytes);
            Assert.StartsWith("first line\nsome output of the job, over and over\n", text, StringComparison.Ordinal);
            Assert.Matches(@"\n\[strata: \d+ bytes \(\d+ lines\) of output dropped\]\nmore output of the job, over and over\n", text);
            Assert.EndsWith("more output of the job, over and over\nlast line\n", text, StringComparison.Ordinal);
        }

        // The metric line was printed in the middle, where the output was dropped: it is recorded all the same, once.
        await StrataApp.WaitForAsync(client, id, _ => !app.LogMetricsPending(id));
        using var metrics = await client.GetAsync($"/v1/jobs/training/{id}/metrics");
        var point = Assert.Single((await Http.ExpectAsync(metrics, 200)).EnumerateArray());
        Assert.Equal("loss", point.GetProperty("name").GetString());
        Assert.Equal(7, point.GetProperty("step").GetInt64());
        Assert.Equal(0.25, point.GetProperty("value").GetDouble());
    }
}
