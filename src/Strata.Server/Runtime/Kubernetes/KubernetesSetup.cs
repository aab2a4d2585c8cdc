using k8s;
using Microsoft.Extensions.Options;

namespace Strata.Server.Runtime.Kubernetes;

public static class KubernetesSetup
{
    /// <summary>The Kubernetes runtime, its capacity from the cluster, its tenant provisioner and its placeholder pods, over a client configured from <c>Runtime:Kubernetes</c>.</summary>
    public static IServiceCollection AddKubernetesRuntime(this IServiceCollection services)
    {
        services.AddSingleton<IKubernetes>(sp => new k8s.Kubernetes(ClientConfiguration(sp.GetRequiredService<IOptions<KubernetesRuntimeOptions>>().Value)));
        services.AddSingleton<ClusterApi>();
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<KubernetesRuntimeOptions>>().Value);
        services.AddSingleton<JobWatcher>();
        services.AddSingleton<ClusterCapacity>();
        services.AddSingleton<PlaceholderPods>();
        services.AddSingleton<TenantProvisioner>();
        services.AddSingleton<KubernetesJobRuntime>();
        services.AddSingleton<KubernetesDeploymentRuntime>();
        services.AddSingleton<DeploymentAutoscaler>();
        return services;
    }

    /// <summary>A kubeconfig when one is named; else the pod's service account inside a cluster; else the default kubeconfig.</summary>
    public static KubernetesClientConfiguration ClientConfiguration(KubernetesRuntimeOptions options)
    {
        if (!string.IsNullOrEmpty(options.KubeconfigPath))
        {
            return KubernetesClientConfiguration.BuildConfigFromConfigFile(options.KubeconfigPath, options.Context);
        }
        if (KubernetesClientConfiguration.IsInCluster())
        {
            return KubernetesClientConfiguration.InClusterConfig();
        }
        return KubernetesClientConfiguration.BuildConfigFromConfigFile(currentContext: options.Context);
    }
}
