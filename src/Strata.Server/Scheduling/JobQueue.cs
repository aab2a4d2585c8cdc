using System.Runtime.InteropServices;
using Strata.Contracts;
using Strata.Core.Runtime;
using Strata.Core.Scheduling;

namespace Strata.Server.Scheduling;

/// <summary>
/// The scheduler's in-memory view of what waits and what runs: pending jobs in queue order, and the
/// resources held by live attempts. The store is the truth; this is rebuilt from it on start and kept
/// in step by the events that change it (submit, admit, finish, cancel).
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
    private readonly Dictionary<string, (string TenantId, ResourceRequest Request)> _allocations = new(StringComparer.Ordinal);
    private ResourceRequest _allocated;
    private Dictionary<string, int>? _positions;

    public int PendingCount { get { lock (_lock) return _ordered.Count; } }

    public ResourceRequest Allocated { get { lock (_lock) return _allocated; } }

    /// <summary>Queues <paramref name="job"/> (again).</summary>
    /// <param name="waitingSince">
    /// Since when it waits: its submission. When left out, the end of its retry's backoff, or now.
    /// </param>
    public void Enqueue(PendingJob job, DateTimeOffset? waitingSince = null)
    {
        var since = waitingSince ?? job.NotBefore ?? time.GetUtcNow();
        lock (_lock)
        {
            if (_byId.Remove(job.JobId, out var old))
            {
                _ordered.Remove(old);
                _delayed.Remove(old);
            }
            _byId[job.JobId] = job;
            _waitingSince[job.JobId] = since;
            _ordered.Add(job);
            if (job.NotBefore is not null) _delayed.Add(job);
            _positions = null;
        }
    }

    public bool Remove(string jobId)
    {
        lock (_lock)
        {
            _reasons.Remove(jobId);
            if (!_byId.Remove(jobId, out var job)) return false;
            _waitingSince.Remove(jobId);
            _ordered.Remove(job);
            _delayed.Remove(job);
            _positions = null;
            return true;
        }
    }

    public void RemoveTenant(string tenantId)
    {
        lock (_lock)
        {
            foreach (var job in _ordered.Where(j => j.TenantId == tenantId).ToList())
            {
                _ordered.Remove(job);
                _delayed.Remove(job);
                _byId.Remove(job.JobId);
                _waitingSince.Remove(job.JobId);
                _reasons.Remove(job.JobId);
            }
            _positions = null;
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

    /// <summary>Records why each job was left waiting by the last cycle.</summary>
    public void SetReasons(IEnumerable<(string JobId, string Reason)> reasons)
    {
        lock (_lock)
        {
            foreach (var (jobId, reason) in reasons)
            {
                if (_byId.ContainsKey(jobId)) _reasons[jobId] = reason;
            }
        }
    }

    /// <summary>Why a pending job waits and its place in the queue (1 = next), or nulls when it is not queued here.</summary>
    public (string? Reason, int? Position) Describe(string jobId)
    {
        lock (_lock)
        {
            if (!_byId.TryGetValue(jobId, out var job)) return (null, null);
            if (_positions is null)
            {
                _positions = new Dictionary<string, int>(_ordered.Count, StringComparer.Ordinal);
                var position = 1;
                foreach (var queued in _ordered) _positions[queued.JobId] = position++;
            }
            // A job no cycle has described yet (the scheduler skips cycles while nothing can fit) waits for
            // capacity, or for its retry's backoff.
            var reason = _reasons.GetValueOrDefault(jobId)
                ?? (job.NotBefore > time.GetUtcNow() ? StatusReasons.WaitingForRetry : StatusReasons.WaitingForCapacity);
            return (reason, _positions[jobId]);
        }
    }

    /// <summary>Holds <paramref name="request"/> for a live attempt; idempotent.</summary>
    public void Allocate(AttemptRef attempt, ResourceRequest request)
    {
        lock (_lock)
        {
            if (_allocations.TryAdd(attempt.Name, (attempt.TenantId, request))) _allocated += request;
        }
    }

    /// <summary>Gives back what a finished attempt held; idempotent.</summary>
    public void Release(string attemptName)
    {
        lock (_lock)
        {
            if (_allocations.Remove(attemptName, out var held)) _allocated -= held.Request;
        }
    }

    public bool IsAllocated(string attemptName)
    {
        lock (_lock) return _allocations.ContainsKey(attemptName);
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
            foreach (var (tenantId, _) in _allocations.Values)
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
