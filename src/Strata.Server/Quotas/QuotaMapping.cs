using Strata.Contracts;
using Strata.Core.Quotas;
using Strata.Server.Queue;
using Strata.Server.Storage;

namespace Strata.Server.Quotas;

/// <summary>Between a tenant's stored quota and the API's quota shapes.</summary>
public static class QuotaMapping
{
    /// <summary>Stores <paramref name="spec"/> as the tenant's own quota: a PUT replaces it whole.</summary>
    public static void Apply(TenantRecord tenant, TenantQuotaSpec spec)
    {
        tenant.QuotaCpuCores = spec.CpuCores;
        tenant.QuotaMemoryGb = spec.MemoryGb;
        tenant.QuotaGpuCount = spec.GpuCount;
        tenant.QuotaMaxRunningJobs = spec.MaxRunningJobs;
        tenant.QuotaMaxPendingJobs = spec.MaxPendingJobs;
        tenant.QuotaMaxDeployments = spec.MaxDeployments;
        tenant.QuotaMaxReplicas = spec.MaxReplicas;
        tenant.OnQuotaExceeded = spec.OnQuotaExceeded;
        tenant.FairShareWeight = spec.FairShareWeight;
    }

    /// <summary>A tenant's quota and what counts against it now, as <c>GET /v1/quota</c> and the quota gauges show them.</summary>
    public static QuotaStatus ToStatus(string tenantId, TenantQuota quota, TenantQuotaUse use) => new()
    {
        TenantId = tenantId,
        OnQuotaExceeded = quota.OnQuotaExceeded,
        FairShareWeight = quota.FairShareWeight,
        WaitingForQuota = use.WaitingForQuota,
        Resources = new Dictionary<string, QuotaUsage>(StringComparer.Ordinal)
        {
            [QuotaResources.CpuCores] = new()
            {
                Limit = quota.CpuCores, Used = use.Held.CpuCores, Pending = use.HeldByPending.CpuCores, Deployments = use.Reserved.CpuCores,
            },
            [QuotaResources.MemoryGb] = new()
            {
                Limit = quota.MemoryGb, Used = QuotaMath.Gb(use.Held.MemoryBytes), Pending = QuotaMath.Gb(use.HeldByPending.MemoryBytes),
                Deployments = QuotaMath.Gb(use.Reserved.MemoryBytes),
            },
            [QuotaResources.GpuCount] = new()
            {
                Limit = quota.GpuCount, Used = use.Held.GpuCount, Pending = use.HeldByPending.GpuCount, Deployments = use.Reserved.GpuCount,
            },
            [QuotaResources.MaxRunningJobs] = new() { Limit = quota.MaxRunningJobs, Used = use.Running, Pending = use.Pending },
            [QuotaResources.MaxPendingJobs] = new() { Limit = quota.MaxPendingJobs, Used = use.Pending },
            [QuotaResources.MaxDeployments] = new() { Limit = quota.MaxDeployments, Used = use.Deployments },
            [QuotaResources.MaxReplicas] = new() { Limit = quota.MaxReplicas, Used = use.Replicas },
        },
    };
}
