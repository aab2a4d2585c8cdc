using Strata.Core.Runtime;

namespace Strata.Core.Tests;

/// <summary>A gang's ranks seen as one attempt: it lives and dies whole, and its end names the rank that caused it.</summary>
public sealed class GangObservationsTests
{
    private static readonly AttemptRef Attempt = new("team-a", "job-1", 1);
    private static readonly DateTimeOffset T0 = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);

    private static AttemptObservation Running(int startedSeconds = 0) =>
        new() { Attempt = Attempt, StartedAt = T0.AddSeconds(startedSeconds) };

    private static AttemptObservation Ended(AttemptOutcome outcome, int finishedSeconds, long? peak = null, double? cpu = null) =>
        new() { Attempt = Attempt, Outcome = outcome, StartedAt = T0, FinishedAt = T0.AddSeconds(finishedSeconds), PeakMemoryBytes = peak, CpuSeconds = cpu };

    [Fact]
    public void A_gang_runs_while_its_ranks_run_and_succeeds_when_all_have()
    {
        var (running, stop) = GangObservations.Combine(Attempt, [Running(), Ended(new AttemptOutcome.Succeeded(), 5)]);
        Assert.False(running!.IsFinished);
        Assert.False(stop);

        var (done, _) = GangObservations.Combine(Attempt, [Ended(new AttemptOutcome.Succeeded(), 7, peak: 100, cpu: 1.5), Ended(new AttemptOutcome.Succeeded(), 5, peak: 300, cpu: 2)]);
        Assert.IsType<AttemptOutcome.Succeeded>(done!.Outcome);
        Assert.Equal(T0.AddSeconds(7), done.FinishedAt);
        // Memory is per worker: the largest rank's peak. CPU time is the gang's: every rank's.
        Assert.Equal(300, done.PeakMemoryBytes);
        Assert.Equal(3.5, done.CpuSeconds);
    }

    [Fact]
    public void A_failed_rank_has_the_others_stopped_and_the_gang_ends_with_its_failure_once_they_have()
    {
        var failure = new AttemptOutcome.ExitedWithError { ExitCode = 75 };
        var (running, stop) = GangObservations.Combine(Attempt, [Running(), Ended(failure, 3)]);
        Assert.False(running!.IsFinished);
        Assert.True(stop);

        var (ended, stopAgain) = GangObservations.Combine(Attempt, [Ended(new AttemptOutcome.Stopped(), 4), Ended(failure, 3)]);
        Assert.False(stopAgain);
        var outcome = Assert.IsType<AttemptOutcome.ExitedWithError>(ended!.Outcome);
        Assert.Equal(75, outcome.ExitCode);
        Assert.Equal("rank 1: exited with code 75", outcome.Message);
    }

    [Fact]
    public void The_first_failure_is_the_cause_but_a_lost_rank_comes_before_the_errors_of_those_left_waiting_for_it()
    {
        var (first, _) = GangObservations.Combine(Attempt,
            [Ended(new AttemptOutcome.ExitedWithError { ExitCode = 1 }, 9), Ended(new AttemptOutcome.OutOfMemory(), 2), Ended(new AttemptOutcome.Stopped(), 1)]);
        Assert.IsType<AttemptOutcome.OutOfMemory>(first!.Outcome);
        Assert.StartsWith("rank 1: ", first.Outcome!.Message, StringComparison.Ordinal);

        // Rank 0's collective broke when rank 1 vanished, and that error was recorded before the loss was seen.
        var lost = new AttemptObservation { Attempt = Attempt, Outcome = new AttemptOutcome.SupervisorLost(), StartedAt = T0, FinishedAt = T0.AddSeconds(10) };
        var (vanished, _) = GangObservations.Combine(Attempt, [Ended(new AttemptOutcome.ExitedWithError { ExitCode = 1 }, 5), lost]);
        Assert.IsType<AttemptOutcome.SupervisorLost>(vanished!.Outcome);
        Assert.True(vanished.Outcome!.IsInfrastructureFailure);
        Assert.Equal("rank 1: its process vanished", vanished.Outcome.Message);
    }

    [Fact]
    public void A_gang_stopped_whole_was_stopped()
    {
        var (ended, _) = GangObservations.Combine(Attempt, [Ended(new AttemptOutcome.Stopped(), 2), Ended(new AttemptOutcome.Stopped(), 1)]);
        var outcome = Assert.IsType<AttemptOutcome.Stopped>(ended!.Outcome);
        Assert.Null(outcome.Message);
    }

    [Fact]
    public void A_gang_not_yet_started_whole_is_not_observed_so_that_a_repeated_start_completes_it()
    {
        Assert.Null(GangObservations.Combine(Attempt, [null, null]).Observation);
        Assert.Null(GangObservations.Combine(Attempt, [Running(), null]).Observation);
        Assert.Null(GangObservations.Combine(Attempt, [Ended(new AttemptOutcome.Succeeded(), 1), null]).Observation);

        // But a failed rank ends it: the missing one is not waited for.
        var (failed, _) = GangObservations.Combine(Attempt, [Ended(new AttemptOutcome.ExitedWithError { ExitCode = 2 }, 1), null]);
        Assert.True(failed!.IsFinished);
    }
}
