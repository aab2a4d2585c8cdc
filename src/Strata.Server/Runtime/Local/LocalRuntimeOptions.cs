using System.ComponentModel.DataAnnotations;

namespace Strata.Server.Runtime.Local;

/// <summary>Settings of the local runtime (section <c>Runtime:Local</c>).</summary>
public sealed class LocalRuntimeOptions
{
    public const string Section = "Runtime:Local";

    /// <summary>Cores the runtime may hand out; null means the machine's.</summary>
    [Range(0.1, 4096)]
    public double? CpuCores { get; set; }

    /// <summary>Memory in GB the runtime may hand out; null means the machine's.</summary>
    [Range(0.1, 65536)]
    public double? MemoryGb { get; set; }

    /// <summary>GPUs the runtime may hand out, where it found none (<see cref="GpuInventory"/>, <see cref="NvidiaSmiPath"/>): then the inventory's count applies.</summary>
    /// <value>The default is 0: GPU jobs are refused on a machine without GPUs.</value>
    [Range(0, 64)]
    public int Gpus { get; set; }

    /// <summary>
    /// The machine's GPUs, as the operator lists them; when set, <c>nvidia-smi</c> is not asked. Each attempt that
    /// asks for GPUs is given devices of its own from this list, by uuid (docs/gpus.md).
    /// </summary>
    public List<GpuInventoryEntry> GpuInventory { get; set; } = [];

    /// <summary>
    /// The <c>nvidia-smi</c> asked at start for the machine's GPUs when <see cref="GpuInventory"/> is empty; a bare
    /// name is looked up on PATH, and a machine without it has no GPUs (or <see cref="Gpus"/>, counted only).
    /// </summary>
    /// <value>The default is <c>nvidia-smi</c>.</value>
    public string NvidiaSmiPath { get; set; } = DefaultNvidiaSmiPath;

    public const string DefaultNvidiaSmiPath = "nvidia-smi";

    /// <summary>
    /// Seconds between samples of the GPUs' utilisation and memory (<c>nvidia-smi</c>) while attempts hold them;
    /// 0 samples nothing. Only where <c>nvidia-smi</c> found the devices: a configured inventory is not sampled.
    /// </summary>
    /// <value>The default is 5.</value>
    [Range(0, 3600)]
    public double GpuSampleSeconds { get; set; } = 5;

    /// <summary>Cores of a job that names none here, where the seed's 4 cores may not exist.</summary>
    /// <value>The default is 1.</value>
    [Range(1, 96)]
    public int DefaultCpuCores { get; set; } = 1;

    /// <summary>Memory in GB of a job that names none here.</summary>
    /// <value>The default is 2.</value>
    [Range(1, 768)]
    public int DefaultMemoryGb { get; set; } = 2;

    /// <summary>
    /// The <c>strata-worker</c> that supervises local attempts, when it is not <c>Runtime:WorkerPath</c>'s: a Native AOT
    /// build starts jobs faster, and lacks <c>train</c> and <c>serve</c>, which stay with that one.
    /// </summary>
    public string? WorkerPath { get; set; }

    /// <summary>
    /// Workers kept started and waiting (<c>strata-worker standby</c>), so that an admitted attempt starts
    /// without waiting for a worker's own start-up; 0 starts a worker per attempt.
    /// </summary>
    /// <value>The default is 1.</value>
    [Range(0, 16)]
    public int StandbyWorkers { get; set; } = 1;

    /// <summary>
    /// The most workers (ranks) one distributed job may start on this machine, all at once as one gang; each holds
    /// the job's compute. Needs the sandbox's network to be the host's (ranks meet on loopback); with
    /// <c>Sandbox:Network=none</c> only single-worker jobs are accepted.
    /// </summary>
    /// <value>The default is 8.</value>
    [Range(1, 64)]
    public int MaxWorkersPerJob { get; set; } = 8;

    /// <summary>
    /// The interpreter that <c>python</c> means in a job (<c>python train.py</c>, the default entrypoint): a name
    /// looked up in the system's folders (<c>python3.11</c>) or an absolute path (a sandboxed job must be able to
    /// see it: add its folder to <c>Sandbox:ReadOnlyPaths</c> when it is outside the system's folders). Unset: the
    /// system's <c>python</c>, or its <c>python3</c> where there is no <c>python</c> (stock Debian).
    /// </summary>
    public string? Python { get; set; }

    /// <summary>
    /// The package index that jobs' environments are built from (pip's <c>--index-url</c>); <c>none</c> uses no index
    /// (<c>--no-index</c>: only <see cref="PipFindLinks"/>). Unset: pip's default, PyPI (docs/environments.md).
    /// </summary>
    public string? PipIndexUrl { get; set; }

    /// <summary>
    /// A folder of wheels or a URL of a page of links that pip also looks in (<c>--find-links</c>); a folder is shown
    /// read-only to the environment's build. Unset: none.
    /// </summary>
    public string? PipFindLinks { get; set; }

    /// <summary>
    /// Whether a job may ask for the server's <c>PATH</c> (<c>environment.inherit_path</c>) instead of the system's
    /// folders only. A sandboxed job still sees only the folders the sandbox shows (<c>Sandbox:ReadOnlyPaths</c>).
    /// </summary>
    /// <value>The default is false: refused with a 400.</value>
    public bool AllowInheritPath { get; set; }

    /// <summary>Days an environment may go unused before the disk sweep removes it (it is built again when next asked for).</summary>
    /// <value>The default is 30 days.</value>
    [Range(1, 3650)]
    public int EnvironmentUnusedDays { get; set; } = DefaultEnvironmentUnusedDays;

    public const int DefaultEnvironmentUnusedDays = 30;

    /// <summary>The value of <see cref="PipIndexUrl"/> that means no index at all.</summary>
    public const string NoIndex = "none";

    /// <summary>Seconds between SIGTERM and SIGKILL when an attempt is stopped.</summary>
    /// <value>The default is 10 seconds.</value>
    [Range(0, 3600)]
    public int StopGraceSeconds { get; set; } = 10;

    /// <summary>Enforce memory and CPU limits with cgroups where the machine allows; else only measure.</summary>
    /// <value>The default is true.</value>
    public bool EnforceLimits { get; set; } = true;

    /// <summary>The cgroup folder to create attempts' cgroups in; null lets the worker choose.</summary>
    public string? CgroupParent { get; set; }
}

/// <summary>One GPU of <see cref="LocalRuntimeOptions.GpuInventory"/>.</summary>
public sealed class GpuInventoryEntry
{
    /// <summary>The device's index (<c>/dev/nvidia&lt;index&gt;</c>); null: its place in the list.</summary>
    [Range(0, 63)]
    public int? Index { get; set; }

    /// <summary>The device's uuid, as <c>nvidia-smi -L</c> prints it (<c>GPU-…</c>).</summary>
    [Required]
    public string Uuid { get; set; } = "";

    /// <summary>The product name, e.g. <c>NVIDIA A100-SXM4-80GB</c>.</summary>
    [Required]
    public string Name { get; set; } = "";

    /// <summary>Its memory in MiB.</summary>
    [Range(0, 16L * 1024 * 1024)]
    public long MemoryMb { get; set; }
}
