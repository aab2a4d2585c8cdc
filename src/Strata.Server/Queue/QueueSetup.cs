namespace Strata.Server.Queue;

public static class QueueSetup
{
    /// <summary>The scheduler's in-memory state (<see cref="JobQueue"/>) and the way to wake it (<see cref="SchedulerWakeUp"/>), which every server holds, leader or not.</summary>
    public static WebApplicationBuilder AddQueue(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<JobQueue>();
        builder.Services.AddSingleton<SchedulerWakeUp>();
        return builder;
    }
}
