using System.ComponentModel.DataAnnotations;

namespace Strata.Server.Jobs;

/// <summary>Defaults and limits of training jobs (section <c>Jobs</c>).</summary>
public sealed class JobsOptions
{
    public const string Section = "Jobs";
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 200;
    /// <summary>The default of <see cref="MaxLogBytes"/>: 100 MiB.</summary>
    public const long DefaultMaxLogBytes = 100L * 1024 * 1024;

    public static readonly TimeSpan DefaultRetention = TimeSpan.FromDays(7);

    /// <summary>Cores of a job that names none; null means the runtime's default (local: 1, Kubernetes: the seed's 4).</summary>
    [Range(1, 96)]
    public int? DefaultCpuCores { get; set; }

    /// <summary>Memory in GB of a job that names none; null means the runtime's default (local: 2, Kubernetes: the seed's 16).</summary>
    [Range(1, 768)]
    public int? DefaultMemoryGb { get; set; }

    /// <summary>Attempts of a job that names no retry policy.</summary>
    /// <value>The default is 3.</value>
    [Range(1, 10)]
    public int DefaultMaxAttempts { get; set; } = Core.Jobs.JobDefaults.DefaultMaxAttempts;

    /// <summary>Lifetime of the token a job gets to report metrics and outputs, beyond its time-out.</summary>
    /// <value>The default is 7 days.</value>
    [Range(1, 365)]
    public int JobTokenDays { get; set; } = 7;

    /// <summary>
    /// How long what an ended attempt leaves on the server's disk is kept: its <c>output.log</c>, <c>result.json</c>
    /// and <c>worker.log</c> (its working folder goes as soon as it ends), and an ended job's checkpoint folder.
    /// After that the job's logs answer empty, as for a job that wrote none. Written as <c>d.hh:mm:ss</c>.
    /// </summary>
    /// <value>The default is 7 days.</value>
    [Range(typeof(TimeSpan), "00:00:01", "3650.00:00:00", ErrorMessage = "Jobs:Retention must be between 1 second and 3650 days.")]
    public TimeSpan Retention { get; set; } = DefaultRetention;

    /// <summary>
    /// The strata-worker that runs built-in trainer jobs (<c>strata-worker train</c>) and model replicas
    /// (<c>strata-worker serve</c>): a path to its apphost or its <c>.dll</c>. It must be a JIT build: a Native AOT
    /// worker (fine for <c>Runtime:Local:WorkerPath</c>) has neither. Read by <c>Runtime.WorkerBinary</c>.
    /// </summary>
    /// <value>The default is null: <c>Deployments:WorkerPath</c> (its older name) when set, else the strata-worker built beside the server.</value>
    public string? TrainerWorkerPath { get; set; }

    /// <summary>
    /// The most bytes an attempt's output.log keeps. Beyond it the worker keeps the first half and the last
    /// half of the output with one line between saying how much was dropped; <c>STRATA_METRIC</c> lines
    /// are still recorded (docs/limits.md).
    /// </summary>
    /// <value>The default is 100 MiB (104,857,600 bytes); at least 64 KiB.</value>
    [Range(64 * 1024, long.MaxValue)]
    public long MaxLogBytes { get; set; } = DefaultMaxLogBytes;
}
