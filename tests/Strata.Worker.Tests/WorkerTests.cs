using System.Diagnostics;
using Strata.Core.Runtime.Local;

namespace Strata.Worker.Tests;

/// <summary>Runs the real <c>strata-worker run</c> as a process against temporary attempt folders.</summary>
public sealed class WorkerTests
{
    private const int SIGKILL = 9;
    private const int SIGTERM = 15;

    [Fact]
    public async Task The_job_sees_exactly_the_launch_environment()
    {
        using var attempt = new TestAttempt();
        attempt.Write(TestAttempt.Launch("/usr/bin/env > env.txt", new()
        {
            ["STRATA_JOB_ID"] = "job-1",
            ["HYPERPARAM_LR"] = "0.01",
            ["WITH_SPACES"] = "a b  c",
        }));
        Assert.NotNull(Environment.GetEnvironmentVariable("PATH"));

        Assert.Equal(0, await attempt.RunAsync());

        var seen = File.ReadAllLines(attempt.WorkFile("env.txt"))
            .Where(l => !l.StartsWith("PWD=", StringComparison.Ordinal)) // /bin/sh sets PWD itself
            .Order(StringComparer.Ordinal);
        Assert.Equal(["HYPERPARAM_LR=0.01", "STRATA_JOB_ID=job-1", "WITH_SPACES=a b  c"], seen);
        Assert.Equal(Reasons.Completed, attempt.Result.Reason);
    }

    [Theory]
    [InlineData("exit 0", 0, "completed", null)]
    [InlineData("exit 3", 3, "exited_with_error", "exited with code 3")]
    [InlineData("kill -9 $$", 137, "exited_with_error", "exited with code 137 (signal 9)")]
    public async Task The_job_s_exit_becomes_the_result_s_reason(string entrypoint, int exitCode, string reason, string? message)
    {
        using var attempt = new TestAttempt();
        attempt.Write(TestAttempt.Launch(entrypoint));

        Assert.Equal(0, await attempt.RunAsync());

        var result = attempt.Result;
        Assert.Equal(exitCode, result.ExitCode);
        Assert.Equal(reason, result.Reason);
        Assert.Equal(message, result.Message);
        Assert.Equal(exitCode > 128 ? exitCode - 128 : null, result.Signal);
        Assert.NotNull(result.StartedAt);
        Assert.True(result.FinishedAt >= result.StartedAt);
    }

    [Fact]
    public async Task Output_log_receives_stdout_and_stderr_line_by_line()
    {
        using var attempt = new TestAttempt();
        attempt.Write(TestAttempt.Launch("for i in 1 2 3; do echo out-$i; echo err-$i >&2; done; printf 'no newline'"));

        await attempt.RunAsync();

        var lines = attempt.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["out-1", "out-2", "out-3"], lines.Where(l => l.StartsWith("out-", StringComparison.Ordinal)));
        Assert.Equal(["err-1", "err-2", "err-3"], lines.Where(l => l.StartsWith("err-", StringComparison.Ordinal)));
        Assert.Contains("no newline", lines);
        Assert.Equal(7, lines.Length);
    }

    [Fact]
    public async Task Supervisor_json_and_the_limits_line_are_written_while_the_job_runs()
    {
        using var attempt = new TestAttempt();
        attempt.Write(TestAttempt.Launch("echo started; while [ ! -f go ]; do sleep 0.05; done"));
        attempt.Start();

        await TestAttempt.WaitUntil(() => attempt.Output.Contains("started", StringComparison.Ordinal), "the job prints");
        await TestAttempt.WaitUntil(() => attempt.Supervisor is not null, "supervisor.json is written");
        // The limits line follows supervisor.json: the server waits for the latter, so it goes first.
        await TestAttempt.WaitUntil(() => attempt.WorkerLog.Contains("job started", StringComparison.Ordinal), "the worker log says the job started");
        var supervisor = attempt.Supervisor!;
        Assert.Equal(attempt.Worker!.Id, supervisor.WorkerPid);
        Assert.True(TestAttempt.IsAlive(supervisor.JobPid));
        Assert.StartsWith($"limits: {supervisor.LimitMode}", attempt.WorkerLog, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(attempt.Directory, AttemptFiles.Result)));

        File.WriteAllText(attempt.WorkFile("go"), "");
        await attempt.Worker.WaitForExitAsync();
        Assert.Equal(Reasons.Completed, attempt.Result.Reason);
        Assert.Equal(supervisor.LimitMode, attempt.Result.LimitMode);
    }

    [Fact]
    public async Task A_job_past_its_time_limit_is_stopped_as_timed_out()
    {
        using var attempt = new TestAttempt();
        attempt.Write(TestAttempt.Launch("sleep 120") with { TimeoutSeconds = 1, StopGraceSeconds = 1 });

        Assert.Equal(0, await attempt.RunAsync());

        var result = attempt.Result;
        Assert.Equal(Reasons.TimedOut, result.Reason);
        Assert.Equal(SIGTERM, result.Signal);
    }

    /// <summary>
    /// A child, a grandchild, a double-forked orphan, one in a session of its own (and an orphaned
    /// one too) and one that ignores SIGTERM: all must be gone once the worker has been asked to stop.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task SIGTERM_to_the_worker_stops_every_process_of_the_attempt(bool enforceLimits)
    {
        using var attempt = new TestAttempt();
        Directory.CreateDirectory(attempt.WorkDirectory);
        File.WriteAllText(attempt.WorkFile("job.sh"), """
            sleep 300 & echo $! >> pids
            sh -c 'sleep 300 & echo $! >> pids; wait' &
            ( ( sleep 300 & echo $! >> pids ) & )
            setsid sh -c 'echo $$ >> pids; exec sleep 300' &
            ( setsid sh -c 'echo $$ >> pids; exec sleep 300' & )
            sh -c 'trap "" TERM; echo $$ >> pids; while :; do sleep 1; done' &
            wait
            """);
        attempt.Write(TestAttempt.Launch("exec sh job.sh") with { EnforceLimits = enforceLimits, StopGraceSeconds = 1 });
        var worker = attempt.Start();
        await TestAttempt.WaitUntil(() => attempt.PidsIn("pids").Length == 6, "the job has started its six processes");
        var pids = attempt.PidsIn("pids");
        Assert.All(pids, pid => Assert.True(TestAttempt.IsAlive(pid)));

        TestAttempt.Signal(worker.Id, SIGTERM);
        await worker.WaitForExitAsync();

        Assert.Equal(0, worker.ExitCode);
        Assert.Equal(Reasons.Killed, attempt.Result.Reason);
        Assert.DoesNotContain(pids, TestAttempt.IsAlive);
        Assert.False(TestAttempt.IsAlive(attempt.Supervisor!.JobPid));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Processes_the_job_leaves_behind_are_stopped_when_it_exits(bool enforceLimits)
    {
        using var attempt = new TestAttempt();
        attempt.Write(TestAttempt.Launch("setsid sleep 300 & echo $! > daemon; ( (sleep 300 & echo $! > orphan) & ); exit 0")
            with { StopGraceSeconds = 1, EnforceLimits = enforceLimits });

        Assert.Equal(0, await attempt.RunAsync());

        Assert.Equal(Reasons.Completed, attempt.Result.Reason);
        var leftovers = attempt.PidsIn("daemon").Concat(attempt.PidsIn("orphan")).ToArray();
        Assert.Equal(2, leftovers.Length);
        Assert.DoesNotContain(leftovers, TestAttempt.IsAlive);
    }

    [SkippableFact]
    public async Task A_job_beyond_its_memory_limit_is_reported_out_of_memory()
    {
        Skip.IfNot(File.Exists("/usr/bin/perl"), "perl is needed to allocate memory");
        using var attempt = new TestAttempt();
        attempt.Write(TestAttempt.Launch("/usr/bin/perl -e '$x = \"a\" x (400 * 1024 * 1024); print length($x)'")
            with { MemoryBytes = 64L << 20 });

        Assert.Equal(0, await attempt.RunAsync());

        var result = attempt.Result;
        Skip.If(result.LimitMode == LimitModes.MeasuredOnly, $"no writable cgroup hierarchy here ({attempt.WorkerLog.Split('\n')[0]})");
        Assert.StartsWith("limits: cgroup-", attempt.WorkerLog, StringComparison.Ordinal);
        Assert.Equal(Reasons.OutOfMemory, result.Reason);
        Assert.Equal(SIGKILL, result.Signal);
        Assert.InRange(result.PeakMemoryBytes ?? 0, 32L << 20, 64L << 20);
        // Sizes as the user gave them (memory_gb), with the peak beside the limit: 64 MiB is 0.06 GB.
        Assert.StartsWith("killed for exceeding its memory limit of 0.06 GB (peak 0.0", result.Message, StringComparison.Ordinal);
        Assert.Contains("compute.memory_gb", result.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Peak_memory_and_cpu_time_are_measured(bool enforceLimits)
    {
        Skip.IfNot(File.Exists("/usr/bin/perl"), "perl is needed to burn cpu");
        using var attempt = new TestAttempt();
        attempt.Write(TestAttempt.Launch(
            // A fixed amount of work, not of wall time: on a busy machine a second of wall time may be little cpu.
            "/usr/bin/perl -e '$x = \"a\" x (100 * 1024 * 1024); $i = 0; $i++ while $i < 60000000'")
            with { EnforceLimits = enforceLimits });

        Assert.Equal(0, await attempt.RunAsync());

        var result = attempt.Result;
        Assert.Equal(Reasons.Completed, result.Reason);
        Assert.InRange(result.CpuSeconds ?? 0, 0.3, 60);
        Assert.InRange(result.PeakMemoryBytes ?? 0, 100L << 20, 4L << 30);
        if (!enforceLimits)
        {
            Assert.Equal(LimitModes.MeasuredOnly, result.LimitMode);
            Assert.StartsWith("limits: measured-only", attempt.WorkerLog, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_worker_survives_the_death_of_its_parent_s_whole_session()
    {
        using var attempt = new TestAttempt();
        attempt.Write(TestAttempt.Launch("while [ ! -f go ]; do sleep 0.05; done; echo survived"));
        var (fileName, arguments) = TestAttempt.WorkerCommand();
        var workerPidFile = Path.Combine(attempt.Root, "worker.pid");
        // The parent runs in a session of its own, so the whole session can be killed, as with a server
        // and everything in its process group.
        var launcher = new ProcessStartInfo("/usr/bin/setsid") { UseShellExecute = false };
        foreach (var argument in (string[])["/bin/sh", "-c", "\"$@\" & echo $! > \"$0\"; sleep 300", workerPidFile, fileName, .. arguments, "run", attempt.Directory])
        {
            launcher.ArgumentList.Add(argument);
        }
        using var parent = Process.Start(launcher)!;
        await TestAttempt.WaitUntil(() => attempt.Supervisor is not null, "supervisor.json is written");
        var workerPid = int.Parse(File.ReadAllText(workerPidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(workerPid, attempt.Supervisor!.WorkerPid);
        Assert.Equal(workerPid, TestAttempt.SessionOf(workerPid));
        // How the server recognises a running worker after a restart.
        Assert.Contains(attempt.Directory, File.ReadAllText($"/proc/{workerPid}/cmdline").Split('\0'));

        TestAttempt.Signal(-parent.Id, SIGKILL);
        await parent.WaitForExitAsync();
        Assert.True(TestAttempt.IsAlive(workerPid));
        Assert.True(TestAttempt.IsAlive(attempt.Supervisor.JobPid));

        File.WriteAllText(attempt.WorkFile("go"), "");
        await TestAttempt.WaitUntil(() => File.Exists(Path.Combine(attempt.Directory, AttemptFiles.Result)), "result.json is written");
        Assert.Equal(Reasons.Completed, attempt.Result.Reason);
        Assert.Contains("survived", attempt.Output, StringComparison.Ordinal);
        await TestAttempt.WaitUntil(() => !TestAttempt.IsAlive(workerPid), "the worker exits");
    }

    [Fact]
    public async Task A_missing_launch_file_is_a_failed_start_and_a_non_zero_exit()
    {
        using var attempt = new TestAttempt();

        Assert.NotEqual(0, await attempt.RunAsync());

        Assert.Equal(Reasons.StartFailed, attempt.Result.Reason);
        Assert.Contains("launch.json", attempt.Result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_work_folder_that_cannot_be_created_is_a_failed_start()
    {
        using var attempt = new TestAttempt();
        attempt.Write(TestAttempt.Launch("echo never"));
        File.WriteAllText(Path.Combine(attempt.Directory, AttemptFiles.WorkDirectory), "a file where the folder should be");

        Assert.Equal(0, await attempt.RunAsync());

        Assert.Equal(Reasons.StartFailed, attempt.Result.Reason);
        Assert.DoesNotContain("never", attempt.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_worker_leaves_no_cgroup_behind()
    {
        using var attempt = new TestAttempt();
        var launch = TestAttempt.Launch("true");
        attempt.Write(launch);

        await attempt.RunAsync();

        var limits = attempt.WorkerLog.Split('\n')[0];
        var folders = limits.Contains(';', StringComparison.Ordinal)
            ? limits[(limits.IndexOf(';', StringComparison.Ordinal) + 1)..].TrimEnd(')').Split(',', StringSplitOptions.TrimEntries)
            : [];
        Assert.All(folders, f => Assert.False(Directory.Exists(f), $"{f} is still there"));
    }
}
