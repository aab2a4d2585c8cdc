using System.Text.Json;
using k8s;
using k8s.Models;

namespace Strata.Server.Runtime.Kubernetes;

/// <summary>
/// A model deployment as the Kubernetes runtime needs it; <see cref="DeploymentManifests"/> builds the
/// cluster's objects from it. Not applied yet: deployments run on the local runtime only
/// (<c>IDeploymentRuntime</c> has no Kubernetes implementation), and two things remain before it can be:
/// getting the model version's file into the pod (an init container fetching it from the server, say), and
/// the container's command, written before <c>strata-worker serve</c> existed, which takes <c>--model</c>,
/// <c>--model-name</c> and <c>--version</c> rather than a configuration file.
/// </summary>
public sealed record ModelDeploymentSpec
{
    /// <summary>The deployment's name, a DNS-1035 label unique in the tenant.</summary>
    public required string Name { get; init; }
    public required string TenantId { get; init; }
    public required string ModelName { get; init; }
    public required string ModelVersion { get; init; }
    /// <summary>The image that runs <c>strata-worker serve</c>; null means the platform's own.</summary>
    public string? Image { get; init; }
    public double CpuCores { get; init; } = 1;
    public double MemoryGb { get; init; } = 2;
    public int MinReplicas { get; init; } = 1;
    public int MaxReplicas { get; init; } = 4;
    /// <summary>The average CPU use, in percent of the request, that the autoscaler keeps replicas at.</summary>
    public int TargetCpuPercent { get; init; } = DeploymentManifests.DefaultTargetCpuPercent;
    /// <summary>The model server's settings: written to <c>model.json</c> in the deployment's ConfigMap.</summary>
    public IReadOnlyDictionary<string, string> ModelConfig { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// Builds a model deployment's objects: a ConfigMap with its model configuration, a Deployment that rolls
/// out replica by replica without losing capacity (maxSurge 1, maxUnavailable 0) with readiness and liveness
/// probes, a Service, an autoscaling/v2 HorizontalPodAutoscaler on CPU and a PodDisruptionBudget.
/// </summary>
public static class DeploymentManifests
{
    public const int DefaultTargetCpuPercent = 70;
    public const int ServerPort = 8080;
    public const string ConfigPath = "/etc/strata/model";
    public const string ConfigFile = "model.json";
    private const string DeploymentLabel = "strata.dev/deployment";

    public static IReadOnlyList<IKubernetesObject<V1ObjectMeta>> Build(ModelDeploymentSpec spec, KubernetesRuntimeOptions options) =>
        [ConfigMap(spec), Deployment(spec, options), Service(spec), Autoscaler(spec), DisruptionBudget(spec)];

    public static string ObjectName(ModelDeploymentSpec spec) => "model-" + spec.Name;

    public static V1ConfigMap ConfigMap(ModelDeploymentSpec spec) => new()
    {
        ApiVersion = "v1",
        Kind = "ConfigMap",
        Metadata = Metadata(spec),
        Data = new Dictionary<string, string>
        {
            [ConfigFile] = JsonSerializer.Serialize(new SortedDictionary<string, string>(spec.ModelConfig.ToDictionary(), StringComparer.Ordinal)
            {
                ["model_name"] = spec.ModelName,
                ["model_version"] = spec.ModelVersion,
            }),
        },
    };

    public static V1Deployment Deployment(ModelDeploymentSpec spec, KubernetesRuntimeOptions options)
    {
        var resources = new Dictionary<string, ResourceQuantity>(StringComparer.Ordinal)
        {
            ["cpu"] = Quantities.Cpu(spec.CpuCores),
            ["memory"] = Quantities.MemoryGb(spec.MemoryGb),
        };
        var container = new V1Container
        {
            Name = "model-server",
            Image = spec.Image ?? options.DefaultImage,
            Command = ["/app/worker/strata-worker", "serve", "--config", $"{ConfigPath}/{ConfigFile}", "--port", ServerPort.ToString(System.Globalization.CultureInfo.InvariantCulture)],
            Ports = [new V1ContainerPort { Name = "http", ContainerPort = ServerPort }],
            Resources = new V1ResourceRequirements { Requests = resources, Limits = new Dictionary<string, ResourceQuantity>(resources, StringComparer.Ordinal) },
            // Ready once the model is loaded; restarted when it stops answering at all.
            ReadinessProbe = new V1Probe { HttpGet = new V1HTTPGetAction { Path = "/health/ready", Port = ServerPort }, PeriodSeconds = 5, FailureThreshold = 3 },
            LivenessProbe = new V1Probe { HttpGet = new V1HTTPGetAction { Path = "/health/live", Port = ServerPort }, InitialDelaySeconds = 10, PeriodSeconds = 10, FailureThreshold = 3 },
            SecurityContext = new V1SecurityContext
            {
                RunAsNonRoot = true,
                AllowPrivilegeEscalation = false,
                ReadOnlyRootFilesystem = true,
                Capabilities = new V1Capabilities { Drop = ["ALL"] },
                SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
            },
            VolumeMounts = [new V1VolumeMount { Name = "config", MountPath = ConfigPath, ReadOnlyProperty = true }, new V1VolumeMount { Name = "tmp", MountPath = "/tmp" }],
        };
        return new V1Deployment
        {
            ApiVersion = "apps/v1",
            Kind = "Deployment",
            Metadata = Metadata(spec),
            Spec = new V1DeploymentSpec
            {
                // The autoscaler owns the count from here on; this is where a new deployment starts.
                Replicas = spec.MinReplicas,
                Selector = new V1LabelSelector { MatchLabels = Selector(spec) },
                Strategy = new V1DeploymentStrategy
                {
                    Type = "RollingUpdate",
                    RollingUpdate = new V1RollingUpdateDeployment { MaxSurge = 1, MaxUnavailable = 0 },
                },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = Labels(spec) },
                    Spec = new V1PodSpec
                    {
                        ServiceAccountName = KubernetesNames.JobServiceAccount,
                        AutomountServiceAccountToken = false,
                        EnableServiceLinks = false,
                        Containers = [container],
                        SecurityContext = new V1PodSecurityContext
                        {
                            RunAsNonRoot = true,
                            RunAsUser = options.RunAsUser,
                            RunAsGroup = options.RunAsUser,
                            SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
                        },
                        Volumes =
                        [
                            new V1Volume { Name = "config", ConfigMap = new V1ConfigMapVolumeSource { Name = ObjectName(spec) } },
                            new V1Volume { Name = "tmp", EmptyDir = new V1EmptyDirVolumeSource { SizeLimit = new ResourceQuantity("1Gi") } },
                        ],
                    },
                },
            },
        };
    }

    public static V1Service Service(ModelDeploymentSpec spec) => new()
    {
        ApiVersion = "v1",
        Kind = "Service",
        Metadata = Metadata(spec),
        Spec = new V1ServiceSpec
        {
            Selector = Selector(spec),
            Ports = [new V1ServicePort { Name = "http", Port = 80, TargetPort = ServerPort, Protocol = "TCP" }],
        },
    };

    public static V2HorizontalPodAutoscaler Autoscaler(ModelDeploymentSpec spec) => new()
    {
        ApiVersion = "autoscaling/v2",
        Kind = "HorizontalPodAutoscaler",
        Metadata = Metadata(spec),
        Spec = new V2HorizontalPodAutoscalerSpec
        {
            ScaleTargetRef = new V2CrossVersionObjectReference { ApiVersion = "apps/v1", Kind = "Deployment", Name = ObjectName(spec) },
            MinReplicas = spec.MinReplicas,
            MaxReplicas = spec.MaxReplicas,
            Metrics =
            [
                new V2MetricSpec
                {
                    Type = "Resource",
                    Resource = new V2ResourceMetricSource { Name = "cpu", Target = new V2MetricTarget { Type = "Utilization", AverageUtilization = spec.TargetCpuPercent } },
                },
            ],
        },
    };

    /// <summary>
    /// At most one replica down for a node drain. (<c>minAvailable</c> equal to a one-replica deployment's
    /// size would block drains for good.)
    /// </summary>
    public static V1PodDisruptionBudget DisruptionBudget(ModelDeploymentSpec spec) => new()
    {
        ApiVersion = "policy/v1",
        Kind = "PodDisruptionBudget",
        Metadata = Metadata(spec),
        Spec = new V1PodDisruptionBudgetSpec { MaxUnavailable = 1, Selector = new V1LabelSelector { MatchLabels = Selector(spec) } },
    };

    private static V1ObjectMeta Metadata(ModelDeploymentSpec spec) => new()
    {
        Name = ObjectName(spec),
        NamespaceProperty = KubernetesNames.Namespace(spec.TenantId),
        Labels = Labels(spec),
    };

    private static Dictionary<string, string> Selector(ModelDeploymentSpec spec) => new(StringComparer.Ordinal)
    {
        [KubernetesNames.TenantLabel] = spec.TenantId,
        [DeploymentLabel] = spec.Name,
    };

    private static Dictionary<string, string> Labels(ModelDeploymentSpec spec) => new(Selector(spec), StringComparer.Ordinal)
    {
        [KubernetesNames.ManagedByLabel] = KubernetesNames.ManagedByValue,
        ["strata.dev/model"] = spec.ModelName,
        ["strata.dev/model-version"] = spec.ModelVersion,
    };
}
