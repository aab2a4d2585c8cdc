using Strata.Server.Leadership;

namespace Strata.Server.Scheduling;

public static class SchedulingSetup
{
    /// <summary>The leader-only scheduler, over the queue (<c>AddQueue</c>) and the attempt lifecycle (<c>AddAttempts</c>).</summary>
    public static WebApplicationBuilder AddScheduling(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<SchedulerOptions>().BindConfiguration(SchedulerOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<Scheduler>();
        builder.Services.AddLeaderService<Scheduler>();
        return builder;
    }
}
