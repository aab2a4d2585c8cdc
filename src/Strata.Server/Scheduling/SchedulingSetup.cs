using Strata.Server.Leadership;

namespace Strata.Server.Scheduling;

public static class SchedulingSetup
{
    /// <summary>
    /// The queue, the launch builder and the leader-only scheduler and reconciler, over the runtime that
    /// <c>AddRuntimes</c> picked.
    /// </summary>
    public static WebApplicationBuilder AddScheduling(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<SchedulerOptions>().BindConfiguration(SchedulerOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<JobQueue>();
        builder.Services.AddSingleton<LaunchBuilder>();
        builder.Services.AddSingleton<RunningMarks>();
        builder.Services.AddSingleton<Scheduler>();
        builder.Services.AddLeaderService<Scheduler>();
        builder.Services.AddSingleton<Reconciler>();
        builder.Services.AddLeaderService<Reconciler>();
        return builder;
    }
}
