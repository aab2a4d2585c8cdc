using Strata.Contracts;
using Strata.Core.Runtime;

namespace Strata.Core.Scheduling;

/// <summary>Why a job was left pending in a cycle.</summary>
public sealed record PendingReason(PendingJob Job, string Reason);

/// <summary>What one scheduling cycle decided.</summary>
public sealed record SchedulingPlan(IReadOnlyList<PendingJob> Admitted, IReadOnlyList<PendingReason> Waiting);

/// <summary>
/// The scheduling policy, first version: admit pending jobs in queue order (priority, then age) as long
/// as they fit the runtime's free capacity. A job that does not fit does not block smaller ones behind
/// it (best-effort FIFO, as Kueue's default queueing strategy), so a large job waits until enough is free.
/// Pure: the caller takes the snapshot and applies the plan.
/// </summary>
public static class SchedulingPolicy
{
    /// <param name="ordered">Pending jobs in <see cref="PendingJobOrder"/>.</param>
    /// <param name="free">Capacity not used by running attempts.</param>
    public static SchedulingPlan Plan(IEnumerable<PendingJob> ordered, ResourceRequest free, DateTimeOffset now)
    {
        var admitted = new List<PendingJob>();
        var waiting = new List<PendingReason>();
        foreach (var job in ordered)
        {
            // 1. A retry in its backoff is not a candidate yet.
            if (job.NotBefore is { } notBefore && notBefore > now)
            {
                waiting.Add(new PendingReason(job, StatusReasons.WaitingForRetry));
                continue;
            }
            // 2. Admit what fits; what does not waits for capacity without blocking smaller jobs.
            if (job.Request.FitsIn(free))
            {
                admitted.Add(job);
                free -= job.Request;
            }
            else
            {
                waiting.Add(new PendingReason(job, StatusReasons.WaitingForCapacity));
            }
        }
        return new SchedulingPlan(admitted, waiting);
    }
}
