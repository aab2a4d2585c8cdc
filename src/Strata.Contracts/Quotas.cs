namespace Strata.Contracts;

/// <summary>What happens to a submission that would take its tenant over its quota.</summary>
public static class QuotaPolicies
{
    /// <summary>Refused with 429 and the resource, limit, use and request named (the default; the seed course's behaviour).</summary>
    public const string Reject = "reject";
    /// <summary>Accepted as <c>pending</c> with <c>status_reason: waiting_for_quota</c>; it starts once the quota has room.</summary>
    public const string Queue = "queue";
    public static readonly IReadOnlyList<string> All = [Reject, Queue];
}

/// <summary>A tenant's quota resources; <see cref="QuotaResources.Name"/> is each one's name on the wire.</summary>
public enum QuotaResource
{
    CpuCores,
    MemoryGb,
    GpuCount,
    MaxRunningJobs,
    MaxPendingJobs,
    MaxDeployments,
    MaxReplicas,
}

/// <summary>
/// The names of a tenant's quota resources, as the API, the 429 problem's <c>resource</c> and the metrics'
/// <c>resource</c> label spell them.
/// </summary>
public static class QuotaResources
{
    public const string CpuCores = "cpu_cores";
    public const string MemoryGb = "memory_gb";
    public const string GpuCount = "gpu_count";
    public const string MaxRunningJobs = "max_running_jobs";
    public const string MaxPendingJobs = "max_pending_jobs";
    public const string MaxDeployments = "max_deployments";
    public const string MaxReplicas = "max_replicas";
    public static readonly IReadOnlyList<string> All = [CpuCores, MemoryGb, GpuCount, MaxRunningJobs, MaxPendingJobs, MaxDeployments, MaxReplicas];

    /// <summary>The resource's name on the wire.</summary>
    public static string Name(this QuotaResource resource) => resource switch
    {
        QuotaResource.CpuCores => CpuCores,
        QuotaResource.MemoryGb => MemoryGb,
        QuotaResource.GpuCount => GpuCount,
        QuotaResource.MaxRunningJobs => MaxRunningJobs,
        QuotaResource.MaxPendingJobs => MaxPendingJobs,
        QuotaResource.MaxDeployments => MaxDeployments,
        QuotaResource.MaxReplicas => MaxReplicas,
        _ => throw new ArgumentOutOfRangeException(nameof(resource), resource, null),
    };
}

/// <summary>
/// Body of <c>PUT /v1/tenants/{id}/quota</c> (and the optional <c>quota</c> of a new tenant). The body
/// replaces the tenant's quota: a field left out takes the server's default (<c>Quotas:Default:*</c>).
/// </summary>
public sealed record TenantQuotaSpec
{
    public double? CpuCores { get; init; }
    public double? MemoryGb { get; init; }
    public int? GpuCount { get; init; }
    public int? MaxRunningJobs { get; init; }
    public int? MaxPendingJobs { get; init; }
    public int? MaxDeployments { get; init; }
    public int? MaxReplicas { get; init; }
    /// <summary><c>reject</c> or <c>queue</c>; see <see cref="QuotaPolicies"/>. A job's spec may choose for itself.</summary>
    public string? OnQuotaExceeded { get; init; }
    /// <summary>The tenant's weight in fair sharing: a tenant of weight 2 gets twice the share of one of weight 1.</summary>
    public double? FairShareWeight { get; init; }
}

/// <summary>A tenant's quota in force: its own values, with the server's defaults where it has none.</summary>
public sealed record TenantQuota
{
    public required double CpuCores { get; init; }
    public required double MemoryGb { get; init; }
    public required int GpuCount { get; init; }
    public required int MaxRunningJobs { get; init; }
    public required int MaxPendingJobs { get; init; }
    public required int MaxDeployments { get; init; }
    public required int MaxReplicas { get; init; }
    public required string OnQuotaExceeded { get; init; }
    public required double FairShareWeight { get; init; }
}

/// <summary>One resource of a quota: the limit, what counts against it now, and the part of that held by pending jobs.</summary>
public sealed record QuotaUsage
{
    public required double Limit { get; init; }
    /// <summary>
    /// What counts against the limit: for resources, what the tenant's running jobs and its pending jobs
    /// accepted within the quota hold; for job counts, the running (or pending) jobs.
    /// </summary>
    public required double Used { get; init; }
    /// <summary>The part of <see cref="Used"/> held by pending jobs (for <c>max_running_jobs</c>: the jobs waiting to run); null where it does not apply.</summary>
    public double? Pending { get; init; }
    /// <summary>
    /// The part of <see cref="Used"/> that the tenant's deployments reserve (their replicas at <c>max_replicas</c>); the
    /// rest is its jobs'. Null where it does not apply (job and deployment counts).
    /// </summary>
    public double? Deployments { get; init; }
}

/// <summary>Response of <c>GET /v1/quota</c>: the caller's tenant's quota and its use, per resource.</summary>
public sealed record QuotaStatus
{
    public required string TenantId { get; init; }
    public required string OnQuotaExceeded { get; init; }
    public required double FairShareWeight { get; init; }
    /// <summary>By resource name (<see cref="QuotaResources"/>).</summary>
    public required Dictionary<string, QuotaUsage> Resources { get; init; }
    /// <summary>Pending jobs queued beyond the quota (<c>waiting_for_quota</c>); they hold nothing until they fit.</summary>
    public int WaitingForQuota { get; init; }
}
