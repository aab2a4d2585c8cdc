using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using k8s.Models;
using Strata.Contracts;
using Strata.Core.Deployments;

namespace Strata.Server.Runtime.Kubernetes;

/// <summary>Which of a deployment's two Deployments: the version it serves, or its canary.</summary>
public enum ReplicaTrack
{
    Main,
    Canary,
}

/// <summary>
/// A model deployment's objects in its tenant's namespace (docs/kubernetes.md, "Model deployments"). The main
/// Deployment (<c>model-&lt;name&gt;</c>) is the root: everything else names it as owner, so that deleting it deletes
/// them all (the garbage collector). Per track (main, canary) a Deployment that rolls out replica by replica without
/// losing capacity (maxSurge 1, maxUnavailable 0), a Service the platform's router forwards to, and a
/// PodDisruptionBudget; for the deployment, the Secret holding its model-fetch token and, in scaling mode <c>cpu</c>,
/// an autoscaling/v2 HorizontalPodAutoscaler. A pod gets its model from an init container
/// (<c>strata-worker fetch</c>, token mounted from the Secret) into an emptyDir, then serves it
/// (<c>strata-worker serve</c>), which never sees the token. No spec holds a secret value.
/// <para>
/// <c>spec.replicas</c> is never applied: the HPA or the platform's autoscaler writes it through the scale
/// subresource, and an apply that named it would take the field back (or conflict with the HPA's manager).
/// </para>
/// </summary>
public static class DeploymentManifests
{
    public const int ServerPort = 8080;
    public const string ServerContainer = "model-server";
    public const string FetchContainer = "fetch-model";
    public const string TokenKey = "token";
    public const string ModelPath = "/model";
    public const string TokenPath = "/var/run/strata/fetch";
    /// <summary>Where deploy/Dockerfile puts the worker.</summary>
    public const string WorkerPath = "/app/worker/strata-worker";

    public const string DeploymentLabel = "strata.dev/deployment";
    public const string TrackLabel = "strata.dev/track";
    public const string ModelLabel = "strata.dev/model";
    public const string ModelVersionLabel = "strata.dev/model-version";

    /// <summary>The settings the platform's autoscaler reads back from the main Deployment, on whichever server leads.</summary>
    public const string ScalingModeAnnotation = "strata.dev/scaling-mode";
    public const string MinReplicasAnnotation = "strata.dev/min-replicas";
    public const string MaxReplicasAnnotation = "strata.dev/max-replicas";
    public const string TargetInFlightAnnotation = "strata.dev/target-in-flight";
    public const string CanaryWeightAnnotation = "strata.dev/canary-weight";
    /// <summary>When the model-fetch token in the deployment's Secret expires: the server renews it past half its life.</summary>
    public const string FetchTokenExpiresAnnotation = "strata.dev/fetch-token-expires-at";

    /// <summary>Selects every model deployment's objects (Deployments, their pods, Services).</summary>
    public const string Selector = KubernetesNames.ManagedByLabel + "=" + KubernetesNames.ManagedByValue + "," + DeploymentLabel;

    /// <summary><c>model-&lt;name&gt;</c>, <c>model-&lt;name&gt;-canary</c>: at most 63 characters (a long name is cut and ends with a hash of itself).</summary>
    public static string ObjectName(string deployment, ReplicaTrack track) =>
        Bounded(track == ReplicaTrack.Main ? $"model-{deployment}" : $"model-{deployment}-canary");

    public static string FetchSecretName(string deployment) => Bounded($"model-{deployment}-fetch");

    /// <summary>The main Deployment: the root every other object of the deployment is owned by.</summary>
    public static V1Deployment MainDeployment(DeploymentTarget target, string apiUrl, DateTimeOffset tokenExpiresAt, KubernetesRuntimeOptions options)
    {
        var deployment = Deployment(target.Key, ReplicaTrack.Main, target.ModelName, target.ModelVersion, target, apiUrl, options, owner: null);
        deployment.Metadata.Annotations = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [ScalingModeAnnotation] = target.ScalingMode,
            [MinReplicasAnnotation] = Text(target.MinReplicas),
            [MaxReplicasAnnotation] = Text(target.MaxReplicas),
            [TargetInFlightAnnotation] = Text(target.TargetInFlight),
            [FetchTokenExpiresAnnotation] = tokenExpiresAt.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture),
        };
        return deployment;
    }

    public static V1Deployment CanaryDeployment(DeploymentTarget target, CanaryTarget canary, string apiUrl, KubernetesRuntimeOptions options, V1OwnerReference owner)
    {
        var deployment = Deployment(target.Key, ReplicaTrack.Canary, target.ModelName, canary.ModelVersion, target, apiUrl, options, owner);
        deployment.Metadata.Annotations = new Dictionary<string, string>(StringComparer.Ordinal) { [CanaryWeightAnnotation] = Text(canary.Weight) };
        return deployment;
    }

    private static V1Deployment Deployment(
        DeploymentKey key, ReplicaTrack track, string modelName, int version, DeploymentTarget target, string apiUrl, KubernetesRuntimeOptions options, V1OwnerReference? owner)
    {
        var resources = new Dictionary<string, ResourceQuantity>(StringComparer.Ordinal)
        {
            ["cpu"] = Quantities.Cpu(target.CpuCores),
            ["memory"] = Quantities.MemoryGb(target.MemoryGb),
        };
        var image = options.ReplicaImage ?? options.DefaultImage;
        var versionText = Text(version);
        var fetch = new V1Container
        {
            Name = FetchContainer,
            Image = image,
            // The version's number, not an alias: a pod restarted after the alias moved still serves what its Deployment says.
            Command = [WorkerPath, "fetch", "--url", apiUrl, "--model", modelName, "--version", versionText, "--out", ModelPath, "--token-file", $"{TokenPath}/{TokenKey}"],
            // An init container's resources count as the pod's only when above its containers': these cost nothing more.
            Resources = Resources(resources),
            SecurityContext = RestrictedContainer(),
            VolumeMounts =
            [
                new V1VolumeMount { Name = "model", MountPath = ModelPath },
                new V1VolumeMount { Name = "fetch-token", MountPath = TokenPath, ReadOnlyProperty = true },
                new V1VolumeMount { Name = "tmp", MountPath = "/tmp" },
            ],
            TerminationMessagePolicy = "FallbackToLogsOnError",
        };
        var server = new V1Container
        {
            Name = ServerContainer,
            Image = image,
            Command = [WorkerPath, "serve", "--model", ModelPath, "--host", "0.0.0.0", "--port", Text(ServerPort), "--model-name", modelName, "--version", versionText],
            Ports = [new V1ContainerPort { Name = "http", ContainerPort = ServerPort }],
            Resources = Resources(resources),
            // Ready once the model is loaded (routed to from then on); restarted when it stops answering at all.
            ReadinessProbe = new V1Probe { HttpGet = new V1HTTPGetAction { Path = "/health/ready", Port = ServerPort }, PeriodSeconds = 2, FailureThreshold = 3 },
            LivenessProbe = new V1Probe { HttpGet = new V1HTTPGetAction { Path = "/health/live", Port = ServerPort }, InitialDelaySeconds = 10, PeriodSeconds = 10, FailureThreshold = 3 },
            SecurityContext = RestrictedContainer(),
            VolumeMounts = [new V1VolumeMount { Name = "model", MountPath = ModelPath, ReadOnlyProperty = true }, new V1VolumeMount { Name = "tmp", MountPath = "/tmp" }],
            TerminationMessagePolicy = "FallbackToLogsOnError",
        };
        return new V1Deployment
        {
            ApiVersion = "apps/v1",
            Kind = "Deployment",
            Metadata = Metadata(key, ObjectName(key.Name, track), Labels(key, track, modelName, versionText), owner),
            Spec = new V1DeploymentSpec
            {
                Selector = new V1LabelSelector { MatchLabels = PodSelector(key, track) },
                Strategy = new V1DeploymentStrategy
                {
                    Type = "RollingUpdate",
                    RollingUpdate = new V1RollingUpdateDeployment { MaxSurge = 1, MaxUnavailable = 0 },
                },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = Labels(key, track, modelName, versionText) },
                    Spec = new V1PodSpec
                    {
                        ServiceAccountName = KubernetesNames.JobServiceAccount,
                        AutomountServiceAccountToken = false,
                        EnableServiceLinks = false,
                        InitContainers = [fetch],
                        Containers = [server],
                        SecurityContext = new V1PodSecurityContext
                        {
                            RunAsNonRoot = true,
                            RunAsUser = options.RunAsUser,
                            RunAsGroup = options.RunAsUser,
                            FsGroup = options.RunAsUser,
                            SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
                        },
                        Volumes =
                        [
                            new V1Volume { Name = "model", EmptyDir = new V1EmptyDirVolumeSource() },
                            // Mode 0440 (288): readable by the pod's user and its fsGroup, writable by nobody.
                            new V1Volume { Name = "fetch-token", Secret = new V1SecretVolumeSource { SecretName = FetchSecretName(key.Name), DefaultMode = 288 } },
                            new V1Volume { Name = "tmp", EmptyDir = new V1EmptyDirVolumeSource { SizeLimit = new ResourceQuantity("1Gi") } },
                        ],
                    },
                },
            },
        };
    }

    /// <summary>The Service of one track, which the platform's predict route forwards to (its cluster IP and port).</summary>
    public static V1Service Service(DeploymentKey key, ReplicaTrack track, string modelName, KubernetesRuntimeOptions options, V1OwnerReference owner) => new()
    {
        ApiVersion = "v1",
        Kind = "Service",
        Metadata = Metadata(key, ObjectName(key.Name, track), TrackLabels(key, track, modelName), owner),
        Spec = new V1ServiceSpec
        {
            Type = "ClusterIP",
            Selector = PodSelector(key, track),
            Ports = [new V1ServicePort { Name = "http", Port = options.ReplicaServicePort, TargetPort = ServerPort, Protocol = "TCP" }],
        },
    };

    /// <summary>Mode <c>cpu</c>: Kubernetes' HPA keeps the main Deployment's replicas at the target CPU use, between the limits.</summary>
    public static V2HorizontalPodAutoscaler Autoscaler(DeploymentTarget target, V1OwnerReference owner) => new()
    {
        ApiVersion = "autoscaling/v2",
        Kind = "HorizontalPodAutoscaler",
        Metadata = Metadata(target.Key, ObjectName(target.Key.Name, ReplicaTrack.Main), TrackLabels(target.Key, ReplicaTrack.Main, target.ModelName), owner),
        Spec = new V2HorizontalPodAutoscalerSpec
        {
            ScaleTargetRef = new V2CrossVersionObjectReference { ApiVersion = "apps/v1", Kind = "Deployment", Name = ObjectName(target.Key.Name, ReplicaTrack.Main) },
            MinReplicas = target.MinReplicas,
            MaxReplicas = target.MaxReplicas,
            Metrics =
            [
                new V2MetricSpec
                {
                    Type = "Resource",
                    Resource = new V2ResourceMetricSource { Name = "cpu", Target = new V2MetricTarget { Type = "Utilization", AverageUtilization = target.TargetCpuPercent } },
                },
            ],
        },
    };

    /// <summary>
    /// At most one replica of a track down for a node drain. (<c>minAvailable</c> equal to a one-replica deployment's
    /// size would block drains for good.)
    /// </summary>
    public static V1PodDisruptionBudget DisruptionBudget(DeploymentKey key, ReplicaTrack track, string modelName, V1OwnerReference owner) => new()
    {
        ApiVersion = "policy/v1",
        Kind = "PodDisruptionBudget",
        Metadata = Metadata(key, ObjectName(key.Name, track), TrackLabels(key, track, modelName), owner),
        Spec = new V1PodDisruptionBudgetSpec { MaxUnavailable = 1, Selector = new V1LabelSelector { MatchLabels = PodSelector(key, track) } },
    };

    /// <summary>
    /// The deployment's model-fetch token, mounted read-only into its pods' init container only. Owned by the main
    /// Deployment once there is one (<paramref name="owner"/>): it goes with the deployment.
    /// </summary>
    public static V1Secret FetchSecret(DeploymentKey key, string modelName, string token, V1OwnerReference? owner) => new()
    {
        ApiVersion = "v1",
        Kind = "Secret",
        Metadata = Metadata(key, FetchSecretName(key.Name), TrackLabels(key, ReplicaTrack.Main, modelName), owner),
        Type = "Opaque",
        // data, not stringData: server-side apply tracks data, and the API server would turn stringData into it.
        Data = new Dictionary<string, byte[]>(StringComparer.Ordinal) { [TokenKey] = Encoding.UTF8.GetBytes(token) },
    };

    /// <summary>The owner reference that ties a deployment's objects to its main Deployment.</summary>
    public static V1OwnerReference OwnerOf(V1Deployment main) => new()
    {
        ApiVersion = "apps/v1",
        Kind = "Deployment",
        Name = main.Metadata.Name,
        Uid = main.Metadata.Uid,
        Controller = true,
        BlockOwnerDeletion = true,
    };

    /// <summary>The deployment and track an object of Strata's belongs to, from its labels and namespace; null for anything else.</summary>
    public static (DeploymentKey Key, ReplicaTrack Track)? Identify(V1ObjectMeta? metadata)
    {
        var labels = metadata?.Labels;
        if (labels is null || !labels.TryGetValue(KubernetesNames.TenantLabel, out var tenant) || !labels.TryGetValue(DeploymentLabel, out var name)) return null;
        // A label names a tenant; only the tenant's own namespace may speak for it.
        if (metadata!.NamespaceProperty != KubernetesNames.Namespace(tenant)) return null;
        var track = labels.TryGetValue(TrackLabel, out var value) && value == "canary" ? ReplicaTrack.Canary : ReplicaTrack.Main;
        return (new DeploymentKey(tenant, name), track);
    }

    private static V1ResourceRequirements Resources(Dictionary<string, ResourceQuantity> resources) =>
        // Requests equal to limits: the replica's compute is reserved, and the pod is Guaranteed.
        new() { Requests = new Dictionary<string, ResourceQuantity>(resources, StringComparer.Ordinal), Limits = new Dictionary<string, ResourceQuantity>(resources, StringComparer.Ordinal) };

    private static V1SecurityContext RestrictedContainer() => new()
    {
        RunAsNonRoot = true,
        AllowPrivilegeEscalation = false,
        ReadOnlyRootFilesystem = true,
        Capabilities = new V1Capabilities { Drop = ["ALL"] },
        SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
    };

    private static V1ObjectMeta Metadata(DeploymentKey key, string name, Dictionary<string, string> labels, V1OwnerReference? owner) => new()
    {
        Name = name,
        NamespaceProperty = KubernetesNames.Namespace(key.TenantId),
        Labels = labels,
        OwnerReferences = owner is null ? null : [owner],
    };

    private static Dictionary<string, string> PodSelector(DeploymentKey key, ReplicaTrack track) => new(StringComparer.Ordinal)
    {
        [KubernetesNames.TenantLabel] = key.TenantId,
        [DeploymentLabel] = key.Name,
        [TrackLabel] = TrackValue(track),
    };

    private static Dictionary<string, string> TrackLabels(DeploymentKey key, ReplicaTrack track, string modelName) => new(PodSelector(key, track), StringComparer.Ordinal)
    {
        [KubernetesNames.ManagedByLabel] = KubernetesNames.ManagedByValue,
        [ModelLabel] = modelName,
    };

    private static Dictionary<string, string> Labels(DeploymentKey key, ReplicaTrack track, string modelName, string version) =>
        new(TrackLabels(key, track, modelName), StringComparer.Ordinal) { [ModelVersionLabel] = version };

    private static string TrackValue(ReplicaTrack track) => track == ReplicaTrack.Main ? "main" : "canary";

    private static string Text(double value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Bounded(string name)
    {
        const int MaxLength = 63;
        if (name.Length <= MaxLength) return name;
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name)))[..8];
        return name[..(MaxLength - 9)].TrimEnd('-') + "-" + hash;
    }
}
