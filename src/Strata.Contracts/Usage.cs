namespace Strata.Contracts;

/// <summary>Resources held over time. GB are 2^30 bytes, as in a job's <c>memory_gb</c>.</summary>
public sealed record ResourceSecondsInfo
{
    public required double CoreSeconds { get; init; }
    public required double MemoryGbSeconds { get; init; }
    public required double GpuSeconds { get; init; }
}

/// <summary>What an attempt reserved (its request times its wall time) and what it used (measured by the runtime).</summary>
public sealed record AttemptUsageInfo
{
    public required double WallSeconds { get; init; }
    public required ResourceSecondsInfo Reserved { get; init; }
    /// <summary>Null when the runtime measured nothing (its supervisor was lost, say).</summary>
    public ResourceSecondsInfo? Used { get; init; }
}

/// <summary>A suggestion to ask for less of one resource (docs/usage.md gives the rules).</summary>
public sealed record RightSizingHintInfo
{
    /// <summary><c>cpu_cores</c>, <c>memory_gb</c> or <c>gpu_fraction</c>.</summary>
    public required string Resource { get; init; }
    /// <summary>What one worker asked for.</summary>
    public required double Requested { get; init; }
    /// <summary>Average cores, or peak GB, per worker; for <c>gpu_fraction</c>, the share of the time its GPU was busy.</summary>
    public required double Used { get; init; }
    /// <summary>Whole cores or GB; a share of a GPU (0.25, 0.5) for <c>gpu_fraction</c>.</summary>
    public required double Suggested { get; init; }
    /// <summary>For people: "requested 4 cores, used 0.3 on average: consider 1".</summary>
    public required string Message { get; init; }
}

/// <summary>The price of reserved and of used resources.</summary>
public sealed record UsageCost
{
    /// <summary>What the tenant is charged: capacity held for it is capacity nobody else could use.</summary>
    public required decimal Reserved { get; init; }
    /// <summary>What the same work would have cost with requests that matched its use.</summary>
    public required decimal Used { get; init; }
}

/// <summary>The configured price of an hour of each resource.</summary>
public sealed record UsagePrices
{
    public required string Currency { get; init; }
    public required decimal CpuCoreHour { get; init; }
    public required decimal MemoryGbHour { get; init; }
    public required decimal GpuHour { get; init; }
}

/// <summary>One tenant's usage in the window: its jobs' and its deployments' together, and each apart.</summary>
public sealed record TenantUsage
{
    public required string TenantId { get; init; }
    /// <summary>Attempts that ended in the window.</summary>
    public required int Attempts { get; init; }
    /// <summary><see cref="Jobs"/> plus <see cref="Serving"/>.</summary>
    public required ResourceSecondsInfo Reserved { get; init; }
    /// <summary><see cref="Jobs"/> plus <see cref="Serving"/>: what the runtime measured.</summary>
    public required ResourceSecondsInfo Used { get; init; }
    /// <summary>The price of <see cref="Reserved"/> and <see cref="Used"/>.</summary>
    public required UsageCost Cost { get; init; }
    /// <summary>The jobs' part: the attempts that ended in the window.</summary>
    public required UsagePart Jobs { get; init; }
    /// <summary>The deployments' part: their replicas' time inside the window.</summary>
    public required ServingUsage Serving { get; init; }
}

/// <summary>A tenant's usage from its jobs.</summary>
public sealed record UsagePart
{
    public required ResourceSecondsInfo Reserved { get; init; }
    public required ResourceSecondsInfo Used { get; init; }
    public required UsageCost Cost { get; init; }
}

/// <summary>Usage from serving: deployments' replicas, each reserving its deployment's compute while it runs.</summary>
public sealed record ServingUsage
{
    /// <summary>The replicas' wall time inside the window, summed over replicas.</summary>
    public required double ReplicaSeconds { get; init; }
    public required ResourceSecondsInfo Reserved { get; init; }
    /// <summary>The replicas' measured CPU time and memory held.</summary>
    public required ResourceSecondsInfo Used { get; init; }
    public required UsageCost Cost { get; init; }
}

/// <summary>One deployment's usage in the window.</summary>
public sealed record DeploymentUsage
{
    public required string TenantId { get; init; }
    /// <summary>The deployment's name (it may have been deleted since: its usage stays).</summary>
    public required string Name { get; init; }
    /// <summary>The replicas' wall time inside the window, summed over replicas.</summary>
    public required double ReplicaSeconds { get; init; }
    public required ResourceSecondsInfo Reserved { get; init; }
    public required ResourceSecondsInfo Used { get; init; }
    public required UsageCost Cost { get; init; }
}

/// <summary>The cost of one UTC day's part of the window, for every tenant of the report together.</summary>
public sealed record UsageDay
{
    /// <summary>The UTC day (<c>2026-11-01</c>); the first and last day of a window that does not start or end at midnight count only their part in it.</summary>
    public required DateOnly Date { get; init; }
    /// <summary>Jobs and serving together.</summary>
    public required UsageCost Cost { get; init; }
    /// <summary>The attempts that ended that day.</summary>
    public required UsageCost Jobs { get; init; }
    /// <summary>The replicas' time that day.</summary>
    public required UsageCost Serving { get; init; }
}

/// <summary>One job's usage in the window.</summary>
public sealed record JobUsage
{
    public required string TenantId { get; init; }
    public required string JobId { get; init; }
    public required string Name { get; init; }
    public required int Attempts { get; init; }
    public required ResourceSecondsInfo Reserved { get; init; }
    public required ResourceSecondsInfo Used { get; init; }
    public required UsageCost Cost { get; init; }
    /// <summary>Requests the job could lower, judged on the attempts of the window; empty when none.</summary>
    public required RightSizingHintInfo[] RightSizing { get; init; }
}

/// <summary>
/// The answer of <c>GET /v1/usage</c>: attempts that ended in [from, to) and deployments' replica time inside it,
/// per tenant, for the costliest jobs and deployments, and per UTC day.
/// </summary>
public sealed record UsageReport
{
    public required DateTimeOffset From { get; init; }
    public required DateTimeOffset To { get; init; }
    public required UsagePrices Prices { get; init; }
    /// <summary>Every tenant with usage in the window (one for a tenant's token), by tenant id.</summary>
    public required TenantUsage[] Tenants { get; init; }
    /// <summary>The jobs with the highest reserved cost, at most <c>limit</c>, costliest first.</summary>
    public required JobUsage[] Jobs { get; init; }
    /// <summary>The deployments with the highest reserved cost, at most <c>limit</c>, costliest first.</summary>
    public required DeploymentUsage[] Deployments { get; init; }
    /// <summary>Every UTC day the window touches, in order, with its cost (zero for a day without usage).</summary>
    public required UsageDay[] Days { get; init; }
}
