using Strata.Contracts;

namespace Strata.Server.Storage;

public sealed class TenantRecord
{
    public required string Id { get; set; }
    public required string Name { get; set; }
    public string? CostCenter { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>A training job. The spec is kept whole as JSON; the columns the scheduler and lists need are beside it.</summary>
public sealed class JobRecord
{
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
    public int Gpus { get; set; }
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
    public string? RuntimeKind { get; set; }
    public string? RuntimeName { get; set; }
    public string? RuntimeNamespace { get; set; }
    /// <summary>The model version a built-in trainer's success registered (<c>churn@3</c>).</summary>
    public string? OutputModelVersion { get; set; }

    public bool IsActive => Status is JobStatus.Pending or JobStatus.Running;
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
    public long? PeakMemoryBytes { get; set; }
    public double? CpuSeconds { get; set; }
    public string? RuntimeKind { get; set; }
    public string? RuntimeName { get; set; }
    public string? RuntimeNamespace { get; set; }

    public bool IsLive => Status is AttemptStatus.Starting or AttemptStatus.Running;
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
