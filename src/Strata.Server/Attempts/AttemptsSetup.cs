using Strata.Server.Leadership;

namespace Strata.Server.Attempts;

public static class AttemptsSetup
{
    /// <summary>The attempt lifecycle, the launch builder, the running marks, and the leader-only reconciler, over the runtime that <c>AddRuntimes</c> picked.</summary>
    public static WebApplicationBuilder AddAttempts(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<AttemptOptions>().BindConfiguration(AttemptOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<ReconcilerOptions>().BindConfiguration(ReconcilerOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<LaunchBuilder>();
        builder.Services.AddSingleton<RetryJitter>();
        builder.Services.AddSingleton<RunningMarks>();
        builder.Services.AddSingleton<AttemptLifecycle>();
        builder.Services.AddSingleton<Reconciler>();
        builder.Services.AddLeaderService<Reconciler>();
        return builder;
    }
}
