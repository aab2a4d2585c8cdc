using Strata.Contracts;
using Strata.Core.Runtime;

namespace Strata.Core.Quotas;

/// <summary>A tenant's quota as the scheduler and admission use it: resources in runtime units, and job counts.</summary>
public sealed record QuotaLimits(ResourceRequest Resources, int MaxRunningJobs, int MaxPendingJobs, bool QueueWhenExceeded = false, double Weight = 1)
{
    /// <summary>No limit at all: for tests and benchmarks that are not about quotas.</summary>
    public static readonly QuotaLimits Unlimited = new(new ResourceRequest(double.MaxValue, long.MaxValue, int.MaxValue), int.MaxValue, int.MaxValue);

    public static QuotaLimits From(TenantQuota quota) => new(
        ResourceRequest.FromGb(quota.CpuCores, quota.MemoryGb, quota.GpuCount),
        quota.MaxRunningJobs,
        quota.MaxPendingJobs,
        quota.OnQuotaExceeded == QuotaPolicies.Queue,
        quota.FairShareWeight);
}

/// <summary>Which resource of a quota a request would exceed, its limit, what is used, and what was asked (the 429's fields).</summary>
public readonly record struct QuotaExcess(QuotaResource Resource, double Limit, double Used, double Requested)
{
    /// <summary>Who holds <see cref="Used"/>: the tenant's jobs and deployments; null where the ledger was not asked.</summary>
    public QuotaHolders? Holders { get; init; }

    public string Describe() =>
        $"{Resource.Name()}: the quota is {Format(Limit)}, {Format(Used)} in use{HeldBy()}, and {Format(Requested)} more was asked for";

    /// <summary>" (2 by deployment churn, 1 by 1 job)": who holds what is in use, so the user knows what to free.</summary>
    private string HeldBy()
    {
        if (Holders is not { } holders || Used <= 0) return "";
        var parts = holders.Deployments.Where(d => d.Amount > 0).Select(d => $"{Format(d.Amount)} by deployment {d.Name}").ToList();
        if (holders.Jobs > 0) parts.Add($"{Format(holders.Jobs)} by {holders.JobCount} job{(holders.JobCount == 1 ? "" : "s")}");
        return parts.Count == 0 ? "" : $" ({string.Join(", ", parts)})";
    }

    internal static string Format(double value) => value.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>What of one quota resource a tenant's jobs hold (running, or pending within the quota), and each deployment reserves.</summary>
/// <param name="Jobs">The jobs' share, in the resource's unit.</param>
/// <param name="JobCount">How many jobs hold some of it.</param>
/// <param name="Deployments">Each deployment's reservation (its replicas at their most), largest first.</param>
public sealed record QuotaHolders(double Jobs, int JobCount, IReadOnlyList<(string Name, double Amount)> Deployments)
{
    public double ByDeployments => Deployments.Sum(d => d.Amount);
}

/// <summary>Quota arithmetic: pure checks of a request against a limit and what already counts against it.</summary>
public static class QuotaMath
{
    /// <summary>The first resource that <paramref name="held"/> plus <paramref name="request"/> would take over <paramref name="limit"/>, or null when it fits.</summary>
    public static QuotaExcess? Exceeds(ResourceRequest limit, ResourceRequest held, ResourceRequest request)
    {
        if (held.CpuCores + request.CpuCores > limit.CpuCores + 1e-9)
        {
            return new QuotaExcess(QuotaResource.CpuCores, limit.CpuCores, held.CpuCores, request.CpuCores);
        }
        if (held.MemoryBytes + request.MemoryBytes > limit.MemoryBytes)
        {
            return new QuotaExcess(QuotaResource.MemoryGb, Gb(limit.MemoryBytes), Gb(held.MemoryBytes), Gb(request.MemoryBytes));
        }
        // In thousandths of a device: four jobs of gpu_fraction 0.25 fill a quota of one GPU exactly.
        if (held.MilliGpus + request.MilliGpus > limit.MilliGpus)
        {
            return new QuotaExcess(QuotaResource.GpuCount, limit.GpuCount, held.GpuCount, request.GpuCount);
        }
        return null;
    }

    /// <summary>Whether <paramref name="request"/> alone is larger than the whole quota (it could never be accepted).</summary>
    public static QuotaExcess? LargerThanQuota(ResourceRequest limit, ResourceRequest request) => Exceeds(limit, default, request);

    public static double Gb(long bytes) => bytes / (double)ResourceRequest.BytesPerGb;

    /// <summary>How much of <paramref name="resource"/> a request holds, in the unit its quota is given in.</summary>
    public static double Amount(QuotaResource resource, ResourceRequest request) => resource switch
    {
        QuotaResource.CpuCores => request.CpuCores,
        QuotaResource.MemoryGb => Gb(request.MemoryBytes),
        QuotaResource.GpuCount => request.GpuCount,
        _ => 0,
    };
}
