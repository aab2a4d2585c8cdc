using System.Runtime.InteropServices;
using Strata.Contracts;
using Strata.Core.Quotas;
using Strata.Core.Runtime;
using Strata.Core.Scheduling;

namespace Strata.Server.Scheduling;

/// <summary>How a submission stands against its tenant's quota.</summary>
public enum Reservation
{
    /// <summary>Within the quota: the job holds its share of it from now until it ends.</summary>
    Held,
    /// <summary>Beyond the quota, and the submission asked to wait: pending with <c>waiting_for_quota</c>, holding nothing.</summary>
    Queued,
    /// <summary>Beyond the quota (or the pending-jobs limit): refused.</summary>
    Refused,
}

/// <summary>What a tenant's jobs count against its quota now (for <c>GET /v1/quota</c> and the metrics).</summary>
/// <param name="Held">Resources held by its running jobs and by its pending jobs accepted within the quota.</param>
/// <param name="HeldByPending">The part of <paramref name="Held"/> held by pending jobs.</param>
public readonly record struct TenantQuotaUse(
    ResourceRequest Held, ResourceRequest HeldByPending, int Running, int Pending, int WaitingForQuota, int Deployments = 0, int Replicas = 0);

/// <summary>
/// The scheduler's in-memory view of what waits and what runs: pending jobs in queue order, the resources
/// held by live attempts, and what each tenant's jobs count against its quota. The store is the truth; this
/// is rebuilt from it on start and kept in step by the events that change it (submit, admit, finish,
/// cancel). Quota is taken here, under one lock, before a submission is written, and given back if the
/// write fails: that is what makes parallel submissions unable to overshoot a quota.
/// </summary>
public sealed class JobQueue(TimeProvider time)
{
    private readonly Lock _lock = new();
    private readonly SortedSet<PendingJob> _ordered = new(PendingJobOrder.Instance);
    private readonly Dictionary<string, PendingJob> _byId = new(StringComparer.Ordinal);
    /// <summary>Since when each pending job waits, for the oldest-pending-age metric.</summary>
    private readonly Dictionary<string, DateTimeOffset> _waitingSince = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _reasons = new(StringComparer.Ordinal);
    /// <summary>Jobs in a retry's backoff, kept apart so that finding the next wake-up is not a scan of the queue.</summary>
    private readonly HashSet<PendingJob> _delayed = [];
    /// <summary>Live attempts by name, as the job each runs.</summary>
    private readonly Dictionary<string, (AttemptRef Attempt, RunningJob Job)> _allocations = new(StringComparer.Ordinal);
    /// <summary>Jobs that hold quota (accepted within it, until they end), and what they hold.</summary>
    private readonly Dictionary<string, (string TenantId, ResourceRequest Request)> _holding = new(StringComparer.Ordinal);
    // Quota held by deployments, by "tenant/deployment": their replicas' compute and how many replicas at most.
    private readonly Dictionary<string, (string TenantId, ResourceRequest Request, int Replicas)> _reservations = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TenantLedger> _tenants = new(StringComparer.Ordinal);
    private ResourceRequest _allocated;

    public int PendingCount { get { lock (_lock) return _ordered.Count; } }

    public ResourceRequest Allocated { get { lock (_lock) return _allocated; } }

    /// <summary>
    /// Takes quota for a submission before it is written (see <see cref="Reservation"/>). On
    /// <see cref="Reservation.Refused"/>, <paramref name="excess"/> names the resource; the caller must follow
    /// any other answer with <see cref="Accept"/> once the job is stored, or <see cref="CancelReservation"/>.
    /// </summary>
    public Reservation Reserve(string tenantId, string jobId, ResourceRequest request, QuotaLimits limits, bool queueWhenExceeded, out QuotaExcess? excess)
    {
        lock (_lock)
        {
            var tenant = Ledger(tenantId);
            var pending = tenant.Queue.Count + tenant.Reserving;
            if (pending >= limits.MaxPendingJobs)
            {
                // A queue is not a way around the pending-jobs limit: refused whatever the submission chose.
                excess = new QuotaExcess(QuotaResources.MaxPendingJobs, limits.MaxPendingJobs, pending, 1);
                return Reservation.Refused;
            }
            excess = QuotaMath.Exceeds(limits.Resources, tenant.Held, request);
            if (excess is null)
            {
                Hold(tenant, tenantId, jobId, request);
            }
            else if (!queueWhenExceeded)
            {
                return Reservation.Refused;
            }
            tenant.Reserving++;
            return excess is null ? Reservation.Held : Reservation.Queued;
        }
    }

    /// <summary>The job reserved for could not be stored: gives its quota back.</summary>
    public void CancelReservation(string tenantId, string jobId)
    {
        lock (_lock)
        {
            var tenant = Ledger(tenantId);
            tenant.Reserving--;
            Unhold(jobId);
        }
    }

    /// <summary>The job reserved for is stored: it joins the queue.</summary>
    public void Accept(PendingJob job, DateTimeOffset waitingSince)
    {
        lock (_lock)
        {
            Ledger(job.TenantId).Reserving--;
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

    private void EnqueueLocked(PendingJob job, DateTimeOffset since)
    {
        RemoveLocked(job.JobId);
        job = job with { HoldsQuota = _holding.ContainsKey(job.JobId) };
        _byId[job.JobId] = job;
        _waitingSince[job.JobId] = since;
        _ordered.Add(job);
        if (job.NotBefore is not null) _delayed.Add(job);
        var tenant = Ledger(job.TenantId);
        tenant.Queue.Add(job);
        tenant.Positions = null;
        if (job.HoldsQuota) tenant.HeldByPending += job.Request;
        else tenant.WaitingForQuota++;
    }

    /// <summary>Takes a job out of the queue (cancelled); its quota stays held until <see cref="ReleaseQuota"/>.</summary>
    public bool Remove(string jobId)
    {
        lock (_lock)
        {
            _reasons.Remove(jobId);
            return RemoveLocked(jobId);
        }
    }

    private bool RemoveLocked(string jobId)
    {
        if (!_byId.Remove(jobId, out var job)) return false;
        _waitingSince.Remove(jobId);
        _ordered.Remove(job);
        _delayed.Remove(job);
        var tenant = Ledger(job.TenantId);
        tenant.Queue.Remove(job);
        tenant.Positions = null;
        if (job.HoldsQuota) tenant.HeldByPending -= job.Request;
        else tenant.WaitingForQuota--;
        return true;
    }

    /// <summary>
    /// Takes an admitted job out of the queue. A job queued beyond its quota takes its quota now; if a
    /// submission took that room since the cycle's snapshot, it stays queued and false is returned.
    /// </summary>
    public bool TryAdmit(PendingJob job, QuotaLimits limits)
    {
        lock (_lock)
        {
            if (!_byId.TryGetValue(job.JobId, out var queued)) return false;
            var tenant = Ledger(job.TenantId);
            if (!queued.HoldsQuota)
            {
                if (QuotaMath.Exceeds(limits.Resources, tenant.Held, job.Request) is not null) return false;
                Hold(tenant, job.TenantId, job.JobId, job.Request);
            }
            _reasons.Remove(job.JobId);
            RemoveLocked(job.JobId);
            return true;
        }
    }

    /// <summary>On start: gives quota to a job the store says is running, or to a pending one if it fits (in submission order).</summary>
    public bool TryHold(string tenantId, string jobId, ResourceRequest request, QuotaLimits? limits)
    {
        lock (_lock)
        {
            var tenant = Ledger(tenantId);
            if (limits is not null && QuotaMath.Exceeds(limits.Resources, tenant.Held, request) is not null) return false;
            Hold(tenant, tenantId, jobId, request);
            return true;
        }
    }

    /// <summary>The job has ended (or was cancelled): what it held of the quota is free again. Idempotent.</summary>
    public void ReleaseQuota(string jobId)
    {
        lock (_lock) Unhold(jobId);
    }

    private void Hold(TenantLedger tenant, string tenantId, string jobId, ResourceRequest request)
    {
        if (_holding.TryAdd(jobId, (tenantId, request))) tenant.Held += request;
    }

    private void Unhold(string jobId)
    {
        if (_holding.Remove(jobId, out var held)) Ledger(held.TenantId).Held -= held.Request;
    }

    /// <summary>
    /// Holds quota for a deployment's <paramref name="replicas"/> at their most (<paramref name="request"/>
    /// is their compute together), in place of what <paramref name="key"/> held before; jobs then fit in
    /// what is left. With <paramref name="limits"/> only when it fits: otherwise the excess is returned and
    /// the old reservation stays.
    /// </summary>
    public QuotaExcess? ReserveForDeployment(string tenantId, string key, ResourceRequest request, int replicas, QuotaLimits? limits)
    {
        lock (_lock)
        {
            var tenant = Ledger(tenantId);
            var known = _reservations.TryGetValue(key, out var before);
            if (limits is not null && QuotaMath.Exceeds(limits.Resources, tenant.Held - before.Request, request) is { } excess) return excess;
            tenant.Held += request - before.Request;
            tenant.Reserved += request - before.Request;
            tenant.Replicas += replicas - before.Replicas;
            if (!known) tenant.Deployments++;
            _reservations[key] = (tenantId, request, replicas);
            return null;
        }
    }

    /// <summary>Gives back what <see cref="ReserveForDeployment"/> held under <paramref name="key"/>. Idempotent.</summary>
    public void ReleaseDeployment(string key)
    {
        lock (_lock)
        {
            if (!_reservations.Remove(key, out var held)) return;
            var tenant = Ledger(held.TenantId);
            tenant.Held -= held.Request;
            tenant.Reserved -= held.Request;
            tenant.Replicas -= held.Replicas;
            tenant.Deployments--;
        }
    }

    public void RemoveTenant(string tenantId)
    {
        lock (_lock)
        {
            foreach (var key in _reservations.Where(r => r.Value.TenantId == tenantId).Select(r => r.Key).ToList())
            {
                _reservations.Remove(key);
            }
            foreach (var job in _ordered.Where(j => j.TenantId == tenantId).ToList())
            {
                RemoveLocked(job.JobId);
                _reasons.Remove(job.JobId);
            }
            foreach (var jobId in _holding.Where(h => h.Value.TenantId == tenantId).Select(h => h.Key).ToList())
            {
                _holding.Remove(jobId);
            }
            // Its live attempts keep their capacity until the reconciler has stopped them.
            if (_tenants.TryGetValue(tenantId, out var tenant) && tenant.Running == 0) _tenants.Remove(tenantId);
            else if (tenant is not null)
            {
                tenant.Held = tenant.Reserved = default;
                tenant.Deployments = tenant.Replicas = 0;
            }
        }
    }

    /// <summary>When the next retry backoff still running at <paramref name="now"/> ends, if any.</summary>
    public DateTimeOffset? NextBackoffEnd(DateTimeOffset now)
    {
        lock (_lock)
        {
            DateTimeOffset? next = null;
            foreach (var job in _delayed)
            {
                if (job.NotBefore > now && (next is null || job.NotBefore < next)) next = job.NotBefore;
            }
            return next;
        }
    }

    public bool Contains(string jobId)
    {
        lock (_lock) return _byId.ContainsKey(jobId);
    }

    /// <summary>The pending jobs in queue order, as an immutable copy.</summary>
    public PendingJob[] Snapshot()
    {
        lock (_lock) return [.. _ordered];
    }

    /// <summary>Everything a scheduling cycle decides on, copied under one lock.</summary>
    public SchedulingSnapshot TakeSnapshot(ResourceRequest capacity, IReadOnlyDictionary<string, QuotaLimits> quotas, DateTimeOffset now)
    {
        lock (_lock)
        {
            var running = new RunningJob[_allocations.Count];
            var i = 0;
            foreach (var allocation in _allocations.Values) running[i++] = allocation.Job;
            return new SchedulingSnapshot { Pending = [.. _ordered], Running = running, Capacity = capacity, Quotas = LessReservations(quotas), Now = now };
        }
    }

    /// <summary>The policy counts jobs against a quota: for it, what deployments reserve is not there at all.</summary>
    private IReadOnlyDictionary<string, QuotaLimits> LessReservations(IReadOnlyDictionary<string, QuotaLimits> quotas)
    {
        if (_reservations.Count == 0) return quotas;
        var jobsShare = new Dictionary<string, QuotaLimits>(quotas, StringComparer.Ordinal);
        foreach (var (tenantId, limits) in quotas)
        {
            if (_tenants.TryGetValue(tenantId, out var tenant) && tenant.Reserved != default)
            {
                jobsShare[tenantId] = limits with { Resources = limits.Resources - tenant.Reserved };
            }
        }
        return jobsShare;
    }

    /// <summary>
    /// Whether some tenant has a pending job of a higher priority than one of its running jobs: only then
    /// can a cycle with no free capacity decide anything (a preemption).
    /// </summary>
    public bool MayPreempt()
    {
        lock (_lock)
        {
            foreach (var (attempt, job) in _allocations.Values)
            {
                if (!job.Stopping && _tenants.TryGetValue(attempt.TenantId, out var tenant) && tenant.Queue.Count > 0
                    && tenant.Queue.Min!.Priority > job.Priority)
                {
                    return true;
                }
            }
            return false;
        }
    }

    /// <summary>Records why each job was left waiting by the last cycle.</summary>
    public void SetReasons(IEnumerable<PendingReason> reasons)
    {
        lock (_lock)
        {
            foreach (var (job, reason) in reasons)
            {
                if (_byId.ContainsKey(job.JobId)) _reasons[job.JobId] = reason;
            }
        }
    }

    /// <summary>
    /// Why a pending job waits and its place among its tenant's pending jobs (1 = next), or nulls when it is
    /// not queued here.
    /// </summary>
    public (string? Reason, int? Position) Describe(string jobId)
    {
        lock (_lock)
        {
            if (!_byId.TryGetValue(jobId, out var job)) return (null, null);
            var tenant = Ledger(job.TenantId);
            if (tenant.Positions is null)
            {
                tenant.Positions = new Dictionary<string, int>(tenant.Queue.Count, StringComparer.Ordinal);
                var position = 1;
                foreach (var queued in tenant.Queue) tenant.Positions[queued.JobId] = position++;
            }
            // A job no cycle has described yet (the scheduler skips cycles while nothing can fit) waits for
            // its quota, its retry's backoff, or capacity.
            var reason = _reasons.GetValueOrDefault(jobId)
                ?? (!job.HoldsQuota ? StatusReasons.WaitingForQuota
                    : job.NotBefore > time.GetUtcNow() ? StatusReasons.WaitingForRetry
                    : StatusReasons.WaitingForCapacity);
            return (reason, tenant.Positions[jobId]);
        }
    }

    /// <summary>Holds the job's request for a live attempt; idempotent.</summary>
    public void Allocate(AttemptRef attempt, RunningJob job)
    {
        lock (_lock)
        {
            if (!_allocations.TryAdd(attempt.Name, (attempt, job))) return;
            _allocated += job.Request;
            Ledger(attempt.TenantId).Running++;
        }
    }

    /// <summary>Gives back what a finished attempt held; idempotent.</summary>
    public void Release(string attemptName)
    {
        lock (_lock)
        {
            if (!_allocations.Remove(attemptName, out var held)) return;
            _allocated -= held.Job.Request;
            Ledger(held.Attempt.TenantId).Running--;
        }
    }

    public bool IsAllocated(string attemptName)
    {
        lock (_lock) return _allocations.ContainsKey(attemptName);
    }

    /// <summary>Marks the live attempt of <paramref name="jobId"/> as being preempted; returns it, or null when it no longer runs.</summary>
    public AttemptRef? MarkStopping(string jobId)
    {
        lock (_lock)
        {
            foreach (var (name, allocation) in _allocations)
            {
                if (allocation.Job.JobId != jobId) continue;
                _allocations[name] = (allocation.Attempt, allocation.Job with { Stopping = true });
                return allocation.Attempt;
            }
            return null;
        }
    }

    /// <summary>What the tenant's jobs count against its quota now.</summary>
    public TenantQuotaUse QuotaUse(string tenantId)
    {
        lock (_lock)
        {
            if (!_tenants.TryGetValue(tenantId, out var tenant)) return default;
            return new TenantQuotaUse(tenant.Held, tenant.HeldByPending, tenant.Running, tenant.Queue.Count, tenant.WaitingForQuota, tenant.Deployments, tenant.Replicas);
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
            foreach (var job in _ordered)
            {
                var since = _waitingSince[job.JobId];
                ref var entry = ref CollectionsMarshal.GetValueRefOrAddDefault(summary, job.TenantId, out var existed);
                entry = existed
                    ? entry with { Pending = entry.Pending + 1, OldestWaitingSince = since < entry.OldestWaitingSince ? since : entry.OldestWaitingSince }
                    : new TenantQueueSummary(1, since, 0);
            }
            foreach (var (attempt, _) in _allocations.Values)
            {
                ref var entry = ref CollectionsMarshal.GetValueRefOrAddDefault(summary, attempt.TenantId, out _);
                entry = entry with { Running = entry.Running + 1 };
            }
            return summary;
        }
    }

    private TenantLedger Ledger(string tenantId)
    {
        ref var tenant = ref CollectionsMarshal.GetValueRefOrAddDefault(_tenants, tenantId, out _);
        return tenant ??= new TenantLedger();
    }

    /// <summary>One tenant's share of the queue and of its quota.</summary>
    private sealed class TenantLedger
    {
        /// <summary>Its pending jobs in the order they are taken: for queue positions and preemption checks.</summary>
        public SortedSet<PendingJob> Queue { get; } = new(PendingJobOrder.Instance);
        public Dictionary<string, int>? Positions { get; set; }
        /// <summary>Submissions that took quota and are being written.</summary>
        public int Reserving { get; set; }
        /// <summary>What counts against its quota: its admitted jobs', its pending jobs' that took quota, and <see cref="Reserved"/>.</summary>
        public ResourceRequest Held { get; set; }
        public ResourceRequest HeldByPending { get; set; }
        /// <summary>The part of <see cref="Held"/> that is not jobs': its deployments' replicas.</summary>
        public ResourceRequest Reserved { get; set; }
        /// <summary>Its deployments, and their replicas at the most (max and canary share), as the quota counts them.</summary>
        public int Deployments { get; set; }
        public int Replicas { get; set; }
        public int WaitingForQuota { get; set; }
        public int Running { get; set; }
    }
}

/// <summary>A tenant's share of the queue: its pending jobs, since when the oldest waits (null when none), its live attempts.</summary>
public readonly record struct TenantQueueSummary(int Pending, DateTimeOffset? OldestWaitingSince, int Running);
