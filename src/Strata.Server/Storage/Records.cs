using Strata.Contracts;
using Strata.Core.Runtime;

namespace Strata.Server.Storage;

public sealed class TenantRecord
{
    public required string Id { get; set; }
    /// <summary>
    /// This incarnation of the tenant: new for every tenant created, so that a tenant created again under a
    /// deleted one's id is another tenant. Tokens carry it (<c>tenant_uid</c>) and are refused by any other.
    /// </summary>
    public string Uid { get; set; } = NewUid();
    public required string Name { get; set; }
    public string? CostCenter { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    /// <summary>When its deletion was asked for; null while the tenant is active. A deleting tenant's row stays until everything it owned is gone.</summary>
    public DateTimeOffset? DeletingSince { get; set; }

    public bool IsDeleting => DeletingSince is not null;

    public static string NewUid() => Guid.NewGuid().ToString("N");

    // The tenant's own quota; null where it takes the server's default (Quotas:Default).
    public double? QuotaCpuCores { get; set; }
    public double? QuotaMemoryGb { get; set; }
    public int? QuotaGpuCount { get; set; }
    public int? QuotaMaxRunningJobs { get; set; }
    public int? QuotaMaxPendingJobs { get; set; }
    public int? QuotaMaxDeployments { get; set; }
    public int? QuotaMaxReplicas { get; set; }
    public string? OnQuotaExceeded { get; set; }
    public double? FairShareWeight { get; set; }
}

/// <summary>A training job. The spec is kept whole as JSON; the columns the scheduler and lists need are beside it.</summary>
public sealed class JobRecord
{
    /// <summary>The spec as submitted (normalised), read from <see cref="SpecJson"/>.</summary>
    public TrainingJobSpec ReadSpec() => System.Text.Json.JsonSerializer.Deserialize<TrainingJobSpec>(SpecJson, StrataJson.Options)!;

    /// <summary>The form <see cref="SpecJson"/> keeps a spec in.</summary>
    public static string WriteSpec(TrainingJobSpec spec) => System.Text.Json.JsonSerializer.Serialize(spec, StrataJson.Options);

    /// <summary>Insertion order: the keyset of "newest first" and of the queue's age.</summary>
    public long Seq { get; set; }
    public required string Id { get; set; }
    public required string TenantId { get; set; }
    public required string Name { get; set; }
    public JobStatus Status { get; set; }
    public string? StatusReason { get; set; }
    public int Priority { get; set; }
    public double CpuCores { get; set; }
    public long MemoryBytes { get; set; }
    /// <summary>Devices per worker: 1 for a share of one (<see cref="GpuFraction"/>).</summary>
    public int Gpus { get; set; }
    /// <summary>The share of one device a worker asked for (<c>compute.gpu_fraction</c>); null for whole devices.</summary>
    public double? GpuFraction { get; set; }
    /// <summary><c>compute.gpu_type</c>: the scheduler places a job only where a device of the type has room.</summary>
    public string? GpuType { get; set; }
    public int Workers { get; set; } = 1;
    public required string SpecJson { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? CompletedAt { get; set; }
    /// <summary>A retry's backoff: not to start before this.</summary>
    public DateTimeOffset? NotBefore { get; set; }
    public string? ErrorMessage { get; set; }
    /// <summary>Attempts started so far; the current attempt's number while one is live.</summary>
    public int AttemptCount { get; set; }
    /// <summary>Attempts stopped by preemption: they do not count against the job's retry budget.</summary>
    public int Preemptions { get; set; }
    public string? RuntimeKind { get; set; }
    public string? RuntimeName { get; set; }
    public string? RuntimeNamespace { get; set; }
    /// <summary>Wall time of the attempts the runtime measured, together: with the two below, the right-sizing hint's input.</summary>
    public double MeasuredSeconds { get; set; }
    /// <summary>CPU time of the measured attempts, together.</summary>
    public double MeasuredCpuSeconds { get; set; }
    /// <summary>The largest peak memory of the measured attempts.</summary>
    public long? MeasuredPeakMemoryBytes { get; set; }
    /// <summary>GPU-seconds reserved by the attempts whose GPUs were sampled, together: with the next, the GPU hint's input.</summary>
    public double MeasuredGpuSeconds { get; set; }
    /// <summary>GPU-seconds those attempts used (reserved times their average utilisation), together.</summary>
    public double MeasuredGpuUsedSeconds { get; set; }
    /// <summary>The model version a built-in trainer's success registered (<c>churn@3</c>).</summary>
    public string? OutputModelVersion { get; set; }

    public bool IsActive => Status is JobStatus.Pending or JobStatus.Running;

    /// <summary>One worker's request, a share of a GPU counted as that share.</summary>
    public ResourceRequest WorkerRequest() => ResourceRequest.WithMilliGpus(CpuCores, MemoryBytes,
        GpuFraction is { } fraction ? ResourceRequest.MilliOf(fraction) : Gpus * ResourceRequest.MilliPerGpu);
}

public sealed class AttemptRecord
{
    public required string JobId { get; set; }
    public int Number { get; set; }
    public required string TenantId { get; set; }
    public AttemptStatus Status { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? CompletedAt { get; set; }
    public int? ExitCode { get; set; }
    public string? Reason { get; set; }
    public string? ErrorMessage { get; set; }
    /// <summary>How the runtime saw the attempt end (an <c>AttemptOutcome</c>'s reason), once it has.</summary>
    public string? Outcome { get; set; }
    /// <summary>Why it failed, in the five classes (<c>out_of_memory</c>, <c>user_error</c>, ...); null for a success.</summary>
    public string? Classification { get; set; }
    /// <summary>What its end led to: <c>succeed</c>, <c>fail</c>, <c>retry</c>, <c>requeue</c>, <c>cancelled</c> or <c>none</c>.</summary>
    public string? Decision { get; set; }
    /// <summary>The compute per worker the attempt ran with (its <c>effective_compute</c>): the spec's, or grown after an out-of-memory kill.</summary>
    public double? CpuCores { get; set; }
    public long? MemoryBytes { get; set; }
    public int? Gpus { get; set; }
    public long? PeakMemoryBytes { get; set; }
    public double? CpuSeconds { get; set; }
    /// <summary>The newest file in the job's checkpoint folder when the attempt ended (its path in that folder), and when it was written.</summary>
    public string? CheckpointPath { get; set; }
    public DateTimeOffset? CheckpointModifiedAt { get; set; }
    /// <summary>The average utilisation (%) of its GPUs while it held them, as <c>nvidia-smi</c> sampled it; null when not sampled.</summary>
    public double? GpuUtilizationPercent { get; set; }
    /// <summary>The most GPU memory (MiB) its devices had in use in a sample; null when not sampled.</summary>
    public long? GpuPeakMemoryMb { get; set; }
    public string? RuntimeKind { get; set; }
    public string? RuntimeName { get; set; }
    public string? RuntimeNamespace { get; set; }
    /// <summary>Usage, recorded once the attempt has ended (docs/usage.md): wall time, then reserved and used resource-seconds.</summary>
    public double? WallSeconds { get; set; }
    public double? ReservedCoreSeconds { get; set; }
    public double? ReservedMemoryGbSeconds { get; set; }
    public double? ReservedGpuSeconds { get; set; }
    /// <summary>Null when the runtime measured nothing.</summary>
    public double? UsedCoreSeconds { get; set; }
    public double? UsedMemoryGbSeconds { get; set; }
    public double? UsedGpuSeconds { get; set; }
    /// <summary>
    /// <see cref="CompletedAt"/> in Unix milliseconds, set with the usage: the usage window's key, since
    /// SQLite cannot compare <see cref="DateTimeOffset"/> columns in a query.
    /// </summary>
    public long? EndedAtUnixMs { get; set; }
    /// <summary>True until the <c>STRATA_METRIC</c> lines of the attempt's output have all been read.</summary>
    public bool LogMetricsPending { get; set; }
    /// <summary>How far (bytes) the attempt's output has been read for <c>STRATA_METRIC</c> lines.</summary>
    public long LogMetricsOffset { get; set; }

    public bool IsLive => Status is AttemptStatus.Starting or AttemptStatus.Running;
}

/// <summary>An uploaded file or archive; its bytes are in the artifact backend under <c>&lt;tenant&gt;/&lt;id&gt;</c>.</summary>
public sealed class ArtifactRecord
{
    public long Seq { get; set; }
    public required string Id { get; set; }
    public required string TenantId { get; set; }
    public required string Name { get; set; }
    public required string Kind { get; set; }
    public long SizeBytes { get; set; }
    public required string Sha256 { get; set; }
    /// <summary>The job whose token uploaded it, if a job did.</summary>
    public string? JobId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>
/// An <c>Idempotency-Key</c> a tenant sent with a request that created something, and that request's answer,
/// committed in the same transaction as what it created (Idempotency/, docs/idempotency.md).
/// </summary>
public sealed class IdempotencyKeyRecord
{
    public required string TenantId { get; set; }
    public required string Key { get; set; }
    /// <summary>SHA-256 (hex) of the method, the path with its query, and the body as received.</summary>
    public required string Fingerprint { get; set; }
    public int StatusCode { get; set; }
    public string? Location { get; set; }
    /// <summary>The answer's JSON body, replayed byte for byte.</summary>
    public required string ResponseJson { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    /// <summary>When the key is forgotten (unix milliseconds: SQLite compares numbers, not DateTimeOffsets).</summary>
    public long ExpiresAtUnixMs { get; set; }
}

/// <summary>One reported metric point of a job.</summary>
public sealed class MetricRecord
{
    /// <summary>Insertion order: the history's order and its keyset.</summary>
    public long Seq { get; set; }
    public required string JobId { get; set; }
    public required string TenantId { get; set; }
    public required string Name { get; set; }
    public double Value { get; set; }
    public long Step { get; set; }
    public DateTimeOffset Time { get; set; }
}

/// <summary>One metric name of a job: its latest value (highest step, then last reported) and how many points it has.</summary>
public sealed class MetricSeriesRecord
{
    public required string JobId { get; set; }
    public required string Name { get; set; }
    public required string TenantId { get; set; }
    public double Value { get; set; }
    public long Step { get; set; }
    public DateTimeOffset Time { get; set; }
    public int Count { get; set; }
}

/// <summary>A named model of a tenant. <see cref="LatestVersion"/> is the version counter: incremented in the
/// transaction that inserts a version, so numbers are never given twice, even by concurrent servers.</summary>
public sealed class ModelRecord
{
    public long Seq { get; set; }
    public required string TenantId { get; set; }
    public required string Name { get; set; }
    public string? Description { get; set; }
    public int LatestVersion { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>One immutable version of a model; metrics, input schema and lineage are kept as JSON.</summary>
public sealed class ModelVersionRecord
{
    public required string TenantId { get; set; }
    public required string ModelName { get; set; }
    public int Version { get; set; }
    public required string Format { get; set; }
    public required string Uri { get; set; }
    public long SizeBytes { get; set; }
    public required string Sha256 { get; set; }
    public required string MetricsJson { get; set; }
    public string? InputSchemaJson { get; set; }
    public required string LineageJson { get; set; }
    /// <summary>The job that produced it, when known.</summary>
    public string? JobId { get; set; }
    /// <summary><c>trainer</c> (registered by the platform when a built-in trainer succeeded) or <c>api</c>.</summary>
    public required string Source { get; set; }
    public string? Description { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>An alias (<c>production</c>, <c>staging</c>) naming one version of a model.</summary>
public sealed class ModelAliasRecord
{
    public required string TenantId { get; set; }
    public required string ModelName { get; set; }
    public required string Alias { get; set; }
    public int Version { get; set; }
}

/// <summary>A lease that one server replica holds at a time (leader election); see <c>Leadership/DatabaseLease</c>.</summary>
public sealed class LeaseRecord
{
    public required string Name { get; set; }
    public required string Holder { get; set; }
    /// <summary>Unix time in milliseconds: a number, so that both providers compare it natively.</summary>
    public long ExpiresAt { get; set; }
}

/// <summary>A deployment: the model version it serves and its settings. The events the control plane
/// recorded (created, updated) are kept as JSON; the runtime adds its own when observed.</summary>
/// <summary>
/// What one replica of a deployment reserved and used over an interval (docs/usage.md, "What is measured: serving"). The
/// runtime appends one at each checkpoint of a running replica and when it ends; an interval lies within one
/// UTC day. Kept when the deployment is deleted (it is usage history), deleted with the tenant.
/// </summary>
public sealed class ReplicaUsageRecord
{
    public long Seq { get; set; }
    public required string TenantId { get; set; }
    public required string DeploymentName { get; set; }
    /// <summary>The replica's id in the runtime that ran it (unique within one run of a server, for tracing only).</summary>
    public required string ReplicaId { get; set; }
    public int ModelVersion { get; set; }
    public long StartedAtUnixMs { get; set; }
    public long EndedAtUnixMs { get; set; }
    public double ReservedCoreSeconds { get; set; }
    public double ReservedMemoryGbSeconds { get; set; }
    public double UsedCoreSeconds { get; set; }
    public double UsedMemoryGbSeconds { get; set; }
}

public sealed class DeploymentRecord
{
    public long Seq { get; set; }
    public required string TenantId { get; set; }
    public required string Name { get; set; }
    /// <summary>The model reference as given (<c>churn@production</c>).</summary>
    public required string ModelRef { get; set; }
    public required string ModelName { get; set; }
    public int ModelVersion { get; set; }
    /// <summary>The version served before the last change of version: where a rollback goes back to.</summary>
    public int? PreviousModelVersion { get; set; }
    /// <summary>The canary's model reference as given; null when the deployment has no canary.</summary>
    public string? CanaryModelRef { get; set; }
    public int? CanaryModelVersion { get; set; }
    /// <summary>The share of predictions the canary answers (0 to 1, exclusive).</summary>
    public double? CanaryWeight { get; set; }
    public int MinReplicas { get; set; }
    public int MaxReplicas { get; set; }
    public double TargetInFlight { get; set; }
    /// <summary>Which autoscaler sizes it (<see cref="ScalingModes"/>).</summary>
    public string ScalingMode { get; set; } = ScalingModes.InFlight;
    /// <summary>The CPU use, in percent of each replica's cores, that the HPA aims at in mode <c>cpu</c>; kept in the other mode too, for a switch back.</summary>
    public int TargetCpuPercent { get; set; } = ScalingModes.DefaultTargetCpuPercent;
    public double CpuCores { get; set; }
    public double MemoryGb { get; set; }
    public required string EventsJson { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}
