using Strata.Contracts;
using Strata.Core.Quotas;
using Strata.Core.Runtime;

namespace Strata.Core.Scheduling;

/// <summary>A job left pending by a cycle, and why.</summary>
public readonly record struct WaitingJob(PendingJob Job, PendingReason Reason);

/// <summary>Running jobs to stop so that <paramref name="For"/>, of the same tenant and a higher priority, can start.</summary>
public sealed record Preemption(PendingJob For, IReadOnlyList<RunningJob> Victims);

/// <summary>What one scheduling cycle decided.</summary>
public sealed record SchedulingPlan(IReadOnlyList<PendingJob> Admitted, IReadOnlyList<WaitingJob> Waiting, IReadOnlyList<Preemption> Preemptions);

/// <summary>An immutable picture of everything a cycle decides on.</summary>
public sealed record SchedulingSnapshot
{
    /// <summary>Every pending job, in <see cref="PendingJobOrder"/> (the order within each tenant is kept).</summary>
    public required IReadOnlyList<PendingJob> Pending { get; init; }
    /// <summary>The jobs whose attempts hold resources now.</summary>
    public IReadOnlyList<RunningJob> Running { get; init; } = [];
    /// <summary>All the runtime can run at once; what running jobs hold is taken from it.</summary>
    public required ResourceRequest Capacity { get; init; }
    /// <summary>Each tenant's quota and weight; a tenant not in it is unlimited, of weight 1.</summary>
    public IReadOnlyDictionary<string, QuotaLimits> Quotas { get; init; } = new Dictionary<string, QuotaLimits>();
    /// <summary>
    /// The runtime's GPUs and what is held of each (<see cref="CapacityBook.GpuPool"/>), where it knows its devices:
    /// a job that asks for GPUs then fits only where devices of its type have room for it. Null: GPUs are counted only.
    /// </summary>
    public GpuPool? Gpus { get; init; }
    public required DateTimeOffset Now { get; init; }
}

/// <summary>
/// The scheduling policy: one cycle over a snapshot, pure arithmetic (no I/O, no clock but the snapshot's).
/// It reads top to bottom:
/// 1. per tenant: what it runs, what counts against its quota, its pending jobs in order (priority, then age);
/// 2. tenants in a heap keyed by weighted dominant-resource share (DRF): the tenant furthest below its fair
///    share goes next;
/// 3. the tenant's next job is admitted if it fits both the free capacity and the tenant's quota (a
///    distributed job's workers all or none) and, where the runtime knows its GPUs, devices of its type have
///    room for it (<see cref="GpuPool"/>); else it waits with a typed reason; the tenant goes back into the
///    heap with its new share;
/// 4. when a job waits for capacity, lower-priority running jobs of the same tenant are chosen to be
///    preempted, all that are needed or none (counted in resources, not devices: stopping them may free
///    GPUs of another type than the job's).
/// A job that does not fit does not block smaller ones behind it (best-effort, as Kueue's default), except
/// behind a job that preemption is making room for. Each pending job is looked at once per cycle, and each
/// look costs one heap operation over the tenants: O(jobs × log tenants).
/// </summary>
public static class SchedulingPolicy
{
    public static SchedulingPlan Plan(SchedulingSnapshot snapshot)
    {
        // 1. Per tenant.
        var tenants = new Dictionary<string, TenantState>(StringComparer.Ordinal);
        var free = snapshot.Capacity;
        var gpus = snapshot.Gpus?.Copy();
        foreach (var running in snapshot.Running)
        {
            var tenant = TenantOf(running.TenantId);
            tenant.Running += running.Request;
            tenant.Held += running.Request;
            tenant.RunningJobs++;
            (tenant.RunningList ??= []).Add(running);
            if (running.Stopping) tenant.Stopping += running.Request;
            free -= running.Request;
        }
        // The smallest request in each resource: when it does not fit, nothing does.
        var smallest = new ResourceRequest(double.MaxValue, long.MaxValue, int.MaxValue);
        foreach (var job in snapshot.Pending)
        {
            var tenant = TenantOf(job.TenantId);
            tenant.Queue.Add(job);
            if (job.HoldsQuota) tenant.Held += job.Request;
            smallest = ResourceRequest.WithMilliGpus(
                Math.Min(smallest.CpuCores, job.Request.CpuCores), Math.Min(smallest.MemoryBytes, job.Request.MemoryBytes), Math.Min(smallest.MilliGpus, job.Request.MilliGpus));
        }

        // 2. Tenants by weighted dominant share, lowest first.
        var heap = new PriorityQueue<TenantState, ShareKey>(tenants.Count, ShareKey.Order);
        foreach (var tenant in tenants.Values)
        {
            if (tenant.Queue.Count > 0) heap.Enqueue(tenant, tenant.Key(snapshot.Capacity));
        }

        // 3. Admit what fits; say why the others wait. Once not even the smallest request fits, no admission
        //    is possible: the rest is only told why it waits, tenant by tenant, without the heap.
        var admitted = new List<PendingJob>();
        var waiting = new List<WaitingJob>(snapshot.Pending.Count);
        var preemptions = new List<Preemption>();
        while (heap.TryDequeue(out var tenant, out _))
        {
            if (!smallest.FitsIn(free))
            {
                do
                {
                    while (tenant.Next < tenant.Queue.Count) Decide(tenant, tenant.Queue[tenant.Next++]);
                }
                while (heap.TryDequeue(out tenant, out _));
                break;
            }
            Decide(tenant, tenant.Queue[tenant.Next++]);
            if (tenant.Next < tenant.Queue.Count) heap.Enqueue(tenant, tenant.Key(snapshot.Capacity));
        }
        return new SchedulingPlan(admitted, waiting, preemptions);

        void Decide(TenantState tenant, PendingJob job)
        {
            var reason = WhyNot(tenant, job, free, gpus, snapshot.Now);
            if (reason is null)
            {
                admitted.Add(job);
                free -= job.Request;
                if (GpuDemand.Of(job.Request, job.GpuType) is { } demand) gpus?.TryPlace(demand);
                tenant.Running += job.Request;
                tenant.RunningJobs++;
                if (!job.HoldsQuota) tenant.Held += job.Request;
                return;
            }
            waiting.Add(new WaitingJob(job, reason.Value));
            // 4. A job that waits for capacity may preempt lower-priority jobs of its own tenant.
            if (reason == PendingReason.WaitingForCapacity && !tenant.MakingRoom)
            {
                tenant.MakingRoom = MakeRoom(tenant, job, free, preemptions);
            }
        }

        TenantState TenantOf(string tenantId)
        {
            if (!tenants.TryGetValue(tenantId, out var state))
            {
                state = new TenantState(snapshot.Quotas.GetValueOrDefault(tenantId) ?? QuotaLimits.Unlimited);
                tenants[tenantId] = state;
            }
            return state;
        }
    }

    /// <summary>Why <paramref name="job"/> cannot start now, or null when it can.</summary>
    private static PendingReason? WhyNot(TenantState tenant, PendingJob job, ResourceRequest free, GpuPool? gpus, DateTimeOffset now)
    {
        if (job.NotBefore is { } notBefore && notBefore > now) return PendingReason.WaitingForRetry;
        // The tenant's own limits come first: they are what it can act on, and capacity may never help.
        if (tenant.RunningJobs >= tenant.Quota.MaxRunningJobs) return PendingReason.WaitingForQuota;
        if (!job.HoldsQuota && QuotaMath.Exceeds(tenant.Quota.Resources, tenant.Held, job.Request) is not null) return PendingReason.WaitingForQuota;
        // Behind a job that preemption makes room for, nothing of the tenant jumps into that room.
        if (tenant.MakingRoom) return PendingReason.WaitingForCapacity;
        // The whole request at once: a distributed job's workers start all together or not at all.
        if (!job.Request.FitsIn(free)) return PendingReason.WaitingForCapacity;
        // Enough GPUs in number is not enough: devices of its type must have room for it (a share fits only
        // where a device has that much left).
        if (gpus is not null && GpuDemand.Of(job.Request, job.GpuType) is { } demand && gpus.Choose(demand) is null) return PendingReason.WaitingForCapacity;
        return null;
    }

    /// <summary>
    /// Chooses running jobs of the tenant, of lower priority than <paramref name="job"/>, to stop so that it fits:
    /// the lowest priority first and, among equals, the most recently submitted (it has lost the least work).
    /// True when room is being made (now, or by stops already under way); nothing is chosen unless enough can be.
    /// </summary>
    private static bool MakeRoom(TenantState tenant, PendingJob job, ResourceRequest free, List<Preemption> preemptions)
    {
        var available = free + tenant.Stopping;
        if (tenant.Stopping != default && job.Request.FitsIn(available)) return true;
        if (tenant.RunningList is null) return false;
        List<RunningJob>? victims = null;
        foreach (var candidate in tenant.RunningList
                     .Where(r => !r.Stopping && r.Priority < job.Priority)
                     .OrderBy(r => r.Priority)
                     .ThenByDescending(r => r.Sequence))
        {
            (victims ??= []).Add(candidate);
            available += candidate.Request;
            if (job.Request.FitsIn(available))
            {
                preemptions.Add(new Preemption(job, victims));
                foreach (var victim in victims) tenant.Stopping += victim.Request;
                return true;
            }
        }
        return false;
    }

    /// <summary>A tenant's running use over the capacity, in its scarcest resource, divided by its weight.</summary>
    public static double DominantShare(ResourceRequest used, ResourceRequest capacity, double weight)
    {
        var share = 0.0;
        if (capacity.CpuCores > 0) share = Math.Max(share, used.CpuCores / capacity.CpuCores);
        if (capacity.MemoryBytes > 0) share = Math.Max(share, used.MemoryBytes / (double)capacity.MemoryBytes);
        if (capacity.MilliGpus > 0) share = Math.Max(share, used.MilliGpus / (double)capacity.MilliGpus);
        return share / (weight > 0 ? weight : 1);
    }

    private sealed class TenantState(QuotaLimits quota)
    {
        public QuotaLimits Quota { get; } = quota;
        public List<PendingJob> Queue { get; } = [];
        /// <summary>The next job of <see cref="Queue"/> to look at.</summary>
        public int Next { get; set; }
        public ResourceRequest Running { get; set; }
        public int RunningJobs { get; set; }
        /// <summary>What counts against the quota: running jobs and pending jobs accepted within it.</summary>
        public ResourceRequest Held { get; set; }
        public ResourceRequest Stopping { get; set; }
        public List<RunningJob>? RunningList { get; set; }
        /// <summary>A job of this tenant waits for room that preemption is making.</summary>
        public bool MakingRoom { get; set; }

        public ShareKey Key(ResourceRequest capacity) =>
            new(DominantShare(Running, capacity, Quota.Weight), Queue[Next].Sequence);
    }

    /// <summary>Lowest share first; between equal shares, the tenant whose next job is older.</summary>
    private readonly record struct ShareKey(double Share, long Sequence)
    {
        public static readonly IComparer<ShareKey> Order = Comparer<ShareKey>.Create((a, b) =>
        {
            var byShare = a.Share.CompareTo(b.Share);
            return byShare != 0 ? byShare : a.Sequence.CompareTo(b.Sequence);
        });
    }
}
