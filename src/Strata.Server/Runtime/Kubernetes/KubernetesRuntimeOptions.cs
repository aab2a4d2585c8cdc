using System.ComponentModel.DataAnnotations;

namespace Strata.Server.Runtime.Kubernetes;

/// <summary>Settings of the Kubernetes runtime (section <c>Runtime:Kubernetes</c>), used when <c>Runtime:Kind</c> is <c>kubernetes</c>.</summary>
public sealed class KubernetesRuntimeOptions : IValidatableObject
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

    /// <summary>
    /// Whether a job's <c>environment.requirements</c> are installed, by an init container of the job's image
    /// (<c>pip install --target</c> into a volume on the job's <c>PYTHONPATH</c>, docs/environments.md). The tenants'
    /// namespaces deny egress: pip reaches the index only where a NetworkPolicy of the operator's allows it (or the
    /// index is in the cluster). False: such a job is refused with a 400, and the image must hold its packages.
    /// </summary>
    /// <value>The default is true.</value>
    public bool InstallRequirements { get; set; } = true;

    /// <summary>The package index the init container installs from (pip's <c>--index-url</c>); <c>none</c>: <c>--no-index</c>. Unset: pip's default.</summary>
    public string? PipIndexUrl { get; set; }

    /// <summary>A URL of a page of links that pip also looks in (<c>--find-links</c>); unset: none.</summary>
    public string? PipFindLinks { get; set; }

    /// <summary>The node label that <c>compute.gpu_type</c> selects on.</summary>
    /// <value>The default is <c>strata.dev/gpu-type</c>; on GKE, <c>cloud.google.com/gke-accelerator</c>.</value>
    [Required]
    public string GpuTypeNodeLabel { get; set; } = "strata.dev/gpu-type";

    /// <summary>
    /// The operator's table of <c>compute.gpu_type</c> values (keys, compared without case): an entry's
    /// <see cref="GpuTypeOptions.Resource"/> is asked for instead of <c>nvidia.com/gpu</c> (a MIG profile such as
    /// <c>nvidia.com/mig-1g.10gb</c>), and its <see cref="GpuTypeOptions.NodeSelector"/> replaces the
    /// <see cref="GpuTypeNodeLabel"/> selector. A type not in the table selects nodes by <see cref="GpuTypeNodeLabel"/>.
    /// </summary>
    public Dictionary<string, GpuTypeOptions> GpuTypes { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Size in GB of each job's checkpoint volume (a PersistentVolumeClaim mounted at <c>STRATA_CHECKPOINT_DIR</c> by
    /// every attempt of the job). 0: no claim; checkpoints are on each pod's scratch volume, lost between attempts.
    /// </summary>
    /// <value>The default is 10 GB.</value>
    [Range(0, 100_000)]
    public int CheckpointVolumeGb { get; set; } = 10;

    /// <summary>The storage class of checkpoint volumes; null: the cluster's default class.</summary>
    public string? CheckpointStorageClass { get; set; }

    /// <summary>
    /// The access mode of checkpoint volumes. <c>ReadWriteOnce</c> mounts on one node at a time: enough for
    /// single-worker jobs and gangs whose pods share a node. A gang spread over nodes needs <c>ReadWriteMany</c>
    /// (a storage class that offers it: NFS, CephFS, EFS, Filestore, Azure Files); otherwise its other pods wait to be scheduled.
    /// </summary>
    /// <value>The default is <c>ReadWriteOnce</c>.</value>
    [Required]
    [AllowedValues("ReadWriteOnce", "ReadWriteMany", "ReadWriteOncePod")]
    public string CheckpointAccessMode { get; set; } = "ReadWriteOnce";

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

    /// <summary>
    /// Whether the scheduler's capacity is read from the cluster (<see cref="ClusterCapacity"/>): the allocatable cores,
    /// memory and GPUs of the Ready, schedulable nodes matching <see cref="CapacityNodeSelector"/>, less what pods other
    /// than Strata's attempts request on them. False, before the first list, or where nodes cannot be listed (403): the
    /// <c>Capacity*</c> settings. Either way a job is refused at submission only when it asks for more than the larger of
    /// the <c>Capacity*</c> settings and the matching nodes' allocatable: a cluster that autoscales may not have its nodes yet.
    /// </summary>
    /// <value>The default is true.</value>
    public bool CapacityFromCluster { get; set; } = true;

    /// <summary>A label selector of the nodes Strata's jobs run on (<c>strata.dev/pool=training</c>); empty: every node.</summary>
    public string CapacityNodeSelector { get; set; } = "";

    /// <summary>
    /// The most placeholder pods (<see cref="PlaceholderPods"/>) kept at once for jobs waiting for capacity, whole gangs
    /// in queue order; 0: none.
    /// </summary>
    /// <value>The default is 50.</value>
    [Range(0, 10_000)]
    public int MaxPlaceholders { get; set; } = 50;

    /// <summary>The image of placeholder pods: one that does nothing.</summary>
    /// <value>The default is <c>registry.k8s.io/pause:3.10</c>.</value>
    [Required]
    public string PlaceholderImage { get; set; } = "registry.k8s.io/pause:3.10";

    /// <summary>
    /// The PriorityClass of placeholder pods: negative, so that any real pod preempts them, and at least the cluster
    /// autoscaler's <c>--expendable-pods-priority-cutoff</c> (-10), or it ignores them.
    /// </summary>
    /// <value>The default is <c>strata-placeholder</c> (deploy/kubernetes defines it).</value>
    [Required]
    public string PlaceholderPriorityClass { get; set; } = "strata-placeholder";

    /// <summary>Seconds between passes that bring the placeholder pods in line with the jobs waiting for capacity.</summary>
    /// <value>The default is 10 seconds.</value>
    [Range(1, 3600)]
    public int PlaceholderSeconds { get; set; } = 10;

    /// <summary>
    /// The image of model deployments' pods: its init container runs <c>/app/worker/strata-worker fetch</c> and its
    /// serving container <c>/app/worker/strata-worker serve</c> (deploy/Dockerfile's layout); null: <see cref="DefaultImage"/>.
    /// </summary>
    public string? ReplicaImage { get; set; }

    /// <summary>The port of each model deployment's Service, which the platform's predict route forwards to.</summary>
    /// <value>The default is 80.</value>
    [Range(1, 65535)]
    public int ReplicaServicePort { get; set; } = 80;

    /// <summary>
    /// Days a deployment's model-fetch token (in its Secret, read by its pods' init container) lives. The server renews
    /// it once half of that is gone (on its next apply of the deployment: at start, on a change, and every
    /// <c>Deployments:ResyncSeconds</c>), so that a pod restarted at any time can fetch its model.
    /// </summary>
    /// <value>The default is 30 days.</value>
    [Range(1, 3650)]
    public int ModelFetchTokenDays { get; set; } = 30;

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

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var (type, entry) in GpuTypes)
        {
            if (string.IsNullOrWhiteSpace(entry.Resource) && entry.NodeSelector.Count == 0)
            {
                yield return new ValidationResult($"Runtime:Kubernetes:GpuTypes:{type} names neither a Resource nor a NodeSelector.", [nameof(GpuTypes)]);
            }
            else if (entry.Resource is { } resource && !resource.Contains('/', StringComparison.Ordinal))
            {
                yield return new ValidationResult($"Runtime:Kubernetes:GpuTypes:{type}:Resource must be an extended resource such as nvidia.com/mig-1g.10gb.", [nameof(GpuTypes)]);
            }
        }
    }
}

/// <summary>How one <c>compute.gpu_type</c> is asked for on the cluster (<see cref="KubernetesRuntimeOptions.GpuTypes"/>).</summary>
public sealed class GpuTypeOptions
{
    /// <summary>The extended resource each GPU of the job asks for instead of <c>nvidia.com/gpu</c> (a MIG profile: <c>nvidia.com/mig-1g.10gb</c>); null: <c>nvidia.com/gpu</c>.</summary>
    public string? Resource { get; set; }

    /// <summary>Node labels the job's pods must match (<c>nvidia.com/gpu.product: NVIDIA-A100-SXM4-80GB</c>); empty: none beyond the resource.</summary>
    public Dictionary<string, string> NodeSelector { get; set; } = new(StringComparer.Ordinal);
}
