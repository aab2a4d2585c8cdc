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

    /// <summary>GPUs the runtime may hand out.</summary>
    /// <value>The default is 0: GPU jobs are refused on a machine without configured GPUs.</value>
    [Range(0, 64)]
    public int Gpus { get; set; }

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
