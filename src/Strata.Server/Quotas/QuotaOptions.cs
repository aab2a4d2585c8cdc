using System.ComponentModel.DataAnnotations;
using Strata.Contracts;

namespace Strata.Server.Quotas;

/// <summary>
/// The server-wide default quota. The defaults are the seed course's per-tenant ResourceQuota (100 cores,
/// 200 GB, 10 GPUs, 100 pods), with room for a queue of 1,000 pending jobs. Bound from <c>Quotas:Default</c>
/// (<c>Quotas:Default:CpuCores</c>, ...); each tenant may override any of it.
/// </summary>
public sealed class QuotaDefaults
{
    public const string Section = "Quotas:Default";
    public const double MaxCores = 1_000_000, MaxMemoryGb = 100_000_000;
    public const int MaxCount = 10_000_000;

    /// <value>The default is 100 cores.</value>
    [Range(0, MaxCores)]
    public double CpuCores { get; set; } = 100;

    /// <value>The default is 200 GB.</value>
    [Range(0, MaxMemoryGb)]
    public double MemoryGb { get; set; } = 200;

    /// <value>The default is 10 GPUs.</value>
    [Range(0, MaxCount)]
    public int GpuCount { get; set; } = 10;

    /// <value>The default is 100 jobs running at once.</value>
    [Range(0, MaxCount)]
    public int MaxRunningJobs { get; set; } = 100;

    /// <value>The default is 1,000 pending jobs.</value>
    [Range(0, MaxCount)]
    public int MaxPendingJobs { get; set; } = 1000;

    /// <value>The default is 10 deployments.</value>
    [Range(0, MaxCount)]
    public int MaxDeployments { get; set; } = 10;

    /// <value>The default is 50 model replicas.</value>
    [Range(0, MaxCount)]
    public int MaxReplicas { get; set; } = 50;

    /// <summary><c>reject</c> (429, the seed course's behaviour) or <c>queue</c>.</summary>
    /// <value>The default is <c>reject</c>.</value>
    [AllowedValues(QuotaPolicies.Reject, QuotaPolicies.Queue)]
    public string OnQuotaExceeded { get; set; } = QuotaPolicies.Reject;

    /// <value>The default weight in fair sharing is 1.</value>
    [Range(0.01, 1000)]
    public double FairShareWeight { get; set; } = 1;
}
