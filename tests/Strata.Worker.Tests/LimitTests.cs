namespace Strata.Worker.Tests;

/// <summary>The limits beyond cpu and memory, through the real worker.</summary>
public sealed class LimitTests
{
    /// <summary>Forks until the kernel refuses, writing each child's pid; prints <c>never</c> only if it is not stopped.</summary>
    private const string ForkBomb = "for i in $(seq 10000); do sleep 30 & echo $! >> pids; done; echo never";

    private static void SkipWithoutProcessLimit(string workerLog, int limit) =>
        Skip.IfNot(workerLog.Split('\n')[0].Contains($"processes {limit};", StringComparison.Ordinal),
            $"no pids controller here ({workerLog.Split('\n')[0]})");

    private static void AssertForkBombContained(TestAttempt attempt, int limit)
    {
        var result = attempt.Result;
        Assert.Equal(Reasons.ExitedWithError, result.Reason);
        Assert.Contains($"fork(s) were refused at its limit of {limit} processes", result.Message, StringComparison.Ordinal);
        Assert.Contains("fork", attempt.Output, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("never", attempt.Output, StringComparison.Ordinal);
        var pids = attempt.PidsIn("pids");
        Assert.InRange(pids.Length, 1, limit);
        Assert.DoesNotContain(pids, TestAttempt.IsAlive);
        Assert.All(TestStandby.CgroupFolders(attempt.WorkerLog), f => Assert.False(Directory.Exists(f), $"{f} is still there"));
    }

    [SkippableFact]
    public async Task A_fork_bomb_is_capped_at_max_processes_and_leaves_no_process_behind()
    {
        using var attempt = new TestAttempt();
        attempt.Write(TestAttempt.Launch(ForkBomb) with { MaxProcesses = 64 });

        Assert.Equal(0, await attempt.RunAsync());

        SkipWithoutProcessLimit(attempt.WorkerLog, 64);
        AssertForkBombContained(attempt, 64);
    }

    [SkippableFact]
    public async Task The_cgroup_created_in_standby_caps_processes_too()
    {
        using var attempt = new TestAttempt();
        using var standby = new TestStandby(attempt);
        await standby.WaitReady();
        Skip.If(TestStandby.CgroupFolders(standby.StandbyLog).Length == 0, $"no writable cgroup hierarchy here ({standby.StandbyLog.Split('\n')[0]})");
        attempt.Write(TestAttempt.Launch(ForkBomb) with { MaxProcesses = 32 });

        standby.Assign(attempt.Directory);
        await standby.Worker.WaitForExitAsync(new CancellationTokenSource(TestAttempt.Patience).Token);

        SkipWithoutProcessLimit(attempt.WorkerLog, 32);
        Assert.Contains("the cgroup was created in standby", attempt.WorkerLog, StringComparison.Ordinal);
        AssertForkBombContained(attempt, 32);
    }
}
