using System.Globalization;
using System.Text;
using Strata.Core.Runtime.Local;

namespace Strata.Worker.Tests;

/// <summary>With limits on, a standby worker starts the job's process in advance, inside the prepared cgroup.</summary>
public sealed class PreSpawnTests
{
    private const int SIGTERM = 15;
    private const string StartedInStandby = "the job's process was started in standby";

    /// <summary>The pids in the cgroup.procs of each folder.</summary>
    private static int[][] ProcsOf(string[] cgroups) =>
        cgroups.Select(f => File.ReadAllText(Path.Combine(f, "cgroup.procs")).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray()).ToArray();

    private static int ParentOf(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);
    }

    /// <summary>Waits for the standby worker and returns its cgroups and the one process waiting in them (skips where there is no cgroup).</summary>
    private static async Task<(string[] Cgroups, int Pid)> PreSpawned(TestStandby standby)
    {
        await standby.WaitReady();
        var cgroups = TestStandby.CgroupFolders(standby.StandbyLog);
        Skip.If(cgroups.Length == 0, $"no writable cgroup hierarchy here ({standby.StandbyLog.Split('\n')[0]})");
        var procs = ProcsOf(cgroups);
        Assert.All(procs, p => Assert.Single(p));
        var pid = procs[0][0];
        Assert.All(procs, p => Assert.Equal(pid, p[0]));
        Assert.Equal(standby.Worker.Id, ParentOf(pid));
        Assert.True(TestAttempt.IsAlive(pid));
        return (cgroups, pid);
    }

    [SkippableFact]
    public async Task The_job_is_the_process_started_in_the_cgroup_in_advance_with_exactly_the_launch_environment()
    {
        using var attempt = new TestAttempt();
        using var standby = new TestStandby(attempt);
        var (_, pid) = await PreSpawned(standby);
        var environment = new Dictionary<string, string>
        {
            ["PATH"] = "/usr/local/bin:/usr/bin:/bin",
            ["SPACES"] = "a b  c ",
            ["QUOTES"] = "it's \"quoted\" ''",
            ["DOLLARS"] = "$HOME ${PATH} $(echo no) `echo no` \\n \\",
            ["NEWLINES"] = "line 1\nline 2\n",
            ["EMPTY"] = "",
            ["STRATA_TOKEN"] = "secret",
        };
        attempt.Write(TestAttempt.Launch(
            "cat /proc/$$/environ > environ; pwd > cwd; readlink /proc/$$/fd/0 > stdin; echo $$ > pid; echo out; echo err >&2; " +
            "while [ ! -f go ]; do sleep 0.05; done", environment));

        standby.Assign(attempt.Directory);
        await TestAttempt.WaitUntil(() => attempt.Supervisor is not null && File.Exists(attempt.WorkFile("pid")), "the job runs");

        Assert.Equal(pid, attempt.Supervisor!.JobPid);
        Assert.Equal(pid, attempt.PidsIn("pid").Single());
        var attemptCgroups = TestStandby.CgroupFolders(attempt.WorkerLog);
        Assert.NotEmpty(attemptCgroups);
        Assert.All(ProcsOf(attemptCgroups), p => Assert.Contains(pid, p));
        var seen = File.ReadAllText(attempt.WorkFile("environ"), Encoding.UTF8).Split('\0', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal);
        Assert.Equal(environment.Select(e => $"{e.Key}={e.Value}").Order(StringComparer.Ordinal), seen);
        Assert.Equal(attempt.WorkDirectory, File.ReadAllText(attempt.WorkFile("cwd")).TrimEnd('\n'));
        Assert.Equal("/dev/null", File.ReadAllText(attempt.WorkFile("stdin")).TrimEnd('\n'));
        Assert.Contains(StartedInStandby, attempt.WorkerLog, StringComparison.Ordinal);
        // The launch (with its token) reaches the shell through a pipe: nothing beside the attempt's own files.
        Assert.Equal([AttemptFiles.Launch, AttemptFiles.Log, AttemptFiles.Supervisor, AttemptFiles.WorkerLog],
            Directory.GetFiles(attempt.Directory).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        File.WriteAllText(attempt.WorkFile("go"), "");
        await standby.Worker.WaitForExitAsync(new CancellationTokenSource(TestAttempt.Patience).Token);
        Assert.Equal(Reasons.Completed, attempt.Result.Reason);
        Assert.Equal(["err", "out"], attempt.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
        Assert.All(attemptCgroups, f => Assert.False(Directory.Exists(f), $"{f} is still there"));
    }

    [SkippableFact]
    public async Task A_job_over_its_memory_limit_ends_out_of_memory()
    {
        Skip.IfNot(File.Exists("/usr/bin/perl"), "perl is needed to allocate memory");
        using var attempt = new TestAttempt();
        using var standby = new TestStandby(attempt);
        var (cgroups, pid) = await PreSpawned(standby);
        attempt.Write(TestAttempt.Launch("/usr/bin/perl -e '$x = \"a\" x (400 * 1024 * 1024); print length($x)'") with { MemoryBytes = 64L << 20 });

        standby.Assign(attempt.Directory);
        await standby.Worker.WaitForExitAsync(new CancellationTokenSource(TestAttempt.Patience).Token);

        Assert.Equal(Reasons.OutOfMemory, attempt.Result.Reason);
        Assert.Equal(pid, attempt.Supervisor!.JobPid);
        Assert.Contains(StartedInStandby, attempt.WorkerLog, StringComparison.Ordinal);
        Assert.All(cgroups.Concat(TestStandby.CgroupFolders(attempt.WorkerLog)), f => Assert.False(Directory.Exists(f), $"{f} is still there"));
    }

    [SkippableFact]
    public async Task A_launch_without_limits_kills_the_process_started_in_advance_and_runs_the_ordinary_way()
    {
        using var attempt = new TestAttempt();
        using var standby = new TestStandby(attempt);
        var (cgroups, pid) = await PreSpawned(standby);
        attempt.Write(TestAttempt.Launch("echo $$ > pid") with { EnforceLimits = false });

        standby.Assign(attempt.Directory);
        await standby.Worker.WaitForExitAsync(new CancellationTokenSource(TestAttempt.Patience).Token);

        Assert.Equal(Reasons.Completed, attempt.Result.Reason);
        Assert.Equal(LimitModes.MeasuredOnly, attempt.Result.LimitMode);
        Assert.NotEqual(pid, attempt.PidsIn("pid").Single());
        Assert.False(TestAttempt.IsAlive(pid));
        Assert.DoesNotContain(StartedInStandby, attempt.WorkerLog, StringComparison.Ordinal);
        Assert.All(cgroups, f => Assert.False(Directory.Exists(f), $"{f} is still there"));
    }

    [SkippableTheory]
    [InlineData("sigterm")]
    [InlineData("idle")]
    [InlineData("no-launch-file")]
    public async Task A_standby_worker_that_ends_unassigned_leaves_no_process_and_no_cgroup(string how)
    {
        using var attempt = new TestAttempt();
        using var standby = how == "idle" ? new TestStandby(attempt, "--idle-timeout-seconds", "1") : new TestStandby(attempt);
        var (cgroups, pid) = await PreSpawned(standby);

        if (how == "sigterm")
        {
            TestAttempt.Signal(standby.Worker.Id, SIGTERM);
        }
        else if (how == "no-launch-file")
        {
            standby.Assign(attempt.Directory);
        }
        await standby.Worker.WaitForExitAsync(new CancellationTokenSource(TestAttempt.Patience).Token);

        if (how == "no-launch-file")
        {
            Assert.Equal(Reasons.StartFailed, attempt.Result.Reason);
        }
        else
        {
            Assert.Equal(0, standby.Worker.ExitCode);
        }
        Assert.False(TestAttempt.IsAlive(pid));
        Assert.False(Directory.Exists(standby.Directory));
        Assert.All(cgroups, f => Assert.False(Directory.Exists(f), $"{f} is still there"));
    }
}
