using System.Globalization;
using k8s.Models;
using Strata.Contracts;
using Strata.Core.Runtime;

namespace Strata.Server.Runtime.Kubernetes;

/// <summary>The names and labels Strata gives what it creates in a cluster; all deterministic, so a restart finds them again.</summary>
public static class KubernetesNames
{
    public const string RuntimeKind = "kubernetes";

    /// <summary>Label on every object Strata manages (the seed's <c>managed-by</c>).</summary>
    public const string ManagedByLabel = "managed-by";
    public const string ManagedByValue = "strata";
    public const string TenantLabel = "tenant";
    public const string CostCenterLabel = "cost-center";
    public const string JobIdLabel = "strata.dev/job-id";
    public const string AttemptLabel = "strata.dev/attempt";
    /// <summary>The job's own name (its spec's <c>name</c>), for people reading <c>kubectl get jobs</c>.</summary>
    public const string JobNameLabel = "strata.dev/job-name";
    /// <summary>Set on a finished Job whose outcome the store has recorded: no longer watched.</summary>
    public const string CollectedLabel = "strata.dev/collected";
    /// <summary>What a volume of Strata's holds: <c>checkpoints</c> on a job's checkpoint claim.</summary>
    public const string VolumeLabel = "strata.dev/volume";
    public const string CheckpointsVolumeValue = "checkpoints";
    /// <summary>Selects every job's checkpoint claim.</summary>
    public const string CheckpointClaimsSelector = ManagedByLabel + "=" + ManagedByValue + "," + VolumeLabel + "=" + CheckpointsVolumeValue;
    /// <summary>On each placeholder pod (<see cref="PlaceholderPods"/>): found again by it after a restart.</summary>
    public const string PlaceholderLabel = "strata.dev/placeholder";
    /// <summary>Selects every placeholder pod.</summary>
    public const string PlaceholdersSelector = ManagedByLabel + "=" + ManagedByValue + "," + PlaceholderLabel;
    /// <summary>Kubernetes' own label on an Indexed Job's pods.</summary>
    public const string CompletionIndexLabel = "batch.kubernetes.io/job-completion-index";
    public const string CompletionIndexAnnotation = "batch.kubernetes.io/job-completion-index";

    /// <summary>The container that runs the job's entrypoint.</summary>
    public const string TrainingContainer = "training";
    /// <summary>The init container that installs a job's requirements (docs/environments.md).</summary>
    public const string EnvironmentContainer = "environment";
    public const string JobServiceAccount = "ml-job-runner";
    public const string JobRole = "ml-job-runner";

    /// <summary>Selects the Jobs Strata watches: managed by it and not yet collected.</summary>
    public const string WatchedJobsSelector = ManagedByLabel + "=" + ManagedByValue + ",!" + CollectedLabel;
    public const string ManagedSelector = ManagedByLabel + "=" + ManagedByValue;

    public static string Namespace(string tenantId) => "ml-" + tenantId;

    /// <summary>
    /// The Job of an attempt: <c>strata-&lt;job id&gt;-&lt;attempt&gt;</c>, a DNS-1035 label (also the name of a
    /// distributed job's headless Service) short enough for its pods' host names (<c>&lt;job&gt;-&lt;index&gt;</c>).
    /// </summary>
    public static string JobName(AttemptRef attempt) => "strata-" + attempt.Name;

    /// <summary>The Secret that holds an attempt's job token: <c>strata-&lt;job id&gt;-&lt;attempt&gt;-token</c>.</summary>
    public static string TokenSecretName(AttemptRef attempt) => JobName(attempt) + "-token";

    /// <summary>The job's checkpoint volume claim, shared by all its attempts: <c>strata-&lt;job id&gt;-checkpoints</c>.</summary>
    public static string CheckpointClaimName(string jobId) => $"strata-{jobId}-checkpoints";

    public static Dictionary<string, string> CheckpointClaimLabels(string tenantId, string jobId) => new(StringComparer.Ordinal)
    {
        [ManagedByLabel] = ManagedByValue,
        [TenantLabel] = tenantId,
        [JobIdLabel] = jobId,
        [VolumeLabel] = CheckpointsVolumeValue,
    };

    public static RuntimeInfo Describe(AttemptRef attempt) =>
        new() { Kind = RuntimeKind, Name = JobName(attempt), Namespace = Namespace(attempt.TenantId) };

    /// <summary>Labels of an attempt's Job, its pods and its Service.</summary>
    public static Dictionary<string, string> AttemptLabels(AttemptRef attempt) => new(StringComparer.Ordinal)
    {
        [ManagedByLabel] = ManagedByValue,
        [TenantLabel] = attempt.TenantId,
        [JobIdLabel] = attempt.JobId,
        [AttemptLabel] = attempt.Number.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>Selects the pods of one attempt.</summary>
    public static string AttemptSelector(AttemptRef attempt) =>
        $"{JobIdLabel}={attempt.JobId},{AttemptLabel}={attempt.Number.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The attempt a Job of Strata's belongs to, from its labels; null for one that is not an attempt.</summary>
    public static AttemptRef? AttemptOf(V1ObjectMeta? metadata)
    {
        var labels = metadata?.Labels;
        if (labels is null
            || !labels.TryGetValue(TenantLabel, out var tenant)
            || !labels.TryGetValue(JobIdLabel, out var jobId)
            || !labels.TryGetValue(AttemptLabel, out var number)
            || !int.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var attempt))
        {
            return null;
        }
        return new AttemptRef(tenant, jobId, attempt);
    }
}

/// <summary>Resource amounts in Kubernetes' quantity notation.</summary>
public static class Quantities
{
    /// <summary>Whole cores as <c>4</c>, fractions in millicores (<c>500m</c>).</summary>
    public static ResourceQuantity Cpu(double cores)
    {
        var millicores = (long)Math.Round(cores * 1000);
        return new ResourceQuantity(millicores % 1000 == 0
            ? (millicores / 1000).ToString(CultureInfo.InvariantCulture)
            : millicores.ToString(CultureInfo.InvariantCulture) + "m");
    }

    /// <summary>Whole GiB as <c>16Gi</c>, else MiB or bytes.</summary>
    public static ResourceQuantity Memory(long bytes) => new(
        bytes % ResourceRequest.BytesPerGb == 0 ? (bytes / ResourceRequest.BytesPerGb).ToString(CultureInfo.InvariantCulture) + "Gi"
        : bytes % (1L << 20) == 0 ? (bytes >> 20).ToString(CultureInfo.InvariantCulture) + "Mi"
        : bytes.ToString(CultureInfo.InvariantCulture));

    public static ResourceQuantity MemoryGb(double gb) => Memory((long)Math.Round(gb * ResourceRequest.BytesPerGb));

    public static ResourceQuantity Count(long count) => new(count.ToString(CultureInfo.InvariantCulture));
}
