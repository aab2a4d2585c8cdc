using Strata.Core.Runtime;

namespace Strata.Core.Scheduling;

/// <summary>A job waiting to be admitted, as the scheduler sees it.</summary>
/// <param name="Sequence">Submission order: lower is older.</param>
/// <param name="Request">What the whole job needs: one worker's request times <paramref name="Workers"/>.</param>
/// <param name="NotBefore">A retry's backoff: the job may not start before this instant.</param>
/// <param name="Workers">Workers of a distributed job, admitted all or none (a gang).</param>
/// <param name="HoldsQuota">
/// True when the job was accepted within its tenant's quota (it counts against the quota while it waits);
/// false for a job queued beyond the quota (<c>on_quota_exceeded: queue</c>), which must find room in the
/// quota before it can start.
/// </param>
public sealed record PendingJob(
    string JobId,
    string TenantId,
    int Priority,
    long Sequence,
    ResourceRequest Request,
    DateTimeOffset? NotBefore = null,
    int Workers = 1,
    bool HoldsQuota = true)
{
    /// <summary><c>compute.gpu_type</c>: where the runtime knows its devices, the job fits only where one of the type has room.</summary>
    public string? GpuType { get; init; }
}

/// <summary>A job whose attempt holds resources now.</summary>
/// <param name="Stopping">True while it is being preempted: what it holds is about to be freed.</param>
public sealed record RunningJob(
    string JobId,
    string TenantId,
    int Priority,
    long Sequence,
    ResourceRequest Request,
    bool Stopping = false)
{
    /// <summary><c>compute.gpu_type</c>, as <see cref="PendingJob.GpuType"/>.</summary>
    public string? GpuType { get; init; }
}

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
