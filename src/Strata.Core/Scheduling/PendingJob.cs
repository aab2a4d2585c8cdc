using Strata.Core.Runtime;

namespace Strata.Core.Scheduling;

/// <summary>A job waiting to be admitted, as the scheduler sees it.</summary>
/// <param name="Sequence">Submission order: lower is older.</param>
/// <param name="NotBefore">A retry's backoff: the job may not start before this instant.</param>
public sealed record PendingJob(
    string JobId,
    string TenantId,
    int Priority,
    long Sequence,
    ResourceRequest Request,
    DateTimeOffset? NotBefore = null);

/// <summary>The queue's order: higher priority first, then older first.</summary>
public sealed class PendingJobOrder : IComparer<PendingJob>
{
    public static readonly PendingJobOrder Instance = new();

    public int Compare(PendingJob? x, PendingJob? y)
    {
        if (ReferenceEquals(x, y)) return 0;
        if (x is null) return -1;
        if (y is null) return 1;
        var byPriority = y.Priority.CompareTo(x.Priority);
        if (byPriority != 0) return byPriority;
        var bySequence = x.Sequence.CompareTo(y.Sequence);
        return bySequence != 0 ? bySequence : string.CompareOrdinal(x.JobId, y.JobId);
    }
}
