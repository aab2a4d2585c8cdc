using System.ComponentModel.DataAnnotations;

namespace Strata.Server.Runtime.Kubernetes;

/// <summary>
/// What a tenant's namespace may hold at once: the input of its ResourceQuota. Strata's scheduler keeps
/// each tenant inside its quota before anything reaches the cluster; the ResourceQuota is the cluster's own
/// guard behind it, so it must be at least as large as what Strata admits.
/// </summary>
public sealed record TenantQuotaLimits
{
    /// <summary>Cores of all the tenant's pods together (requests and limits).</summary>
    [Range(0.1, 100_000)]
    public double CpuCores { get; init; } = 64;

    /// <summary>Memory in GB of all the tenant's pods together.</summary>
    [Range(0.1, 1_000_000)]
    public double MemoryGb { get; init; } = 256;

    /// <summary>GPUs (<c>nvidia.com/gpu</c>) of all the tenant's pods together.</summary>
    [Range(0, 10_000)]
    public int GpuCount { get; init; } = 8;

    /// <summary>Pods at once: a distributed job takes one per worker.</summary>
    [Range(1, 100_000)]
    public int Pods { get; init; } = 200;

    /// <summary>
    /// Job objects at once (<c>count/jobs.batch</c>), finished ones included until their time-to-live ends:
    /// a guard against runaway creation, not the running-jobs limit (Strata's scheduler enforces that).
    /// </summary>
    [Range(1, 100_000)]
    public int Jobs { get; init; } = 1000;

    /// <summary>
    /// PersistentVolumeClaims at once: each job has one for its checkpoints (<see cref="KubernetesRuntimeOptions.CheckpointVolumeGb"/>)
    /// from its first attempt until <c>Jobs:Retention</c> after it ended, so this bounds those jobs as
    /// <see cref="Jobs"/> bounds Job objects. A start over it fails (<c>start_failed</c>).
    /// </summary>
    [Range(0, 100_000)]
    public int PersistentVolumeClaims { get; init; } = 1000;
}
