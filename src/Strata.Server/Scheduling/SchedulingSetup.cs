using Strata.Core.Runtime;
using Strata.Server.Hosting;
using Strata.Server.Leadership;
using Strata.Server.Runtime;
using Strata.Server.Runtime.Kubernetes;
using Strata.Server.Runtime.Local;
using Strata.Server.Runtime.Local.Sandbox;

namespace Strata.Server.Scheduling;

public static class SchedulingSetup
{
    /// <summary>
    /// The runtime (<c>Runtime:Kind</c>: local processes or Kubernetes), the queue, and the leader-only
    /// services: the scheduler, the reconciler and (on Kubernetes) tenant provisioning.
    /// </summary>
    public static WebApplicationBuilder AddScheduling(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<SchedulerOptions>().BindConfiguration(SchedulerOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<RuntimeOptions>().BindConfiguration(RuntimeOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<LocalRuntimeOptions>().BindConfiguration(LocalRuntimeOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<KubernetesRuntimeOptions>().BindConfiguration(KubernetesRuntimeOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        var kind = builder.Configuration[$"{RuntimeOptions.Section}:{nameof(RuntimeOptions.Kind)}"] ?? RuntimeOptions.Local;
        if (kind == RuntimeOptions.Kubernetes)
        {
            builder.Services.AddKubernetesRuntime();
            builder.Services.AddSingleton<IJobRuntime>(sp => sp.GetRequiredService<KubernetesJobRuntime>());
            builder.Services.AddLeaderService<TenantProvisioner>();
        }
        else
        {
            builder.Services.AddOptions<SandboxOptions>().BindConfiguration(SandboxOptions.Section).ValidateDataAnnotations().ValidateOnStart();
            builder.Services.AddSingleton<LocalSandbox>();
            builder.Services.AddSingleton<LocalJobRuntime>();
            builder.Services.AddSingleton<IJobRuntime>(sp => sp.GetRequiredService<LocalJobRuntime>());
            builder.Services.AddSingleton<IDiskSweep, LocalAttemptSweep>();
        }
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
