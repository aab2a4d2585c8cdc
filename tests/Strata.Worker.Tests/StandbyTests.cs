using System.Diagnostics;
using System.Globalization;
using Strata.Core.Runtime.Local;

namespace Strata.Worker.Tests;

/// <summary>A <c>strata-worker standby</c> process with its standby folder, beside a test attempt.</summary>
internal sealed class TestStandby : IDisposable
{
    public TestStandby(TestAttempt attempt, params string[] options)
    {
        Directory = Path.Combine(attempt.Root, "standby");
        System.IO.Directory.CreateDirectory(Directory);
        var (fileName, arguments) = TestAttempt.WorkerCommand();
        var start = new ProcessStartInfo(fileName) { UseShellExecute = false };
        foreach (var argument in (string[])[.. arguments, "standby", Directory, .. options])
        {
            start.ArgumentList.Add(argument);
        }
        Worker = Process.Start(start)!;
    }

    public string Directory { get; }
    public Process Worker { get; }
    public string Fifo => Path.Combine(Directory, "assign");
    public string ReadyFile => Path.Combine(Directory, "ready");

    public Task WaitReady() => TestAttempt.WaitUntil(() => File.Exists(ReadyFile), "the standby worker is ready");

    /// <summary>What the server does: one line, the attempt folder's path, into the FIFO.</summary>
    public void Assign(string attemptDirectory) => File.WriteAllText(Fifo, attemptDirectory + "\n");

    /// <summary>The cgroup folders named on the limits line of a worker.log.</summary>
    public static string[] CgroupFolders(string workerLog)
    {
        var limits = workerLog.Split('\n')[0];
        return limits.Contains(';', StringComparison.Ordinal)
            ? limits[(limits.IndexOf(';', StringComparison.Ordinal) + 1)..].TrimEnd(')').Split(',', StringSplitOptions.TrimEntries)
            : [];
    }

    public string StandbyLog => File.ReadAllText(Path.Combine(Directory, AttemptFiles.WorkerLog));

    public static long StartTimeOf(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return long.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[19], CultureInfo.InvariantCulture);
    }

    public void Dispose()
    {
        try
        {
            if (!Worker.HasExited)
            {
                Native.Signal(Worker.Id, Native.SIGTERM);
                if (!Worker.WaitForExit(TimeSpan.FromSeconds(15)))
                {
                    Worker.Kill();
                }
            }
            Worker.Dispose();
        }
        catch (InvalidOperationException) { }
    }
}

/// <summary>Runs the real <c>strata-worker standby</c> and hands it attempt folders through its FIFO.</summary>
public sealed class StandbyTests
{
    private const int SIGKILL = 9;
    private const int SIGTERM = 15;

    [Theory]
    [InlineData("exit 0", "completed", true)]
    [InlineData("exit 3", "exited_with_error", true)]
    [InlineData("exit 0", "completed", false)]
    public async Task An_assigned_attempt_runs_like_run_does(string exit, string reason, bool enforceLimits)
    {
        using var attempt = new TestAttempt();
        using var standby = new TestStandby(attempt, "--enforce-limits", enforceLimits ? "true" : "false");
        await standby.WaitReady();
        var pid = standby.Worker.Id;
        Assert.Equal(pid.ToString(CultureInfo.InvariantCulture), File.ReadAllText(standby.ReadyFile).Trim());
        Assert.True(TestAttempt.IsAlive(pid));
        var standbyCgroups = TestStandby.CgroupFolders(standby.StandbyLog);
        Assert.All(standbyCgroups, f => Assert.True(Directory.Exists(f), $"{f} was not created in advance"));

        attempt.Write(TestAttempt.Launch($"/usr/bin/env > env.txt; echo out; echo err >&2; {exit}", new()
        {
            ["STRATA_JOB_ID"] = "job-1",
            ["WITH_SPACES"] = "a b  c",
        }) with { EnforceLimits = enforceLimits });
        standby.Assign(attempt.Directory);
        await standby.Worker.WaitForExitAsync(new CancellationTokenSource(TestAttempt.Patience).Token);

        Assert.Equal(0, standby.Worker.ExitCode);
        var seen = File.ReadAllLines(attempt.WorkFile("env.txt"))
            .Where(l => !l.StartsWith("PWD=", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal);
        Assert.Equal(["STRATA_JOB_ID=job-1", "WITH_SPACES=a b  c"], seen);
        Assert.Equal(reason, attempt.Result.Reason);
        Assert.Equal(["err", "out"], attempt.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
        var supervisor = attempt.Supervisor!;
        Assert.Equal(pid, supervisor.WorkerPid);
        Assert.Equal(attempt.Result.LimitMode, supervisor.LimitMode);
        Assert.StartsWith($"limits: {supervisor.LimitMode}", attempt.WorkerLog, StringComparison.Ordinal);
        Assert.False(Directory.Exists(standby.Directory));
        Assert.All(standbyCgroups.Concat(TestStandby.CgroupFolders(attempt.WorkerLog)), f => Assert.False(Directory.Exists(f), $"{f} is still there"));
    }

    [Fact]
    public async Task Supervisor_json_names_the_standby_worker_by_pid_and_start_time()
    {
        using var attempt = new TestAttempt();
        using var standby = new TestStandby(attempt);
        await standby.WaitReady();
        var startTime = TestStandby.StartTimeOf(standby.Worker.Id);
        attempt.Write(TestAttempt.Launch("while [ ! -f go ]; do sleep 0.05; done"));

        standby.Assign(attempt.Directory);
        await TestAttempt.WaitUntil(() => attempt.Supervisor is not null, "supervisor.json is written");

        Assert.Equal(standby.Worker.Id, attempt.Supervisor!.WorkerPid);
        Assert.Equal(startTime, attempt.Supervisor.WorkerStartTime);
        Assert.True(TestAttempt.IsAlive(attempt.Supervisor.JobPid));
        File.WriteAllText(attempt.WorkFile("go"), "");
        await standby.Worker.WaitForExitAsync();
        Assert.Equal(Reasons.Completed, attempt.Result.Reason);
    }

    [Fact]
    public async Task Run_fills_in_the_worker_s_start_time_too()
    {
        using var attempt = new TestAttempt();
        attempt.Write(TestAttempt.Launch("while [ ! -f go ]; do sleep 0.05; done"));
        var worker = attempt.Start();
        await TestAttempt.WaitUntil(() => attempt.Supervisor is not null, "supervisor.json is written");

        Assert.Equal(TestStandby.StartTimeOf(worker.Id), attempt.Supervisor!.WorkerStartTime);
        File.WriteAllText(attempt.WorkFile("go"), "");
        await worker.WaitForExitAsync();
    }

    [SkippableFact]
    public async Task The_cgroup_created_in_standby_enforces_the_memory_limit_and_is_removed()
    {
        Skip.IfNot(File.Exists("/usr/bin/perl"), "perl is needed to allocate memory");
        using var attempt = new TestAttempt();
        using var standby = new TestStandby(attempt);
        await standby.WaitReady();
        var standbyCgroups = TestStandby.CgroupFolders(standby.StandbyLog);
        Skip.If(standbyCgroups.Length == 0, $"no writable cgroup hierarchy here ({standby.StandbyLog.Split('\n')[0]})");
        attempt.Write(TestAttempt.Launch("/usr/bin/perl -e '$x = \"a\" x (400 * 1024 * 1024); print length($x)'") with { MemoryBytes = 64L << 20 });

        standby.Assign(attempt.Directory);
        await standby.Worker.WaitForExitAsync(new CancellationTokenSource(TestAttempt.Patience).Token);

        var result = attempt.Result;
        Assert.Equal(Reasons.OutOfMemory, result.Reason);
        Assert.Equal(SIGKILL, result.Signal);
        Assert.InRange(result.PeakMemoryBytes ?? 0, 32L << 20, 64L << 20);
        Assert.Contains("the cgroup was created in standby", attempt.WorkerLog, StringComparison.Ordinal);
        var attemptCgroups = TestStandby.CgroupFolders(attempt.WorkerLog);
        Assert.NotEmpty(attemptCgroups);
        Assert.All(standbyCgroups.Concat(attemptCgroups), f => Assert.False(Directory.Exists(f), $"{f} is still there"));
    }

    [Fact]
    public async Task A_waiting_standby_worker_exits_cleanly_on_SIGTERM()
    {
        using var attempt = new TestAttempt();
        using var standby = new TestStandby(attempt);
        await standby.WaitReady();
        var cgroups = TestStandby.CgroupFolders(standby.StandbyLog);

        TestAttempt.Signal(standby.Worker.Id, SIGTERM);
        await standby.Worker.WaitForExitAsync(new CancellationTokenSource(TestAttempt.Patience).Token);

        Assert.Equal(0, standby.Worker.ExitCode);
        Assert.False(Directory.Exists(standby.Directory));
        Assert.All(cgroups, f => Assert.False(Directory.Exists(f), $"{f} is still there"));
    }

    [Fact]
    public async Task A_standby_worker_exits_after_its_idle_time_out()
    {
        using var attempt = new TestAttempt();
        using var standby = new TestStandby(attempt, "--idle-timeout-seconds", "1");
        await standby.WaitReady();
        var cgroups = TestStandby.CgroupFolders(standby.StandbyLog);

        await standby.Worker.WaitForExitAsync(new CancellationTokenSource(TestAttempt.Patience).Token);

        Assert.Equal(0, standby.Worker.ExitCode);
        Assert.False(Directory.Exists(standby.Directory));
        Assert.All(cgroups, f => Assert.False(Directory.Exists(f), $"{f} is still there"));
    }

    [Fact]
    public async Task A_standby_worker_whose_parent_dies_exits_and_leaves_nothing_behind()
    {
        using var attempt = new TestAttempt();
        var folder = Path.Combine(attempt.Root, "standby");
        Directory.CreateDirectory(folder);
        var pidFile = Path.Combine(attempt.Root, "worker.pid");
        var (fileName, arguments) = TestAttempt.WorkerCommand();
        var launcher = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        // The parent becomes its `sleep` (exec), so killing it leaves nothing behind but the worker under test.
        foreach (var argument in (string[])["-c", "\"$@\" & echo $! > \"$0\"; exec sleep 300", pidFile, fileName, .. arguments, "standby", folder])
        {
            launcher.ArgumentList.Add(argument);
        }
        using var parent = Process.Start(launcher)!;
        await TestAttempt.WaitUntil(() => File.Exists(Path.Combine(folder, "ready")), "the standby worker is ready");
        var workerPid = int.Parse(File.ReadAllText(pidFile).Trim(), CultureInfo.InvariantCulture);
        var cgroups = TestStandby.CgroupFolders(File.ReadAllText(Path.Combine(folder, AttemptFiles.WorkerLog)));
        Assert.True(TestAttempt.IsAlive(workerPid));

        parent.Kill();
        await parent.WaitForExitAsync();

        await TestAttempt.WaitUntil(() => !TestAttempt.IsAlive(workerPid), "the orphaned standby worker exits");
        await TestAttempt.WaitUntil(() => !Directory.Exists(folder), "the standby folder is removed");
        Assert.All(cgroups, f => Assert.False(Directory.Exists(f), $"{f} is still there"));
    }

    [Fact]
    public async Task A_standby_worker_whose_named_parent_died_before_it_started_exits_without_waiting_for_its_idle_time_out()
    {
        using var attempt = new TestAttempt();
        // A server that died between starting the worker and the worker's first look: the pid it named is not the parent.
        int gone;
        using (var shortLived = Process.Start(new ProcessStartInfo("/bin/true") { UseShellExecute = false })!)
        {
            await shortLived.WaitForExitAsync();
            gone = shortLived.Id;
        }
        using var standby = new TestStandby(attempt, "--parent-pid", gone.ToString(CultureInfo.InvariantCulture), "--idle-timeout-seconds", "3600");

        await standby.Worker.WaitForExitAsync(new CancellationTokenSource(TestAttempt.Patience).Token);

        Assert.Equal(0, standby.Worker.ExitCode);
        Assert.False(Directory.Exists(standby.Directory));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task SIGTERM_after_assignment_stops_the_job_s_whole_tree(bool enforceLimits)
    {
        using var attempt = new TestAttempt();
        using var standby = new TestStandby(attempt, "--enforce-limits", enforceLimits ? "true" : "false");
        await standby.WaitReady();
        attempt.Write(TestAttempt.Launch("sleep 300 & echo $! >> pids; ( (sleep 300 & echo $! >> pids) & ); " +
            "sh -c 'trap \"\" TERM; echo $$ >> pids; while :; do sleep 1; done' & wait")
            with { EnforceLimits = enforceLimits, StopGraceSeconds = 1 });

        standby.Assign(attempt.Directory);
        await TestAttempt.WaitUntil(() => File.Exists(attempt.WorkFile("pids")) && attempt.PidsIn("pids").Length == 3, "the job has started its processes");
        await TestAttempt.WaitUntil(() => attempt.Supervisor is not null, "supervisor.json is written");
        var pids = attempt.PidsIn("pids");
        TestAttempt.Signal(standby.Worker.Id, SIGTERM);
        await standby.Worker.WaitForExitAsync(new CancellationTokenSource(TestAttempt.Patience).Token);

        Assert.Equal(0, standby.Worker.ExitCode);
        Assert.Equal(Reasons.Killed, attempt.Result.Reason);
        Assert.DoesNotContain(pids, TestAttempt.IsAlive);
        Assert.False(TestAttempt.IsAlive(attempt.Supervisor!.JobPid));
        Assert.All(TestStandby.CgroupFolders(attempt.WorkerLog), f => Assert.False(Directory.Exists(f), $"{f} is still there"));
    }

    [Fact]
    public async Task An_assigned_folder_without_a_launch_file_is_a_failed_start_and_leaves_no_cgroup()
    {
        using var attempt = new TestAttempt();
        using var standby = new TestStandby(attempt);
        await standby.WaitReady();
        var cgroups = TestStandby.CgroupFolders(standby.StandbyLog);

        standby.Assign(attempt.Directory);
        await standby.Worker.WaitForExitAsync(new CancellationTokenSource(TestAttempt.Patience).Token);

        Assert.Equal(Reasons.StartFailed, attempt.Result.Reason);
        Assert.False(Directory.Exists(standby.Directory));
        Assert.All(cgroups, f => Assert.False(Directory.Exists(f), $"{f} is still there"));
    }

    [Theory]
    [InlineData("standby")]
    [InlineData("standby", "/tmp/x", "--enforce-limits", "maybe")]
    [InlineData("standby", "/tmp/x", "--idle-timeout-seconds")]
    [InlineData("standby", "/tmp/x", "--parent-pid", "server")]
    [InlineData("standby", "/tmp/x", "--parent-pid", "0")]
    public async Task Bad_standby_arguments_are_a_usage_error(params string[] args)
    {
        var (fileName, arguments) = TestAttempt.WorkerCommand();
        var start = new ProcessStartInfo(fileName) { UseShellExecute = false, RedirectStandardError = true };
        foreach (var argument in (string[])[.. arguments, .. args])
        {
            start.ArgumentList.Add(argument);
        }
        using var worker = Process.Start(start)!;
        await worker.StandardError.ReadToEndAsync();
        await worker.WaitForExitAsync();
        Assert.Equal(64, worker.ExitCode);
    }
}
