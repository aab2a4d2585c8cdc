using System.Runtime.InteropServices;
using Strata.Contracts;
using Strata.Core.Quotas;
using Strata.Core.Runtime;
using Strata.Core.Scheduling;

namespace Strata.Server.Queue;

/// <summary>What a tenant's jobs count against its quota now (for <c>GET /v1/quota</c> and the metrics).</summary>
/// <param name="Held">Resources held by its running jobs and by its pending jobs accepted within the quota.</param>
/// <param name="HeldByPending">The part of <paramref name="Held"/> held by pending jobs.</param>
public readonly record struct TenantQuotaUse(
    ResourceRequest Held, ResourceRequest HeldByPending, int Running, int Pending, int WaitingForQuota, int Deployments = 0, int Replicas = 0);

/// <summary>
/// The scheduler's in-memory state behind one lock: the pending jobs (<see cref="PendingQueue"/>), who holds
/// what of each tenant's quota (<see cref="QuotaLedger"/>, jobs and deployments), and what live attempts hold
/// of the runtime's capacity (<see cref="CapacityBook"/>). The store is the truth; this is rebuilt from it on
/// start and kept in step by the events that change it (submit, admit, finish, cancel). Quota is taken here,
/// under the lock, before a submission is written, and given back if the write fails: that is what makes
/// parallel submissions unable to overshoot a quota. Each operation that touches more than one of the three
/// does so under the one lock, so that none is ever seen out of step with another.
/// </summary>
public sealed class JobQueue(TimeProvider time)
{
    private readonly Lock _lock = new();
    private readonly TaskCompletionSource _loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly PendingQueue _pending = new();
    private readonly QuotaLedger _ledger = new();
    private readonly CapacityBook _capacity = new();

    /// <summary>Completes once the scheduler has filled the queue from the store; quota cannot be taken before.</summary>
    public Task Loaded => _loaded.Task;

    /// <summary>The queue now holds what the store says: submissions may take quota.</summary>
    public void MarkLoaded() => _loaded.TrySetResult();

    public int PendingCount { get { lock (_lock) return _pending.Count; } }

    public ResourceRequest Allocated { get { lock (_lock) return _capacity.Allocated; } }

    /// <summary>
    /// Takes quota for a submission before it is written (see <see cref="QuotaLedger.Reserve"/>). On
    /// <see cref="Reservation.Refused"/>, <paramref name="excess"/> names the resource; the caller must follow
    /// any other answer with <see cref="Accept"/> once the job is stored, or <see cref="CancelReservation"/>.
    /// </summary>
    public Reservation Reserve(string tenantId, string jobId, ResourceRequest request, QuotaLimits limits, bool queueWhenExceeded, out QuotaExcess? excess)
    {
        lock (_lock) return _ledger.Reserve(tenantId, jobId, request, limits, _pending.Of(tenantId).Pending, queueWhenExceeded, out excess);
    }

    /// <summary>The job reserved for could not be stored: gives its quota back.</summary>
    public void CancelReservation(string tenantId, string jobId)
    {
        lock (_lock) _ledger.CancelReservation(tenantId, jobId);
    }

    /// <summary>The job reserved for is stored: it joins the queue.</summary>
    public void Accept(PendingJob job, DateTimeOffset waitingSince)
    {
        lock (_lock)
        {
            _ledger.Written(job.TenantId);
            EnqueueLocked(job, waitingSince);
        }
    }

    /// <summary>Queues <paramref name="job"/> (again: a retry, a preempted job, or on start).</summary>
    /// <param name="waitingSince">
    /// Since when it waits: its submission. When left out, the end of its retry's backoff, or now.
    /// </param>
    public void Enqueue(PendingJob job, DateTimeOffset? waitingSince = null)
    {
        lock (_lock) EnqueueLocked(job, waitingSince ?? job.NotBefore ?? time.GetUtcNow());
    }

    private void EnqueueLocked(PendingJob job, DateTimeOffset since) =>
        _pending.Enqueue(job with { HoldsQuota = _ledger.Holds(job.JobId) }, since);

    /// <summary>Takes a job out of the queue (cancelled); its quota stays held until <see cref="ReleaseQuota"/>.</summary>
    public bool Remove(string jobId)
    {
        lock (_lock) return _pending.Remove(jobId);
    }

    /// <summary>
    /// Takes an admitted job out of the queue. A job queued beyond its quota takes its quota now; if a
    /// submission took that room since the cycle's snapshot, it stays queued and false is returned.
    /// </summary>
    public bool TryAdmit(PendingJob job, QuotaLimits limits)
    {
        lock (_lock)
        {
            if (!_pending.TryGet(job.JobId, out var queued)) return false;
            if (!queued.HoldsQuota && !_ledger.TryHold(job.TenantId, job.JobId, job.Request, limits.Resources)) return false;
            _pending.Remove(job.JobId);
            return true;
        }
    }

    /// <summary>On start: gives quota to a job the store says is running, or to a pending one if it fits (in submission order).</summary>
    public bool TryHold(string tenantId, string jobId, ResourceRequest request, QuotaLimits? limits)
    {
        lock (_lock) return _ledger.TryHold(tenantId, jobId, request, limits?.Resources);
    }

    /// <summary>The job has ended (or was cancelled): what it held of the quota is free again. Idempotent.</summary>
    public void ReleaseQuota(string jobId)
    {
        lock (_lock) _ledger.Release(jobId);
    }

    /// <summary>See <see cref="QuotaLedger.ReserveForDeployment"/>.</summary>
    public QuotaExcess? ReserveForDeployment(string tenantId, string deployment, ResourceRequest request, int replicas, QuotaLimits? limits)
    {
        lock (_lock) return _ledger.ReserveForDeployment(tenantId, deployment, request, replicas, limits?.Resources);
    }

    /// <summary>Gives back what <see cref="ReserveForDeployment"/> reserved for the deployment. Idempotent.</summary>
    public void ReleaseDeployment(string tenantId, string deployment)
    {
        lock (_lock) _ledger.ReleaseDeployment(tenantId, deployment);
    }

    /// <summary>Forgets the tenant's pending jobs and what it holds of its quota. Its live attempts keep their capacity until the reconciler has stopped them.</summary>
    public void RemoveTenant(string tenantId)
    {
        lock (_lock)
        {
            _pending.RemoveTenant(tenantId);
            _ledger.RemoveTenant(tenantId);
        }
    }

    /// <summary>When the next retry backoff still running at <paramref name="now"/> ends, if any.</summary>
    public DateTimeOffset? NextBackoffEnd(DateTimeOffset now)
    {
        lock (_lock) return _pending.NextBackoffEnd(now);
    }

    public bool Contains(string jobId)
    {
        lock (_lock) return _pending.Contains(jobId);
    }

    /// <summary>The pending jobs in queue order, as an immutable copy.</summary>
    public PendingJob[] Snapshot()
    {
        lock (_lock) return _pending.Snapshot();
    }

    /// <summary>
    /// Everything a scheduling cycle decides on, copied under one lock; the quotas less what deployments reserve.
    /// <paramref name="gpus"/> is the runtime's devices and who holds them, read before this (so that an attempt it
    /// places meanwhile is still counted, from the allocations here); null where it keeps no inventory.
    /// </summary>
    public SchedulingSnapshot TakeSnapshot(ResourceRequest capacity, IReadOnlyDictionary<string, QuotaLimits> quotas, DateTimeOffset now, GpuOccupancy? gpus = null)
    {
        lock (_lock)
        {
            return new SchedulingSnapshot
            {
                Pending = _pending.Snapshot(), Running = _capacity.Running(), Capacity = capacity, Quotas = _ledger.JobsShare(quotas), Now = now,
                Gpus = gpus is null ? null : _capacity.GpuPool(gpus),
            };
        }
    }

    /// <summary>See <see cref="PendingQueue.MayPreempt"/>.</summary>
    public bool MayPreempt()
    {
        lock (_lock) return _pending.MayPreempt(_capacity.Live());
    }

    /// <summary>Records why each job was left waiting by the last cycle.</summary>
    public void SetReasons(IEnumerable<WaitingJob> reasons)
    {
        lock (_lock) _pending.SetReasons(reasons);
    }

    /// <summary>
    /// Why a pending job waits and its place among its tenant's pending jobs (1 = next), or nulls when it is
    /// not queued here.
    /// </summary>
    public (PendingReason? Reason, int? Position) Describe(string jobId)
    {
        lock (_lock) return _pending.Describe(jobId, time.GetUtcNow());
    }

    /// <summary>
    /// For a pending job waiting for quota: what it would exceed, and who holds what is in use (jobs,
    /// deployments); null for any other job.
    /// </summary>
    public QuotaExcess? QuotaWait(string jobId, QuotaLimits limits)
    {
        lock (_lock)
        {
            if (!_pending.TryGet(jobId, out var job) || _pending.Describe(jobId, time.GetUtcNow()).Reason != PendingReason.WaitingForQuota) return null;
            if (_ledger.WouldExceed(job.TenantId, job.Request, limits.Resources) is { } excess) return excess;
            // Its resources fit: it waits for one of the tenant's running jobs to end.
            var running = _capacity.RunningOf(job.TenantId);
            return running >= limits.MaxRunningJobs ? new QuotaExcess(QuotaResource.MaxRunningJobs, limits.MaxRunningJobs, running, 1) : null;
        }
    }

    /// <summary>Holds the job's request for a live attempt; idempotent.</summary>
    public void Allocate(AttemptRef attempt, RunningJob job)
    {
        lock (_lock) _capacity.Allocate(attempt, job);
    }

    /// <summary>Gives back what a finished attempt held; idempotent.</summary>
    public void Release(string attemptName)
    {
        lock (_lock) _capacity.Release(attemptName);
    }

    /// <summary>Marks the live attempt of <paramref name="jobId"/> as being preempted; returns it, or null when it no longer runs.</summary>
    public AttemptRef? MarkStopping(string jobId)
    {
        lock (_lock) return _capacity.MarkStopping(jobId);
    }

    /// <summary>What the tenant's jobs count against its quota now.</summary>
    public TenantQuotaUse QuotaUse(string tenantId)
    {
        lock (_lock)
        {
            var held = _ledger.Of(tenantId);
            var pending = _pending.Of(tenantId);
            return new TenantQuotaUse(held.Held, pending.HeldByPending, _capacity.RunningOf(tenantId), pending.Pending, pending.WaitingForQuota, held.Deployments, held.Replicas);
        }
    }

    /// <summary>
    /// Per tenant: how many jobs wait, since when the longest-waiting one waits, and how many attempts
    /// hold resources (its running jobs). One pass under the lock, for the metrics' scrape; tenants with
    /// neither are left out.
    /// </summary>
    public Dictionary<string, TenantQueueSummary> SummarizeByTenant()
    {
        lock (_lock)
        {
            var summary = new Dictionary<string, TenantQueueSummary>(StringComparer.Ordinal);
            foreach (var (tenantId, waiting) in _pending.WaitingByTenant())
            {
                summary[tenantId] = new TenantQueueSummary(waiting.Pending, waiting.OldestWaitingSince, 0);
            }
            foreach (var (tenantId, _) in _capacity.Live())
            {
                ref var entry = ref CollectionsMarshal.GetValueRefOrAddDefault(summary, tenantId, out _);
                entry = entry with { Running = entry.Running + 1 };
            }
            return summary;
        }
    }
}

/// <summary>A tenant's share of the queue: its pending jobs, since when the oldest waits (null when none), its live attempts.</summary>
public readonly record struct TenantQueueSummary(int Pending, DateTimeOffset? OldestWaitingSince, int Running);
