namespace Strata.Contracts;

/// <summary>
/// One group of Prometheus' HTTP service discovery (<c>http_sd_configs</c>), as
/// <c>GET /v1/admin/prometheus/replicas</c> lists them: the <c>host:port</c> targets to scrape and the labels
/// Prometheus gives every series scraped from them (label names are Prometheus', kept as they are).
/// </summary>
public sealed record PrometheusTargetGroup
{
    public required IReadOnlyList<string> Targets { get; init; }
    public required IReadOnlyDictionary<string, string> Labels { get; init; }
}

/// <summary>Response of <c>GET /v1/admin/capacity</c>: what the runtime can run, what is in use, and how jobs are confined.</summary>
public sealed record CapacityStatus
{
    /// <summary><c>local</c> or <c>kubernetes</c>.</summary>
    public required string Runtime { get; init; }
    public required CapacityResources Total { get; init; }
    /// <summary>
    /// Where <see cref="Total"/> comes from on Kubernetes: <c>cluster</c> (the matching nodes' allocatable, less others'
    /// pods) or <c>configuration</c> (<c>Runtime:Kubernetes:Capacity*</c>); null on the local runtime.
    /// </summary>
    public string? Source { get; init; }
    /// <summary>What admitted attempts hold now.</summary>
    public required CapacityResources Allocated { get; init; }
    public required int MaxWorkersPerJob { get; init; }
    public required SandboxStatus Sandbox { get; init; }
    /// <summary>The GPUs the local runtime found (<c>nvidia-smi</c>) or was given (<c>Runtime:Local:GpuInventory</c>); empty elsewhere.</summary>
    public IReadOnlyList<GpuDeviceStatus> Gpus { get; init; } = [];
}

/// <summary>One GPU of the local runtime's inventory.</summary>
public sealed record GpuDeviceStatus
{
    public required int Index { get; init; }
    /// <summary>What <c>CUDA_VISIBLE_DEVICES</c> names it by.</summary>
    public required string Uuid { get; init; }
    /// <summary>The product name, e.g. <c>NVIDIA A100-SXM4-80GB</c>; <c>compute.gpu_type</c> matches it (docs/gpus.md).</summary>
    public required string Name { get; init; }
    public required long MemoryMb { get; init; }
    /// <summary>Whether an attempt holds it (or a share of it) now.</summary>
    public required bool InUse { get; init; }
    /// <summary>How much of it attempts hold: 1 for a whole-device job, the sum of the shares where it is shared.</summary>
    public double Allocated { get; init; }
}

/// <summary>The values of <see cref="CapacityStatus.Source"/>.</summary>
public static class CapacitySources
{
    public const string Cluster = "cluster";
    public const string Configuration = "configuration";
}

/// <summary>Cores, memory and GPUs.</summary>
public sealed record CapacityResources
{
    public required double CpuCores { get; init; }
    public required double MemoryGb { get; init; }
    /// <summary>Shares of a GPU (<c>compute.gpu_fraction</c>) included: 1.25 when one device and a quarter of another are held.</summary>
    public required double GpuCount { get; init; }
}

/// <summary>How jobs are isolated from the platform and from each other (docs/sandbox.md).</summary>
public sealed record SandboxStatus
{
    /// <summary>False when jobs are NOT isolated: they can read what the server's user can.</summary>
    public required bool Enabled { get; init; }
    /// <summary><c>bwrap</c>, <c>none</c>, or <c>kubernetes</c> (pods in the tenant's namespace under the restricted Pod Security profile).</summary>
    public required string Mode { get; init; }
    /// <summary>Why the sandbox is off, when it is.</summary>
    public string? Reason { get; init; }
    /// <summary><c>host</c> or <c>none</c> (local sandbox only).</summary>
    public string? Network { get; init; }
    /// <summary>Whether each tenant's jobs run as a user of their own (a root server's local sandbox).</summary>
    public bool SeparateUsers { get; init; }
}
