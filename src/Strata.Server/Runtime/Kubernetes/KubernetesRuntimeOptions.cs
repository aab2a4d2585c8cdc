using System.ComponentModel.DataAnnotations;

namespace Strata.Server.Runtime.Kubernetes;

/// <summary>Settings of the Kubernetes runtime (section <c>Runtime:Kubernetes</c>), used when <c>Runtime:Kind</c> is <c>kubernetes</c>.</summary>
public sealed class KubernetesRuntimeOptions
{
    public const string Section = "Runtime:Kubernetes";

    /// <summary>
    /// A kubeconfig file. When null, the server uses its pod's service account when it runs in a cluster
    /// (<c>KUBERNETES_SERVICE_HOST</c> is set), else <c>$KUBECONFIG</c> or <c>~/.kube/config</c>.
    /// </summary>
    public string? KubeconfigPath { get; set; }

    /// <summary>The kubeconfig context to use; null means its current context.</summary>
    public string? Context { get; set; }

    /// <summary>The image of jobs that name no <c>docker_image</c>: the platform's own, which holds <c>strata-worker</c> and its built-in trainers.</summary>
    /// <value>The default is <c>strata:latest</c>.</value>
    [Required]
    public string DefaultImage { get; set; } = "strata:latest";

    /// <summary>The namespace the Strata server runs in; tenants' NetworkPolicies let jobs reach the API there.</summary>
    /// <value>The default is <c>strata-system</c>.</value>
    [Required]
    public string PlatformNamespace { get; set; } = "strata-system";

    /// <summary>The value of the <c>app.kubernetes.io/name</c> label of the server's pods (deploy/kubernetes sets <c>strata</c>).</summary>
    [Required]
    public string PlatformAppLabel { get; set; } = "strata";

    /// <summary>The server's container port that jobs may reach.</summary>
    /// <value>The default is 8080.</value>
    [Range(1, 65535)]
    public int PlatformApiPort { get; set; } = 8080;

    /// <summary>Seconds a finished Job (and its pods, with their logs) stays before Kubernetes deletes it.</summary>
    /// <value>The default is 86,400 (one day).</value>
    [Range(0, 30 * 86400)]
    public int TtlSecondsAfterFinished { get; set; } = 86400;

    /// <summary>The user id jobs run as (the restricted Pod Security standard forbids root).</summary>
    /// <value>The default is 1000.</value>
    [Range(1, int.MaxValue)]
    public long RunAsUser { get; set; } = 1000;

    /// <summary>Size in GB of each job pod's scratch volume (<c>/strata/work</c>, also its HOME, checkpoints and <c>/tmp</c>).</summary>
    /// <value>The default is 20 GB.</value>
    [Range(1, 10_000)]
    public int ScratchGb { get; set; } = 20;

    /// <summary>The node label that <c>compute.gpu_type</c> selects on.</summary>
    /// <value>The default is <c>strata.dev/gpu-type</c>; on GKE, <c>cloud.google.com/gke-accelerator</c>.</value>
    [Required]
    public string GpuTypeNodeLabel { get; set; } = "strata.dev/gpu-type";

    /// <summary>The port rank 0 of a distributed job listens on for the others (<c>MASTER_PORT</c>).</summary>
    /// <value>The default is 29500, PyTorch's.</value>
    [Range(1024, 65535)]
    public int MasterPort { get; set; } = 29500;

    /// <summary>Cores of a job that names none (and <c>Jobs:DefaultCpuCores</c> is not set).</summary>
    /// <value>The default is the seed course's 4.</value>
    [Range(1, 96)]
    public int DefaultCpuCores { get; set; } = 4;

    /// <summary>Memory in GB of a job that names none (and <c>Jobs:DefaultMemoryGb</c> is not set).</summary>
    /// <value>The default is the seed course's 16.</value>
    [Range(1, 768)]
    public int DefaultMemoryGb { get; set; } = 16;

    /// <summary>Cores the scheduler may hand out in the cluster at once (the share of the cluster Strata's jobs may take).</summary>
    [Range(0.1, 1_000_000)]
    public double CapacityCpuCores { get; set; } = 64;

    /// <summary>Memory in GB the scheduler may hand out in the cluster at once.</summary>
    [Range(0.1, 100_000_000)]
    public double CapacityMemoryGb { get; set; } = 256;

    /// <summary>GPUs the scheduler may hand out in the cluster at once.</summary>
    [Range(0, 100_000)]
    public int CapacityGpus { get; set; }

    /// <summary>The most workers of one distributed job.</summary>
    /// <value>The default is 64.</value>
    [Range(1, 10_000)]
    public int MaxWorkersPerJob { get; set; } = 64;

    /// <summary>Seconds between full re-lists of the watched Jobs, besides the watch itself.</summary>
    /// <value>The default is 300 seconds.</value>
    [Range(10, 86400)]
    public int ResyncSeconds { get; set; } = 300;

    /// <summary>Seconds between provisioning passes over every tenant (namespace, quota, RBAC, policies); drift is repaired on the next one.</summary>
    /// <value>The default is 60 seconds.</value>
    [Range(1, 86400)]
    public int ProvisionSeconds { get; set; } = 60;

    /// <summary>The ResourceQuota of a tenant's namespace, until quotas per tenant are wired in.</summary>
    [Required]
    public TenantQuotaLimits TenantQuota { get; set; } = new();

    /// <summary>The LimitRange's default request and limit of CPU cores of a container that names none.</summary>
    /// <value>The default is 1.</value>
    [Range(0.1, 96)]
    public double DefaultContainerCpuCores { get; set; } = 1;

    /// <summary>The LimitRange's default request and limit of memory in GB of a container that names none.</summary>
    /// <value>The default is 2.</value>
    [Range(0.1, 768)]
    public double DefaultContainerMemoryGb { get; set; } = 2;
}
