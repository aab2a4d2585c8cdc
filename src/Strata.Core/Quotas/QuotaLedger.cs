using System.Runtime.InteropServices;
using Strata.Contracts;
using Strata.Core.Runtime;

namespace Strata.Core.Quotas;

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

/// <summary>What counts against one tenant's quota in a <see cref="QuotaLedger"/>.</summary>
/// <param name="Held">What its jobs hold (running, and pending accepted within the quota) and its deployments reserve.</param>
/// <param name="Reserved">The part of <paramref name="Held"/> that its deployments reserve.</param>
/// <param name="Deployments">Its deployments, as the quota counts them.</param>
/// <param name="Replicas">Their replicas at the most (maximum and canary share).</param>
public readonly record struct QuotaHeld(ResourceRequest Held, ResourceRequest Reserved, int Deployments, int Replicas);

/// <summary>
/// Who holds what of each tenant's quota: jobs (from the moment their submission is accepted within the quota
/// until they end) and deployments (their replicas' compute at the most replicas they may run). Pure and
/// single-threaded: the caller owns the lock. Every release is idempotent.
/// </summary>
public sealed class QuotaLedger
{
    /// <summary>Jobs that hold quota, and what they hold.</summary>
    private readonly Dictionary<string, (string TenantId, ResourceRequest Request)> _jobs = new(StringComparer.Ordinal);
    /// <summary>Deployments that reserve quota: their replicas' compute, and how many replicas at the most.</summary>
    private readonly Dictionary<DeploymentKey, (ResourceRequest Request, int Replicas)> _deployments = [];
    private readonly Dictionary<string, TenantAccount> _tenants = new(StringComparer.Ordinal);

    /// <summary>
    /// Takes quota for a submission before it is written. <paramref name="pending"/> is how many of the tenant's
    /// jobs are queued; submissions being written count as pending too. On <see cref="Reservation.Refused"/>,
    /// <paramref name="excess"/> names the resource (the pending-jobs limit is checked first and refuses
    /// whatever <paramref name="queueWhenExceeded"/> says). Any other answer must be followed by
    /// <see cref="Written"/> once the job is stored, or <see cref="CancelReservation"/>.
    /// </summary>
    public Reservation Reserve(string tenantId, string jobId, ResourceRequest request, QuotaLimits limits, int pending, bool queueWhenExceeded, out QuotaExcess? excess)
    {
        var tenant = Account(tenantId);
        pending += tenant.Writing;
        if (pending >= limits.MaxPendingJobs)
        {
            // A queue is not a way around the pending-jobs limit: refused whatever the submission chose.
            excess = new QuotaExcess(QuotaResource.MaxPendingJobs, limits.MaxPendingJobs, pending, 1);
            return Reservation.Refused;
        }
        excess = WithHolders(tenantId, QuotaMath.Exceeds(limits.Resources, tenant.Held, request));
        if (excess is null)
        {
            Hold(tenant, tenantId, jobId, request);
        }
        else if (!queueWhenExceeded)
        {
            return Reservation.Refused;
        }
        tenant.Writing++;
        return excess is null ? Reservation.Held : Reservation.Queued;
    }

    /// <summary>The job <see cref="Reserve"/> answered for could not be stored: gives its quota back.</summary>
    public void CancelReservation(string tenantId, string jobId)
    {
        Account(tenantId).Writing--;
        Release(jobId);
    }

    /// <summary>The job <see cref="Reserve"/> answered for is stored: it is no longer being written (what it holds it keeps).</summary>
    public void Written(string tenantId) => Account(tenantId).Writing--;

    /// <summary>
    /// Holds <paramref name="request"/> for the job if it fits in <paramref name="limit"/> with what the tenant
    /// holds already (always, when <paramref name="limit"/> is null); false when it does not fit. Holding again
    /// what a job holds changes nothing.
    /// </summary>
    public bool TryHold(string tenantId, string jobId, ResourceRequest request, ResourceRequest? limit)
    {
        var tenant = Account(tenantId);
        if (limit is { } l && QuotaMath.Exceeds(l, tenant.Held, request) is not null) return false;
        Hold(tenant, tenantId, jobId, request);
        return true;
    }

    /// <summary>Whether the job holds quota.</summary>
    public bool Holds(string jobId) => _jobs.ContainsKey(jobId);

    /// <summary>The job has ended (or was cancelled, or never stored): what it held is free again. Idempotent.</summary>
    public void Release(string jobId)
    {
        if (_jobs.Remove(jobId, out var held)) Account(held.TenantId).Held -= held.Request;
    }

    private void Hold(TenantAccount tenant, string tenantId, string jobId, ResourceRequest request)
    {
        if (_jobs.TryAdd(jobId, (tenantId, request))) tenant.Held += request;
    }

    /// <summary>
    /// Reserves quota for a deployment's <paramref name="replicas"/> at their most (<paramref name="request"/>
    /// is their compute together), in place of what it reserved before; jobs then fit in what is left. With
    /// <paramref name="limit"/>, only when it fits: otherwise the excess is returned and the old reservation stays.
    /// </summary>
    public QuotaExcess? ReserveForDeployment(string tenantId, string deployment, ResourceRequest request, int replicas, ResourceRequest? limit)
    {
        var key = new DeploymentKey(tenantId, deployment);
        var tenant = Account(tenantId);
        var known = _deployments.TryGetValue(key, out var before);
        if (limit is { } l && QuotaMath.Exceeds(l, tenant.Held - before.Request, request) is { } excess)
        {
            // What this deployment reserves now is being replaced, so it is not among the holders.
            return WithHolders(tenantId, excess, except: deployment);
        }
        tenant.Held += request - before.Request;
        tenant.Reserved += request - before.Request;
        tenant.Replicas += replicas - before.Replicas;
        if (!known) tenant.Deployments++;
        _deployments[key] = (request, replicas);
        return null;
    }

    /// <summary>Gives back what <see cref="ReserveForDeployment"/> reserved for the deployment. Idempotent.</summary>
    public void ReleaseDeployment(string tenantId, string deployment)
    {
        if (!_deployments.Remove(new DeploymentKey(tenantId, deployment), out var held)) return;
        var tenant = Account(tenantId);
        tenant.Held -= held.Request;
        tenant.Reserved -= held.Request;
        tenant.Replicas -= held.Replicas;
        tenant.Deployments--;
    }

    /// <summary>
    /// What <paramref name="request"/> would exceed of the tenant's quota now, with who holds what is in use; null
    /// when it fits. For a job waiting for quota: what it waits for.
    /// </summary>
    public QuotaExcess? WouldExceed(string tenantId, ResourceRequest request, ResourceRequest limit) =>
        WithHolders(tenantId, QuotaMath.Exceeds(limit, Of(tenantId).Held, request));

    /// <summary>The excess, with the tenant's jobs' and deployments' shares of its resource.</summary>
    private QuotaExcess? WithHolders(string tenantId, QuotaExcess? excess, string? except = null)
    {
        if (excess is not { } found || found.Resource is not (QuotaResource.CpuCores or QuotaResource.MemoryGb or QuotaResource.GpuCount)) return excess;
        var jobs = _jobs.Values.Where(j => j.TenantId == tenantId).Select(j => QuotaMath.Amount(found.Resource, j.Request)).Where(a => a > 0).ToList();
        var deployments = _deployments
            .Where(d => d.Key.TenantId == tenantId && d.Key.Name != except)
            .Select(d => (d.Key.Name, Amount: QuotaMath.Amount(found.Resource, d.Value.Request)))
            .OrderByDescending(d => d.Amount).ThenBy(d => d.Name, StringComparer.Ordinal)
            .ToList();
        return found with { Holders = new QuotaHolders(jobs.Sum(), jobs.Count, deployments) };
    }

    /// <summary>What counts against the tenant's quota now.</summary>
    public QuotaHeld Of(string tenantId) =>
        _tenants.TryGetValue(tenantId, out var tenant) ? new QuotaHeld(tenant.Held, tenant.Reserved, tenant.Deployments, tenant.Replicas) : default;

    /// <summary>
    /// The quotas as jobs see them: less what each tenant's deployments reserve (the scheduling policy counts
    /// only jobs against a quota). <paramref name="quotas"/> itself when no deployment reserves anything.
    /// </summary>
    public IReadOnlyDictionary<string, QuotaLimits> JobsShare(IReadOnlyDictionary<string, QuotaLimits> quotas)
    {
        if (_deployments.Count == 0) return quotas;
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
    /// Forgets everything the tenant holds and reserves. Submissions being written still count until they are
    /// <see cref="Written"/> or cancelled.
    /// </summary>
    public void RemoveTenant(string tenantId)
    {
        foreach (var key in _deployments.Keys.Where(k => k.TenantId == tenantId).ToList()) _deployments.Remove(key);
        foreach (var jobId in _jobs.Where(h => h.Value.TenantId == tenantId).Select(h => h.Key).ToList()) _jobs.Remove(jobId);
        if (!_tenants.TryGetValue(tenantId, out var tenant)) return;
        if (tenant.Writing == 0) _tenants.Remove(tenantId);
        else _tenants[tenantId] = new TenantAccount { Writing = tenant.Writing };
    }

    private TenantAccount Account(string tenantId)
    {
        ref var tenant = ref CollectionsMarshal.GetValueRefOrAddDefault(_tenants, tenantId, out _);
        return tenant ??= new TenantAccount();
    }

    private readonly record struct DeploymentKey(string TenantId, string Name);

    private sealed class TenantAccount
    {
        /// <summary>Submissions that took quota (or chose to wait for it) and are being written.</summary>
        public int Writing { get; set; }
        /// <summary>What counts against its quota: its jobs' that hold quota, and <see cref="Reserved"/>.</summary>
        public ResourceRequest Held { get; set; }
        /// <summary>The part of <see cref="Held"/> that is not jobs': its deployments' replicas.</summary>
        public ResourceRequest Reserved { get; set; }
        public int Deployments { get; set; }
        public int Replicas { get; set; }
    }
}
