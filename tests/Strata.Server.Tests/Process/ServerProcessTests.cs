using System.Net;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Strata.Server.Tests.Process;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ServerProcessCollection
{
    public const string Name = "server processes";
}

/// <summary>
/// The built server as a real process, the way an operator sees it: jobs as real processes, SIGKILL, a
/// restart on the same data folder. Every wait is on a condition with a generous time-out.
/// </summary>
[Collection(ServerProcessCollection.Name)]
public sealed class ServerProcessTests
{
    private static string Id(JsonElement job) => job.GetProperty("id").GetString()!;

    private static string? Text(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary>A JSON string literal of <paramref name="value"/>.</summary>
    private static string Json(string value) => JsonSerializer.Serialize(value);

    private static string MarkerEnv(ServerProcess server) => $$"""{"MARKER_DIR":{{Json(server.MarkerPath)}}}""";

    [Fact]
    public async Task Cancelling_a_running_job_stops_its_shell_and_the_children_it_started()
    {
        using var server = new ServerProcess();
        await server.StartAsync();
        using var api = await server.CreateTenantAsync("team-a");

        // The child's pid as the job sees it is its sandbox's own: the test finds it on the host by its unique command line.
        var childSleep = $"300.{Random.Shared.Next(100_000, 999_999)}";
        var job = await api.SubmitAsync($$"""
            {"name":"with-child","compute":{"cpu_cores":1,"memory_gb":1},
             "entrypoint":{{Json($"sleep {childSleep} & sleep 300")}}}
            """);
        var id = Id(job);
        await api.WaitForStatusAsync(id, "running");
        var (_, shellPid) = await server.SupervisorAsync("team-a", id, 1);
        var childPid = 0;
        await Wait.UntilAsync(() => Task.FromResult((childPid = ProcFs.ProcessesMentioning(childSleep).FirstOrDefault()) != 0), "the job's child", server);
        Assert.True(ProcFs.IsAlive(shellPid), "the job's shell runs before the cancel");
        Assert.True(ProcFs.IsAlive(childPid), "the job's background child runs before the cancel");

        using (var cancelled = await api.SendAsync(HttpMethod.Delete, $"/v1/jobs/training/{id}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, cancelled.StatusCode);
        }

        var after = await api.WaitForStatusAsync(id, "cancelled");
        Assert.Equal("cancelled_by_user", Text(after, "status_reason"));
        await Wait.UntilAsync(async () =>
        {
            var attempts = await api.AttemptsAsync(id);
            return attempts.GetArrayLength() == 1 && Text(attempts[0], "status") == "cancelled";
        }, "the attempt to be recorded as cancelled", server);
        await Wait.UntilAsync(() => Task.FromResult(!ProcFs.IsAlive(shellPid) && !ProcFs.IsAlive(childPid)),
            () => $"the job's shell ({shellPid}: {(ProcFs.IsAlive(shellPid) ? "alive" : "gone")}) and child ({childPid}: {(ProcFs.IsAlive(childPid) ? "alive" : "gone")}) to be gone", server);
        var attempt = (await api.AttemptsAsync(id))[0];
        Assert.Equal("cancelled_by_user", Text(attempt, "reason"));
    }

    [Fact]
    public async Task After_a_kill_9_of_the_server_running_jobs_are_re_adopted_lost_ones_fail_and_nothing_runs_twice()
    {
        using var server = new ServerProcess(new Dictionary<string, string>
        {
            ["Runtime__Local__CpuCores"] = "2",
            ["Runtime__Local__MemoryGb"] = "8",
        });
        await server.StartAsync();
        using var api = await server.CreateTenantAsync("team-a");
        var release = Path.Combine(server.MarkerPath, "release-a");

        // A waits for a file the test creates after the restart, so it is surely re-adopted while running.
        var a = Id(await api.SubmitAsync($$"""
            {"name":"job-a","compute":{"cpu_cores":1,"memory_gb":1},"env_vars":{{MarkerEnv(server)}},
             "entrypoint":{{Json("echo $STRATA_ATTEMPT >> \"$MARKER_DIR/a.txt\"; while [ ! -f \"$MARKER_DIR/release-a\" ]; do sleep 0.1; done; echo done > \"$MODEL_OUTPUT_PATH/a.txt\"")}}}
            """));
        var b = Id(await api.SubmitAsync($$"""
            {"name":"job-b","compute":{"cpu_cores":1,"memory_gb":1},"retry":{"max_attempts":1},"env_vars":{{MarkerEnv(server)}},
             "entrypoint":{{Json("echo $STRATA_ATTEMPT >> \"$MARKER_DIR/b.txt\"; sleep 300")}}}
            """));
        await api.WaitForStatusAsync(a, "running");
        await api.WaitForStatusAsync(b, "running");
        var c = Id(await api.SubmitAsync($$"""
            {"name":"job-c","compute":{"cpu_cores":1,"memory_gb":1},"env_vars":{{MarkerEnv(server)}},
             "entrypoint":{{Json("echo $STRATA_ATTEMPT >> \"$MARKER_DIR/c.txt\"")}}}
            """));
        var (aWorker, aJob) = await server.SupervisorAsync("team-a", a, 1);
        var (bWorker, bJob) = await server.SupervisorAsync("team-a", b, 1);
        Assert.Equal("pending", Text(await api.JobAsync(c), "status"));
        var submitted = new[] { a, b, c };

        // The crash: the server alone. Its workers are in their own sessions and outlive it.
        server.KillServer();
        Assert.True(ProcFs.IsAlive(aWorker) && ProcFs.IsAlive(aJob), "A's worker and job survive the server's death");
        Assert.True(ProcFs.IsAlive(bWorker) && ProcFs.IsAlive(bJob), "B's worker and job survive the server's death");
        // While it is down, B's processes die too.
        ProcFs.Kill(bWorker);
        ProcFs.Kill(bJob);
        await Wait.UntilAsync(() => Task.FromResult(!ProcFs.IsAlive(bWorker) && !ProcFs.IsAlive(bJob)), "B's worker and job to die");

        await server.StartAsync();

        // B: its process vanished while nobody watched; it fails with a reason and is not retried (max_attempts 1).
        var failed = await api.WaitForStatusAsync(b, "failed");
        var bAttempts = await api.AttemptsAsync(b);
        Assert.Equal(1, bAttempts.GetArrayLength());
        Assert.Equal("failed", Text(bAttempts[0], "status"));
        Assert.True(Text(failed, "status_reason") == "supervisor_lost" || (Text(bAttempts[0], "error_message") ?? "").Contains("vanished", StringComparison.Ordinal),
            $"B says why it failed: {failed} / {bAttempts[0]}");
        Assert.Equal("supervisor_lost", Text(bAttempts[0], "reason"));
        Assert.False(string.IsNullOrEmpty(Text(failed, "error_message")), $"B's error_message says what happened: {failed}");

        // A: re-adopted and still running, with the same worker; once released, it finishes normally.
        Assert.Equal("running", Text(await api.JobAsync(a), "status"));
        Assert.True(ProcFs.IsAlive(aWorker), "A's original worker still supervises it");
        await File.WriteAllTextAsync(release, "");
        var done = await api.WaitForStatusAsync(a, "succeeded");
        Assert.Equal(1, (await api.AttemptsAsync(a)).GetArrayLength());
        Assert.Equal(1, done.GetProperty("attempts").GetInt32());
        var output = Text(done.GetProperty("spec"), "model_output_path")!;
        Assert.Equal("done", (await File.ReadAllTextAsync(Path.Combine(output, "a.txt"))).Trim());
        Assert.Equal(["1"], server.MarkerLines("a.txt"));
        Assert.Equal(["1"], server.MarkerLines("b.txt"));

        // C: queued behind the full machine before the crash, it runs once capacity frees, exactly once.
        await api.WaitForStatusAsync(c, "succeeded");
        Assert.Equal(1, (await api.AttemptsAsync(c)).GetArrayLength());
        Assert.Equal(["1"], server.MarkerLines("c.txt"));

        // Nothing acknowledged was lost.
        var listed = (await api.ListAsync()).EnumerateArray().Select(Id).ToHashSet();
        Assert.Superset(submitted.ToHashSet(), listed);
    }

    [Fact]
    public async Task After_a_kill_9_of_the_server_every_rank_of_a_running_gang_is_re_adopted_and_runs_once()
    {
        using var server = new ServerProcess(new Dictionary<string, string>
        {
            ["Runtime__Local__CpuCores"] = "2",
            ["Runtime__Local__MemoryGb"] = "8",
        });
        await server.StartAsync();
        using var api = await server.CreateTenantAsync("team-a");

        // Both ranks wait for a file the test creates after the restart, so they are surely re-adopted while running.
        var id = Id(await api.SubmitAsync($$"""
            {"name":"gang","compute":{"cpu_cores":1,"memory_gb":1},"distributed":{"num_workers":2},"env_vars":{{MarkerEnv(server)}},
             "entrypoint":{{Json("echo $STRATA_ATTEMPT >> \"$MARKER_DIR/rank-$RANK.txt\"; while [ ! -f \"$MARKER_DIR/release-gang\" ]; do sleep 0.1; done; echo rank $RANK released")}}}
            """));
        await api.WaitForStatusAsync(id, "running");
        var (worker0, job0) = await server.SupervisorAsync("team-a", id, 1);
        var rank1 = Path.Combine(server.AttemptFolder("team-a", id, 1), "ranks", "1", "supervisor.json");
        await Wait.UntilAsync(() => Task.FromResult(File.Exists(rank1)), "rank 1's supervisor.json", server);
        using var rank1Supervisor = JsonDocument.Parse(File.ReadAllText(rank1));
        var worker1 = rank1Supervisor.RootElement.GetProperty("worker_pid").GetInt32();

        server.KillServer();
        Assert.True(ProcFs.IsAlive(worker0) && ProcFs.IsAlive(job0) && ProcFs.IsAlive(worker1), "the gang survives the server's death");
        await server.StartAsync();

        Assert.Equal("running", Text(await api.JobAsync(id), "status"));
        Assert.True(ProcFs.IsAlive(worker0) && ProcFs.IsAlive(worker1), "the gang's original workers still supervise it");
        await File.WriteAllTextAsync(Path.Combine(server.MarkerPath, "release-gang"), "");
        var done = await api.WaitForStatusAsync(id, "succeeded");
        Assert.Equal(1, done.GetProperty("attempts").GetInt32());
        Assert.Equal(["1"], server.MarkerLines("rank-0.txt"));
        Assert.Equal(["1"], server.MarkerLines("rank-1.txt"));
    }

    [Fact]
    public async Task A_job_acknowledged_just_before_a_kill_9_is_there_after_the_restart_and_runs_exactly_once()
    {
        using var server = new ServerProcess();
        await server.StartAsync();
        using var api = await server.CreateTenantAsync("team-a");

        var id = Id(await api.SubmitAsync($$"""
            {"name":"acknowledged","compute":{"cpu_cores":1,"memory_gb":1},"env_vars":{{MarkerEnv(server)}},
             "entrypoint":{{Json("echo $STRATA_ATTEMPT >> \"$MARKER_DIR/once.txt\"; sleep 1")}}}
            """));
        server.KillServer();
        await server.StartAsync();

        var job = await api.WaitForStatusAsync(id, "succeeded");
        Assert.Equal(1, job.GetProperty("attempts").GetInt32());
        Assert.Equal(1, (await api.AttemptsAsync(id)).GetArrayLength());
        Assert.Equal(["1"], server.MarkerLines("once.txt"));
        Assert.Contains(id, (await api.ListAsync()).EnumerateArray().Select(Id));
    }

    [Fact]
    public async Task Each_of_many_short_jobs_runs_exactly_once_while_the_reconciler_resyncs_every_second()
    {
        using var server = new ServerProcess(new Dictionary<string, string> { ["Runtime__Local__CpuCores"] = "4" });
        await server.StartAsync();
        using var api = await server.CreateTenantAsync("team-a");

        var ids = new List<string>();
        for (var i = 0; i < 100; i++)
        {
            ids.Add(Id(await api.SubmitAsync($$"""
                {"name":"short-{{i}}","compute":{"cpu_cores":1,"memory_gb":1},"env_vars":{{MarkerEnv(server)}},
                 "entrypoint":{{Json("echo $STRATA_JOB_ID >> \"$MARKER_DIR/runs.txt\"")}}}
                """)));
        }

        var retried = new List<string>();
        foreach (var id in ids)
        {
            var job = await api.WaitForStatusAsync(id, "succeeded");
            if (job.GetProperty("attempts").GetInt32() != 1) retried.Add($"{id}: {await api.AttemptsAsync(id)}");
        }
        var ranTwice = server.MarkerLines("runs.txt").GroupBy(l => l).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(ranTwice.Count == 0, $"jobs that ran more than once: {string.Join(", ", ranTwice)}; retried: {string.Join("\n", retried)}");
        Assert.True(retried.Count == 0, $"jobs retried though nothing failed:\n{string.Join("\n", retried)}");
        Assert.Equal(ids.Order(StringComparer.Ordinal), server.MarkerLines("runs.txt").Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_job_queued_behind_a_full_machine_is_pending_waiting_for_capacity_with_a_queue_position()
    {
        using var server = new ServerProcess(new Dictionary<string, string> { ["Runtime__Local__CpuCores"] = "1" });
        await server.StartAsync();
        using var api = await server.CreateTenantAsync("team-a");

        var running = Id(await api.SubmitAsync("""{"name":"fills-it","compute":{"cpu_cores":1,"memory_gb":1},"entrypoint":"sleep 300"}"""));
        await api.WaitForStatusAsync(running, "running");
        var queued = Id(await api.SubmitAsync("""{"name":"waits","compute":{"cpu_cores":1,"memory_gb":1},"entrypoint":"true"}"""));

        JsonElement job = default;
        await Wait.UntilAsync(async () =>
        {
            job = await api.JobAsync(queued);
            return Text(job, "status_reason") == "waiting_for_capacity";
        }, () => $"the queued job to say it waits for capacity: {job}", server);
        Assert.Equal("pending", Text(job, "status"));
        Assert.Equal(1, job.GetProperty("queue_position").GetInt32());
    }

    [Fact]
    public async Task The_data_folder_keeps_secrets_private_and_the_database_in_wal_mode()
    {
        using var server = new ServerProcess();
        await server.StartAsync();

        const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(Path.Combine(server.DataPath, "admin-token")));
        Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(Path.Combine(server.DataPath, "signing-key")));
        Assert.Equal(OwnerReadWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(server.DataPath));

        var database = Path.Combine(server.DataPath, "strata.db");
        Assert.True(File.Exists(database), "strata.db is in the data folder");
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("wal", (string?)await command.ExecuteScalarAsync());
    }
}
