using Strata.Core.Runtime;
using Strata.Server.Runtime.Local;

namespace Strata.Server.Scheduling;

public static class SchedulingSetup
{
    /// <summary>The runtime (local processes), the queue, the scheduler and the reconciler.</summary>
    public static WebApplicationBuilder AddScheduling(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<SchedulerOptions>().BindConfiguration(SchedulerOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<LocalRuntimeOptions>().BindConfiguration(LocalRuntimeOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<LocalJobRuntime>();
        builder.Services.AddSingleton<IJobRuntime>(sp => sp.GetRequiredService<LocalJobRuntime>());
        builder.Services.AddSingleton<JobQueue>();
        builder.Services.AddSingleton<LaunchBuilder>();
        builder.Services.AddSingleton<Scheduler>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<Scheduler>());
        builder.Services.AddSingleton<Reconciler>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<Reconciler>());
        return builder;
    }
}
