using System.ComponentModel.DataAnnotations;

namespace Strata.Server.Attempts;

/// <summary>
/// The settings of section <c>Jobs</c> that an attempt's start reads. The section's other settings (defaults of a
/// submitted job, retention) are <c>Jobs.JobsOptions</c>': each folder binds what it reads, so that it needs no
/// other feature for its settings.
/// </summary>
public sealed class AttemptOptions
{
    public const string Section = "Jobs";

    /// <summary>The default of <see cref="MaxLogBytes"/>: 100 MiB.</summary>
    public const long DefaultMaxLogBytes = 100L * 1024 * 1024;

    /// <summary>Lifetime of the token a job gets to report metrics and outputs, beyond its time-out.</summary>
    /// <value>The default is 7 days.</value>
    [Range(1, 365)]
    public int JobTokenDays { get; set; } = 7;

    /// <summary>
    /// The most bytes an attempt's output.log keeps. Beyond it the worker keeps the first half and the last
    /// half of the output with one line between saying how much was dropped; <c>STRATA_METRIC</c> lines
    /// are still recorded (docs/limits.md).
    /// </summary>
    /// <value>The default is 100 MiB (104,857,600 bytes); at least 64 KiB.</value>
    [Range(64 * 1024, long.MaxValue)]
    public long MaxLogBytes { get; set; } = DefaultMaxLogBytes;
}

/// <summary>The setting of section <c>Scheduler</c> that the reconciler reads (the scheduler's own are <c>Scheduling.SchedulerOptions</c>').</summary>
public sealed class ReconcilerOptions
{
    public const string Section = "Scheduler";

    /// <summary>Seconds between full reconciliations of the store with the runtime, besides event-driven ones.</summary>
    /// <value>The default is 5 seconds.</value>
    [Range(1, 3600)]
    public int ResyncSeconds { get; set; } = 5;
}
