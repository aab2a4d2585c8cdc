namespace Strata.Core.Runtime;

/// <summary>
/// One attempt of a distributed job, seen through its ranks: a gang lives and dies as one. When any rank fails the
/// others are stopped, and once every rank has ended the attempt ends with the failure that came first (the
/// ranks that were stopped because of it are not the cause).
/// </summary>
public static class GangObservations
{
    /// <summary>What the ranks say together, and whether the ranks still running must be stopped.</summary>
    /// <param name="attempt">The attempt the gang runs.</param>
    /// <param name="ranks">Each rank's observation, by rank; null for a rank whose worker has not started it.</param>
    /// <returns>
    /// The attempt's observation (null while some rank has not started and none has failed: the start is
    /// incomplete, and a repeated start completes it), and <c>StopTheRest</c> when a rank failed while
    /// others still run.
    /// </returns>
    public static (AttemptObservation? Observation, bool StopTheRest) Combine(AttemptRef attempt, IReadOnlyList<AttemptObservation?> ranks)
    {
        var started = ranks.OfType<AttemptObservation>().ToList();
        var failed = started.Where(r => r.Outcome is { } outcome && outcome is not AttemptOutcome.Succeeded).ToList();
        var running = started.Any(r => !r.IsFinished);
        var startedAt = started.Min(r => r.StartedAt);
        if (failed.Count > 0 && running)
        {
            return (new AttemptObservation { Attempt = attempt, StartedAt = startedAt }, StopTheRest: true);
        }
        if (failed.Count == 0 && started.Count < ranks.Count)
        {
            return (null, false);
        }
        if (running)
        {
            return (new AttemptObservation { Attempt = attempt, StartedAt = startedAt }, false);
        }
        return (new AttemptObservation
        {
            Attempt = attempt,
            Outcome = failed.Count == 0 ? new AttemptOutcome.Succeeded() : Cause(ranks, failed),
            StartedAt = startedAt,
            FinishedAt = started.Max(r => r.FinishedAt),
            // Memory is asked for, and limited, per worker: the peak that matters is the largest rank's.
            PeakMemoryBytes = started.Max(r => r.PeakMemoryBytes),
            CpuSeconds = started.Any(r => r.CpuSeconds is not null) ? started.Sum(r => r.CpuSeconds ?? 0) : null,
            // Each rank's own devices: the gang's are as busy as its ranks' on average, and as full as the fullest.
            GpuUtilizationPercent = started.Average(r => r.GpuUtilizationPercent) is { } busy ? Math.Round(busy, 1) : null,
            GpuPeakMemoryMb = started.Max(r => r.GpuPeakMemoryMb),
        }, false);
    }

    /// <summary>
    /// The failure that ended the gang, named with its rank. A rank whose supervisor vanished (or never started
    /// its job) comes first: the errors of the ranks left waiting for it follow from it, and may be seen before
    /// its loss is. Then the failure that finished first, among those that were not stopped. When every failed
    /// rank was stopped (a cancel, a preemption), the gang was stopped.
    /// </summary>
    private static AttemptOutcome Cause(IReadOnlyList<AttemptObservation?> ranks, List<AttemptObservation> failed)
    {
        var first = failed.Where(r => r.Outcome is not AttemptOutcome.Stopped)
            .OrderBy(r => r.Outcome is AttemptOutcome.SupervisorLost or AttemptOutcome.StartFailed ? 0 : 1)
            .ThenBy(r => r.FinishedAt ?? DateTimeOffset.MaxValue)
            .FirstOrDefault();
        if (first is null) return failed[0].Outcome!;
        var rank = IndexOf(ranks, first);
        return first.Outcome! with { Message = $"rank {rank}: {first.Outcome!.Describe()}" };
    }

    private static int IndexOf(IReadOnlyList<AttemptObservation?> ranks, AttemptObservation rank)
    {
        for (var i = 0; i < ranks.Count; i++)
        {
            if (ReferenceEquals(ranks[i], rank)) return i;
        }
        return -1;
    }
}
