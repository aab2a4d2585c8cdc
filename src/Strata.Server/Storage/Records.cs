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

/// <summary>A lease that one server replica holds at a time (leader election); see <c>Leadership/DatabaseLease</c>.</summary>
public sealed class LeaseRecord
{
    public required string Name { get; set; }
    public required string Holder { get; set; }
    /// <summary>Unix time in milliseconds: a number, so that both providers compare it natively.</summary>
    public long ExpiresAt { get; set; }
}
