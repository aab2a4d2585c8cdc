using System.ComponentModel.DataAnnotations;

namespace Strata.Server.Scheduling;

/// <summary>Settings of the scheduler (section <c>Scheduler</c>; the reconciler's are <c>Attempts.ReconcilerOptions</c>).</summary>
public sealed class SchedulerOptions
{
    public const string Section = "Scheduler";

    /// <summary>
    /// The longest the scheduler waits between cycles when nothing wakes it (a submission, an ended attempt, a
    /// cancel or a quota change each start a cycle at once).
    /// </summary>
    /// <value>The default is 5 seconds.</value>
    [Range(1, 3600)]
    public int CycleSeconds { get; set; } = 5;
}
