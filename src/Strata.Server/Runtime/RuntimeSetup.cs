using Strata.Core.Deployments;
using Strata.Core.Runtime;
using Strata.Server.Hosting;
using Strata.Server.Leadership;
using Strata.Server.Retention;
using Strata.Server.Runtime.Kubernetes;
using Strata.Server.Runtime.Local.Sandbox;
using Strata.Server.Runtime.Local;

namespace Strata.Server.Runtime;

public static class RuntimeSetup
{
    /// <summary>
    /// The runtimes, picked by <c>Runtime:Kind</c>, and what goes with each: on <c>local</c> the job runtime
    /// of worker processes, its sandbox and its attempt sweep; on <c>kubernetes</c> the cluster's job runtime,
    /// the sweep of jobs' checkpoint volumes and (on the leader) tenant provisioning, whose namespaces a tenant's
    /// deletion removes (<see cref="ITenantTeardown"/>), the placeholder pods of jobs waiting for capacity, and model deployments as Deployments with their
    /// in-flight autoscaler (on the leader); on <c>local</c> deployments are replica processes. Both get the worker finder.
    /// </summary>
    public static WebApplicationBuilder AddRuntimes(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<RuntimeOptions>().BindConfiguration(RuntimeOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<LocalRuntimeOptions>().BindConfiguration(LocalRuntimeOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<KubernetesRuntimeOptions>().BindConfiguration(KubernetesRuntimeOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<LocalDeploymentOptions>().BindConfiguration(LocalDeploymentOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<WorkerBinary>();
        var kind = builder.Configuration[$"{RuntimeOptions.Section}:{nameof(RuntimeOptions.Kind)}"] ?? RuntimeOptions.Local;
        if (kind == RuntimeOptions.Kubernetes)
        {
            builder.Services.AddKubernetesRuntime();
            builder.Services.AddSingleton<IJobRuntime>(sp => sp.GetRequiredService<KubernetesJobRuntime>());
            builder.Services.AddSingleton<IRuntimeProfile>(sp => sp.GetRequiredService<KubernetesJobRuntime>());
            builder.Services.AddLeaderService<TenantProvisioner>();
            builder.Services.AddLeaderService<PlaceholderPods>();
            builder.Services.AddSingleton<ITenantTeardown>(sp => sp.GetRequiredService<TenantProvisioner>());
            builder.Services.AddSingleton<IDiskSweep, CheckpointVolumeSweep>();
            builder.Services.AddSingleton<IDeploymentRuntime>(sp => sp.GetRequiredService<KubernetesDeploymentRuntime>());
            builder.Services.AddHostedService(sp => sp.GetRequiredService<KubernetesDeploymentRuntime>());
            builder.Services.AddLeaderService<DeploymentAutoscaler>();
        }
        else
        {
            builder.Services.AddOptions<SandboxOptions>().BindConfiguration(SandboxOptions.Section).ValidateDataAnnotations().ValidateOnStart();
            builder.Services.AddSingleton<LocalSandbox>();
            builder.Services.AddSingleton<JobEnvironments>();
            builder.Services.AddSingleton<LocalJobRuntime>();
            builder.Services.AddSingleton<IJobRuntime>(sp => sp.GetRequiredService<LocalJobRuntime>());
            builder.Services.AddSingleton<IRuntimeProfile>(sp => sp.GetRequiredService<LocalJobRuntime>());
            builder.Services.AddSingleton<IDiskSweep, LocalAttemptSweep>();
            builder.Services.AddSingleton<ITenantTeardown, NoTenantTeardown>();
            builder.Services.AddSingleton<IDeploymentRuntime, LocalDeploymentRuntime>();
        }
        return builder;
    }
}
