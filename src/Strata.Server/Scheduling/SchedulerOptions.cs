using System.ComponentModel.DataAnnotations;

namespace Strata.Server.Scheduling;

/// <summary>Settings of the scheduler and reconciler (section <c>Scheduler</c>).</summary>
public sealed class SchedulerOptions
{
    public const string Section = "Scheduler";

    /// <summary>Seconds between full reconciliations of the store with the runtime, besides event-driven ones.</summary>
    /// <value>The default is 5 seconds.</value>
    [Range(1, 3600)]
    public int ResyncSeconds { get; set; } = 5;
}
