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
    /// deletion removes (<see cref="ITenantTeardown"/>), and the placeholder pods of jobs waiting for capacity. Both get the worker finder and the local deployment runtime.
    /// </summary>
    public static WebApplicationBuilder AddRuntimes(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<RuntimeOptions>().BindConfiguration(RuntimeOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<LocalRuntimeOptions>().BindConfiguration(LocalRuntimeOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<KubernetesRuntimeOptions>().BindConfiguration(KubernetesRuntimeOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<LocalDeploymentOptions>().BindConfiguration(LocalDeploymentOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<WorkerBinary>();
        // Deployments run as local processes on either kind: IDeploymentRuntime has no Kubernetes
        // implementation yet (see DeploymentManifests for what it lacks).
        builder.Services.AddSingleton<IDeploymentRuntime, LocalDeploymentRuntime>();
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
        }
        return builder;
    }
}
