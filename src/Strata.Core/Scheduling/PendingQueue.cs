using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using Strata.Contracts;
using Strata.Core.Runtime;

namespace Strata.Core.Scheduling;

/// <summary>
/// The pending jobs in queue order (<see cref="PendingJobOrder"/>), with what is asked of them: each tenant's
/// queue positions, since when each job waits, why the last cycle left it waiting, the retries' backoff, and
/// whether a pending job outranks a running one of its tenant. Pure and single-threaded: the caller owns the lock.
/// </summary>
public sealed class PendingQueue
{
    private readonly SortedSet<PendingJob> _ordered = new(PendingJobOrder.Instance);
    private readonly Dictionary<string, PendingJob> _byId = new(StringComparer.Ordinal);
    /// <summary>Since when each pending job waits, for the oldest-pending-age metric.</summary>
    private readonly Dictionary<string, DateTimeOffset> _waitingSince = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PendingReason> _reasons = new(StringComparer.Ordinal);
    /// <summary>Jobs in a retry's backoff, kept apart so that finding the next wake-up is not a scan of the queue.</summary>
    private readonly HashSet<PendingJob> _delayed = [];
    private readonly Dictionary<string, TenantQueue> _tenants = new(StringComparer.Ordinal);

    public int Count => _ordered.Count;

    public bool Contains(string jobId) => _byId.ContainsKey(jobId);

    /// <summary>The job as queued (its <see cref="PendingJob.HoldsQuota"/> is the queue's), or false when it is not queued.</summary>
    public bool TryGet(string jobId, [NotNullWhen(true)] out PendingJob? job) => _byId.TryGetValue(jobId, out job);

    /// <summary>
    /// Queues <paramref name="job"/>, waiting since <paramref name="since"/>, in place of the same job queued
    /// before (whose pending reason it keeps).
    /// </summary>
    public void Enqueue(PendingJob job, DateTimeOffset since)
    {
        Unqueue(job.JobId);
        _byId[job.JobId] = job;
        _waitingSince[job.JobId] = since;
        _ordered.Add(job);
        if (job.NotBefore is not null) _delayed.Add(job);
        var tenant = Tenant(job.TenantId);
        tenant.Queue.Add(job);
        tenant.Positions = null;
        if (job.HoldsQuota) tenant.HeldByPending += job.Request;
        else tenant.WaitingForQuota++;
    }

    /// <summary>Takes the job out of the queue (admitted or cancelled) with its pending reason; false when it was not queued.</summary>
    public bool Remove(string jobId)
    {
        _reasons.Remove(jobId);
        return Unqueue(jobId);
    }

    private bool Unqueue(string jobId)
    {
        if (!_byId.Remove(jobId, out var job)) return false;
        _waitingSince.Remove(jobId);
        _ordered.Remove(job);
        _delayed.Remove(job);
        var tenant = Tenant(job.TenantId);
        tenant.Queue.Remove(job);
        tenant.Positions = null;
        if (job.HoldsQuota) tenant.HeldByPending -= job.Request;
        else tenant.WaitingForQuota--;
        return true;
    }

    /// <summary>Takes all of the tenant's jobs out of the queue.</summary>
    public void RemoveTenant(string tenantId)
    {
        if (!_tenants.TryGetValue(tenantId, out var tenant)) return;
        foreach (var job in tenant.Queue.ToList()) Remove(job.JobId);
        _tenants.Remove(tenantId);
    }

    /// <summary>The pending jobs in queue order, as an immutable copy.</summary>
    public PendingJob[] Snapshot() => [.. _ordered];

    /// <summary>When the next retry backoff still running at <paramref name="now"/> ends, if any.</summary>
    public DateTimeOffset? NextBackoffEnd(DateTimeOffset now)
    {
        DateTimeOffset? next = null;
        foreach (var job in _delayed)
        {
            if (job.NotBefore > now && (next is null || job.NotBefore < next)) next = job.NotBefore;
        }
        return next;
    }

    /// <summary>Records why each job was left waiting by a cycle; jobs no longer queued are skipped.</summary>
    public void SetReasons(IEnumerable<WaitingJob> reasons)
    {
        foreach (var (job, reason) in reasons)
        {
            if (_byId.ContainsKey(job.JobId)) _reasons[job.JobId] = reason;
        }
    }

    /// <summary>
    /// Why a pending job waits and its place among its tenant's pending
    /// jobs (1 = next), or nulls when it is not queued.
    /// </summary>
    public (PendingReason? Reason, int? Position) Describe(string jobId, DateTimeOffset now)
    {
        if (!_byId.TryGetValue(jobId, out var job)) return (null, null);
        var tenant = Tenant(job.TenantId);
        if (tenant.Positions is null)
        {
            tenant.Positions = new Dictionary<string, int>(tenant.Queue.Count, StringComparer.Ordinal);
            var position = 1;
            foreach (var queued in tenant.Queue) tenant.Positions[queued.JobId] = position++;
        }
        // A job no cycle has described yet (the scheduler skips cycles while nothing can fit) waits for
        // its quota, its retry's backoff, or capacity.
        var reason = _reasons.TryGetValue(jobId, out var known) ? known
            : (!job.HoldsQuota ? PendingReason.WaitingForQuota
                : job.NotBefore > now ? PendingReason.WaitingForRetry
                : PendingReason.WaitingForCapacity);
        return (reason, tenant.Positions[jobId]);
    }

    /// <summary>
    /// Whether some tenant has a pending job of a higher priority than one of its <paramref name="running"/> jobs
    /// that is not already stopping: only then can a cycle with no free capacity decide anything (a preemption).
    /// </summary>
    public bool MayPreempt(IEnumerable<(string TenantId, RunningJob Job)> running)
    {
        foreach (var (tenantId, job) in running)
        {
            if (!job.Stopping && _tenants.TryGetValue(tenantId, out var tenant) && tenant.Queue.Count > 0
                && tenant.Queue.Min!.Priority > job.Priority)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>The tenant's share of the queue.</summary>
    public TenantPending Of(string tenantId) =>
        _tenants.TryGetValue(tenantId, out var tenant) ? new TenantPending(tenant.Queue.Count, tenant.WaitingForQuota, tenant.HeldByPending) : default;

    /// <summary>Per tenant with pending jobs, in the order of their first job in the queue: how many wait, and since when the longest-waiting one waits.</summary>
    public Dictionary<string, (int Pending, DateTimeOffset OldestWaitingSince)> WaitingByTenant()
    {
        var byTenant = new Dictionary<string, (int Pending, DateTimeOffset OldestWaitingSince)>(StringComparer.Ordinal);
        foreach (var job in _ordered)
        {
            var since = _waitingSince[job.JobId];
            ref var entry = ref CollectionsMarshal.GetValueRefOrAddDefault(byTenant, job.TenantId, out var existed);
            entry = existed ? (entry.Pending + 1, since < entry.OldestWaitingSince ? since : entry.OldestWaitingSince) : (1, since);
        }
        return byTenant;
    }

    private TenantQueue Tenant(string tenantId)
    {
        ref var tenant = ref CollectionsMarshal.GetValueRefOrAddDefault(_tenants, tenantId, out _);
        return tenant ??= new TenantQueue();
    }

    private sealed class TenantQueue
    {
        /// <summary>Its pending jobs in the order they are taken: for queue positions and preemption checks.</summary>
        public SortedSet<PendingJob> Queue { get; } = new(PendingJobOrder.Instance);
        public Dictionary<string, int>? Positions { get; set; }
        public ResourceRequest HeldByPending { get; set; }
        public int WaitingForQuota { get; set; }
    }
}

/// <summary>A tenant's share of a <see cref="PendingQueue"/>.</summary>
/// <param name="Pending">Its pending jobs.</param>
/// <param name="WaitingForQuota">Those of them queued beyond its quota (holding nothing).</param>
/// <param name="HeldByPending">What the others hold of its quota.</param>
public readonly record struct TenantPending(int Pending, int WaitingForQuota, ResourceRequest HeldByPending);
