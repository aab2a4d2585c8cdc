using Strata.Contracts;
using Strata.Core.Jobs;

namespace Strata.Core.Quotas;

/// <summary>Checks a tenant quota body (<c>PUT /v1/tenants/{id}/quota</c>, or a new tenant's <c>quota</c>).</summary>
public static class QuotaSpecValidator
{
    public const double MaxCores = 1_000_000, MaxMemoryGb = 100_000_000;
    public const int MaxCount = 10_000_000;
    public const double MinWeight = 0.01, MaxWeight = 1000;

    /// <param name="prefix">Prepended to field names (<c>quota.</c> inside a tenant).</param>
    public static void Validate(TenantQuotaSpec spec, ValidationErrors errors, string prefix = "")
    {
        Range(errors, prefix + QuotaResources.CpuCores, spec.CpuCores, MaxCores);
        Range(errors, prefix + QuotaResources.MemoryGb, spec.MemoryGb, MaxMemoryGb);
        Range(errors, prefix + QuotaResources.GpuCount, spec.GpuCount, MaxCount);
        Range(errors, prefix + QuotaResources.MaxRunningJobs, spec.MaxRunningJobs, MaxCount);
        Range(errors, prefix + QuotaResources.MaxPendingJobs, spec.MaxPendingJobs, MaxCount);
        Range(errors, prefix + QuotaResources.MaxDeployments, spec.MaxDeployments, MaxCount);
        Range(errors, prefix + QuotaResources.MaxReplicas, spec.MaxReplicas, MaxCount);
        if (spec.OnQuotaExceeded is not null && !QuotaPolicies.All.Contains(spec.OnQuotaExceeded))
        {
            errors.Add(prefix + "on_quota_exceeded", $"must be one of {string.Join(", ", QuotaPolicies.All)}");
        }
        if (spec.FairShareWeight is { } weight && (double.IsNaN(weight) || weight < MinWeight || weight > MaxWeight))
        {
            errors.Add(prefix + "fair_share_weight", $"must be {MinWeight} to {MaxWeight}");
        }
    }

    private static void Range(ValidationErrors errors, string field, double? value, double max)
    {
        if (value is { } v && (double.IsNaN(v) || v < 0 || v > max))
        {
            errors.Add(field, $"must be 0 to {max:0}");
        }
    }
}
