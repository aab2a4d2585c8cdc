using Strata.Core.Runtime.Local;

using Strata.Worker.Disk;

namespace Strata.Worker.Tests;

/// <summary>The limits beyond cpu and memory, through the real worker: processes, disk and output.</summary>
public sealed class LimitTests
{
    private const int SIGTERM = 15;

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

    [Fact]
    public async Task A_job_that_fills_its_folders_past_the_disk_limit_is_stopped_as_disk_limit_exceeded()
    {
        using var attempt = new TestAttempt();
        var checkpoints = Directory.CreateDirectory(Path.Combine(attempt.Root, "checkpoints")).FullName;
        // Neither folder is over the limit on its own: together they are.
        attempt.Write(TestAttempt.Launch($"head -c 700000 /dev/zero > big; head -c 700000 /dev/zero > '{checkpoints}/ckpt'; echo written; sleep 60")
            with { DiskBytes = 1 << 20, DiskPaths = [attempt.WorkDirectory, checkpoints], StopGraceSeconds = 1 });

        Assert.Equal(0, await attempt.RunAsync());

        var result = attempt.Result;
        Assert.Equal(Reasons.DiskLimitExceeded, result.Reason);
        Assert.StartsWith("exceeded its disk limit of 1048576 bytes: ", result.Message, StringComparison.Ordinal);
        Assert.Equal(SIGTERM, result.Signal);
        Assert.Contains("written", attempt.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_job_within_its_disk_limit_completes_and_links_count_once()
    {
        using var attempt = new TestAttempt();
        var outside = Path.Combine(attempt.Root, "outside");
        File.WriteAllBytes(outside, new byte[4 << 20]);
        // 600 KB, linked three more times, and a symbolic link to a 4 MB file: only the 600 KB count.
        // The job waits until the worker has measured the folder at least once (it logs the limit first).
        attempt.Write(TestAttempt.Launch(
            $"head -c 600000 /dev/zero > data; ln data a; ln data b; ln data c; ln -s '{outside}' big; sleep 2.5; echo done")
            with { DiskBytes = 1 << 20, DiskPaths = [attempt.WorkDirectory] });

        Assert.Equal(0, await attempt.RunAsync());

        Assert.Equal(Reasons.Completed, attempt.Result.Reason);
        Assert.Contains("disk limit: 1048576 bytes under " + attempt.WorkDirectory, attempt.WorkerLog, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Output_beyond_max_log_bytes_is_dropped_from_the_middle_and_metric_lines_are_kept()
    {
        using var attempt = new TestAttempt();
        const int Cap = 1 << 20;
        // About 40 MB on stdout (one stream: the order of two is not the job's to decide).
        attempt.Write(TestAttempt.Launch(
            "echo first line; yes 'some output of the job, over and over' 2>/dev/null | head -n 500000; " +
            "echo 'STRATA_METRIC {\"name\": \"loss\", \"value\": 0.5, \"step\": 1}'; " +
            "yes 'more output of the job, over and over' 2>/dev/null | head -n 500000; echo last line")
            with { MaxLogBytes = Cap });

        Assert.Equal(0, await attempt.RunAsync());

        Assert.Equal(Reasons.Completed, attempt.Result.Reason);
        var log = attempt.Output;
        Assert.InRange(new FileInfo(Path.Combine(attempt.Directory, AttemptFiles.Log)).Length, Cap / 2, Cap);
        Assert.StartsWith("first line\nsome output of the job, over and over\n", log, StringComparison.Ordinal);
        Assert.EndsWith("more output of the job, over and over\nlast line\n", log, StringComparison.Ordinal);
        Assert.Matches(@"\n\[strata: \d+ bytes \(\d+ lines\) of output dropped\]\n", log);
        Assert.Contains("\nSTRATA_METRIC {\"name\": \"loss\", \"value\": 0.5, \"step\": 1}\n", log, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(attempt.Directory, "output.tail*"));
    }
}
