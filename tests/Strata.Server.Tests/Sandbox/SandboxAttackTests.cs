using System.Net;
using System.Text;
using System.Text.Json;
using Strata.Server.Tests.Artifacts;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Sandbox;

/// <summary>
/// A hostile tenant member's jobs, submitted through the API to the real local runtime (the server in this
/// process runs as the test's user: root in CI, so every tenant's jobs also run as a user of their own).
/// Each attack must fail while a neighbour job of another tenant keeps running.
/// </summary>
public sealed class SandboxAttackTests(SqliteApp app) : IClassFixture<SqliteApp>
{
    [Fact]
    public async Task A_job_reads_nothing_of_the_platform_or_of_other_tenants_and_cannot_signal_the_server()
    {
        var (neighbourTenant, neighbour) = await app.TenantClientAsync("neighbour");
        var (_, attacker) = await app.TenantClientAsync("attacker");
        using var _ = neighbour;
        using var __ = attacker;

        // The neighbour's secrets: a blob it uploaded and its running attempt's launch.json (which holds its token).
        const string blobContent = "neighbour-secret-blob-7c1e";
        var artifact = await ArtifactApiTests<SqliteApp>.UploadAsync(neighbour, Encoding.UTF8.GetBytes(blobContent), "secret.csv");
        var blob = Path.Combine(app.DataPath, "blobs", neighbourTenant, artifact.GetProperty("id").GetString()!);
        Assert.Equal(blobContent, File.ReadAllText(blob));
        var running = await StartNeighbourAsync(neighbour);
        // A job is "running" from its admission on; its attempt's folder follows a moment later.
        var launch = Path.Combine(app.DataPath, "attempts", neighbourTenant, $"{running}-1", "launch.json");
        await UntilAsync(() => File.Exists(launch), $"{launch} to exist");

        var targets = new[]
        {
            Path.Combine(app.DataPath, "admin-token"), Path.Combine(app.DataPath, "signing-key"), Path.Combine(app.DataPath, "strata.db"),
            blob, launch, "/etc/shadow",
        };
        var server = Environment.ProcessId;
        var script = new StringBuilder();
        foreach (var target in targets)
        {
            script.Append($"if cat '{target}' >/dev/null 2>&1; then echo 'READ {target}'; else echo 'DENIED {target}'; fi\n");
        }
        // The job's own folders are inside the data folder: climbing out of them finds nothing.
        script.Append("cat \"$STRATA_CHECKPOINT_DIR/../../signing-key\" \"$HOME/../../admin-token\" 2>/dev/null && echo 'READ relative'\n");
        script.Append($"ls -a '{Path.Combine(app.DataPath, "attempts")}' | sed 's/^/LISTED /'\n");
        script.Append($"[ -e /proc/{server} ] && echo 'SEES server'; kill -0 {server} 2>/dev/null && echo 'SIGNALS server'\n");
        script.Append("ls /proc | grep -c '^[0-9]' | sed 's/^/PROCESSES /'\n");
        script.Append("for f in /sys/fs/cgroup/memory/cgroup.procs /sys/fs/cgroup/cgroup.procs /sys/fs/cgroup/unified/cgroup.procs; do echo $$ > $f 2>/dev/null && echo \"LEFT via $f\"; done\n");
        script.Append("ls /root /home 2>/dev/null && echo 'SEES home'\n");
        script.Append("touch /usr/planted 2>/dev/null && echo 'WROTE /usr'\n");
        script.Append("grep -E '^(NoNewPrivs|CapEff|CapBnd)' /proc/self/status; id -u | sed 's/^/UID /'\n");
        // Descriptors the job inherited beyond its standard three (a folder's would lead out of the sandbox by "..").
        script.Append("python3 -c \"import os\nfor fd in sorted(map(int, os.listdir('/proc/self/fd'))):\n  try: os.fstat(fd)\n  except OSError: continue\n  if fd > 2: print('INHERITED', fd, os.readlink('/proc/self/fd/%d' % fd))\"\n");
        script.Append("echo END\n");

        var job = await StrataApp.SubmitAsync(attacker, new { name = "attacker", entrypoint = script.ToString() });
        var id = job.GetProperty("id").GetString()!;
        var done = await StrataApp.WaitForEndAsync(attacker, id);
        var output = await LogsAsync(attacker, id);

        Assert.True(done.GetProperty("status").GetString() == "succeeded", $"{done}\n{output}");
        Assert.Contains("END", output, StringComparison.Ordinal);
        foreach (var target in targets)
        {
            Assert.Contains($"DENIED {target}", output, StringComparison.Ordinal);
        }
        foreach (var leak in new[] { "READ ", "SEES ", "SIGNALS ", "LEFT ", "WROTE ", "INHERITED ", $"LISTED {neighbourTenant}", app.AdminToken, Convert.ToBase64String(app.SigningKey) })
        {
            Assert.False(output.Contains(leak, StringComparison.Ordinal), $"the job's output has '{leak}':\n{output}");
        }
        Assert.Contains("NoNewPrivs:\t1", output, StringComparison.Ordinal);
        Assert.Contains("CapEff:\t0000000000000000", output, StringComparison.Ordinal);
        Assert.Contains("CapBnd:\t0000000000000000", output, StringComparison.Ordinal);
        if (Environment.IsPrivilegedProcess)
        {
            // A root server gives each tenant a user of its own: never root, never the neighbour's.
            var uid = output.Split('\n').Single(l => l.StartsWith("UID ", StringComparison.Ordinal))[4..];
            Assert.NotEqual("0", uid);
            Assert.NotEqual(uid, await UidOfAsync(neighbour, running));
        }
        await AssertStillRunningAsync(neighbour, running);
    }

    [SkippableFact]
    public async Task A_job_that_tries_to_leave_its_cgroup_is_still_killed_at_its_memory_limit()
    {
        Skip.IfNot(File.Exists("/usr/bin/python3"), "python3 allocates the memory");
        var (_, neighbour) = await app.TenantClientAsync("neighbour");
        var (greedyTenant, attacker) = await app.TenantClientAsync("greedy");
        using var _ = neighbour;
        using var __ = attacker;
        var running = await StartNeighbourAsync(neighbour);

        var job = await StrataApp.SubmitAsync(attacker, new
        {
            name = "greedy",
            compute = new { cpu_cores = 1, memory_gb = 1 },
            retry = new { max_attempts = 1 },
            entrypoint = "for f in /sys/fs/cgroup/memory/cgroup.procs /sys/fs/cgroup/cgroup.procs; do echo $$ > $f; done; " +
                         "python3 -c \"b = bytearray(3 * 1024**3); b[::4096] = b'x' * len(b[::4096]); print('ALLOCATED', len(b))\"",
        });
        var id = job.GetProperty("id").GetString()!;
        var done = await StrataApp.WaitForEndAsync(attacker, id, TimeSpan.FromMinutes(2));
        var output = await LogsAsync(attacker, id);
        var workerLog = File.ReadAllText(Path.Combine(app.DataPath, "attempts", greedyTenant, $"{id}-1", "worker.log"));
        Skip.If(workerLog.Contains("measured-only", StringComparison.Ordinal), $"no writable cgroup hierarchy here: {workerLog.Split('\n')[0]}");

        Assert.DoesNotContain("ALLOCATED", output, StringComparison.Ordinal);
        Assert.Equal("failed", done.GetProperty("status").GetString());
        Assert.Equal("out_of_memory", done.GetProperty("status_reason").GetString());
        await AssertStillRunningAsync(neighbour, running);
    }

    [Fact]
    public async Task A_link_a_job_leaves_in_its_output_does_not_show_the_data_folder_to_a_later_job()
    {
        var (_, attacker) = await app.TenantClientAsync("linker");
        using var _ = attacker;
        // The first job plants links in the output folder it may write: to the data folder, and to its signing key.
        var planter = await StrataApp.SubmitAsync(attacker, new
        {
            name = "planter",
            entrypoint = $"ln -s '{app.DataPath}' \"$MODEL_OUTPUT_PATH/data\" && ln -s '{Path.Combine(app.DataPath, "signing-key")}' \"$MODEL_OUTPUT_PATH/key\"",
        });
        var planted = await StrataApp.WaitForEndAsync(attacker, planter.GetProperty("id").GetString()!);
        Assert.Equal("succeeded", planted.GetProperty("status").GetString());
        var output = planted.GetProperty("spec").GetProperty("model_output_path").GetString()!;

        foreach (var link in new[] { "data", "key" })
        {
            // The API checks the path as named (it is in the tenant's area); the sandbox checks where it leads.
            var job = await StrataApp.SubmitAsync(attacker, new
            {
                name = "reader",
                data_path = Path.Combine(output, link),
                retry = new { max_attempts = 1 },
                entrypoint = "cat \"$DATA_PATH\" \"$DATA_PATH/signing-key\" 2>/dev/null; ls \"$DATA_PATH\"",
            });
            var id = job.GetProperty("id").GetString()!;
            var done = await StrataApp.WaitForEndAsync(attacker, id);
            var logs = await LogsAsync(attacker, id);
            Assert.Equal("failed", done.GetProperty("status").GetString());
            Assert.Equal("start_failed", done.GetProperty("status_reason").GetString());
            Assert.Contains("leads through a symbolic link", done.GetProperty("error_message").GetString(), StringComparison.Ordinal);
            Assert.DoesNotContain(Convert.ToBase64String(app.SigningKey), logs, StringComparison.Ordinal);
        }
    }

    /// <summary>Another tenant's job that runs until cancelled, printing a heartbeat.</summary>
    private static async Task<string> StartNeighbourAsync(HttpClient neighbour)
    {
        var job = await StrataApp.SubmitAsync(neighbour, new { name = "neighbour", entrypoint = "id -u | sed 's/^/UID /'; while true; do echo alive; sleep 0.5; done" });
        var id = job.GetProperty("id").GetString()!;
        await StrataApp.WaitForStatusAsync(neighbour, id, "running");
        return id;
    }

    private static async Task AssertStillRunningAsync(HttpClient neighbour, string id)
    {
        using (var response = await neighbour.GetAsync($"/v1/jobs/training/{id}"))
        {
            var job = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal("running", job.GetProperty("status").GetString());
        }
        using var cancelled = await neighbour.DeleteAsync($"/v1/jobs/training/{id}");
        Assert.Equal(HttpStatusCode.NoContent, cancelled.StatusCode);
    }

    private static async Task UntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"waited 30 s for {what}");
            await Task.Delay(50);
        }
    }

    private static async Task<string> UidOfAsync(HttpClient client, string id)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var line = (await LogsAsync(client, id)).Split('\n').FirstOrDefault(l => l.StartsWith("UID ", StringComparison.Ordinal));
            if (line is not null) return line[4..];
            Assert.True(DateTime.UtcNow < deadline, "the neighbour printed its uid");
            await Task.Delay(100);
        }
    }

    private static async Task<string> LogsAsync(HttpClient client, string id)
    {
        using var logs = await client.GetAsync($"/v1/jobs/training/{id}/logs");
        return await logs.Content.ReadAsStringAsync();
    }
}
