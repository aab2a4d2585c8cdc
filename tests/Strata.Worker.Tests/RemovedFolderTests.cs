using Strata.Core.Runtime.Local;

namespace Strata.Worker.Tests;

/// <summary>
/// A worker outlives its server on purpose (a restarted server adopts the attempt), but not its folder: with
/// the attempt or standby folder removed (the server's data folder deleted) there is nothing left to adopt,
/// and the worker stops its job and goes instead of running on for nobody.
/// </summary>
public sealed class RemovedFolderTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_worker_whose_attempt_folder_is_removed_stops_its_job_and_exits(bool standby)
    {
        using var attempt = new TestAttempt();
        var sleep = $"300.{Random.Shared.Next(100_000, 999_999)}";
        attempt.Write(TestAttempt.Launch($"sleep {sleep} & echo $! > child.pid; sleep 300"));
        using var waiting = standby ? new TestStandby(attempt) : null;
        System.Diagnostics.Process worker;
        if (waiting is not null)
        {
            await waiting.WaitReady();
            waiting.Assign(attempt.Directory);
            worker = waiting.Worker;
        }
        else
        {
            worker = attempt.Start();
        }
        await TestAttempt.WaitUntil(() => attempt.Supervisor is not null && File.Exists(attempt.WorkFile("child.pid")), "the job runs");
        var jobPid = attempt.Supervisor!.JobPid;
        var childPid = attempt.PidsIn("child.pid").Single();

        Directory.Delete(attempt.Directory, recursive: true);

        using var timeout = new CancellationTokenSource(TestAttempt.Patience);
        await worker.WaitForExitAsync(timeout.Token);
        Assert.False(TestAttempt.IsAlive(jobPid), "the job's shell is stopped");
        Assert.False(TestAttempt.IsAlive(childPid), "the job's child is stopped");
    }

    [Fact]
    public async Task A_standby_worker_whose_folder_is_removed_exits()
    {
        using var attempt = new TestAttempt();
        using var standby = new TestStandby(attempt);
        await standby.WaitReady();

        Directory.Delete(standby.Directory, recursive: true);

        using var timeout = new CancellationTokenSource(TestAttempt.Patience);
        await standby.Worker.WaitForExitAsync(timeout.Token);
        Assert.Equal(0, standby.Worker.ExitCode);
    }
}
