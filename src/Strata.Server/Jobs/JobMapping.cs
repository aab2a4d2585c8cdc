using Microsoft.AspNetCore.Http.HttpResults;
using Strata.Contracts;
using Strata.Core.Runtime;
using Strata.Core.Usage;
using Strata.Server.Problems;
using Strata.Server.Storage;
using Strata.Server.Usage;

namespace Strata.Server.Jobs;

/// <summary>Between stored records and the API's resources.</summary>
public static class JobMapping
{
    /// <summary>Where a job is: the <c>Location</c> of its 201.</summary>
    public static string LocationOf(string jobId) => $"/v1/jobs/training/{jobId}";

    /// <param name="hintMinSeconds">Measured wall time a job needs before it gets right-sizing hints (<c>Usage:HintMinSeconds</c>).</param>
    public static TrainingJob ToContract(JobRecord record, TrainingJobSpec spec, string? liveReason, int? queuePosition,
        double hintMinSeconds = UsageOptions.DefaultHintMinSeconds) => new()
    {
        Id = record.Id,
        Spec = spec,
        Status = record.Status,
        CreatedAt = record.CreatedAt,
        StartedAt = record.StartedAt,
        CompletedAt = record.CompletedAt,
        ErrorMessage = record.ErrorMessage,
        KubernetesJobName = record.RuntimeKind == "kubernetes" ? record.RuntimeName : null,
        StatusReason = record.Status == JobStatus.Pending ? liveReason ?? record.StatusReason : record.StatusReason,
        Attempts = record.AttemptCount,
        Runtime = record.RuntimeKind is null ? null : new RuntimeInfo { Kind = record.RuntimeKind, Name = record.RuntimeName, Namespace = record.RuntimeNamespace },
        QueuePosition = record.Status == JobStatus.Pending ? queuePosition : null,
        Output = record.Status == JobStatus.Succeeded && spec.ModelOutputPath is not null
            ? new JobOutput { Artifact = spec.ModelOutputPath, ModelVersion = record.OutputModelVersion }
            : null,
        RightSizing = UsageMapping.ToContract([
            .. RightSizing.Hints(record.CpuCores, record.MemoryBytes / (double)ResourceRequest.BytesPerGb, record.Workers,
                record.MeasuredCpuSeconds, record.MeasuredSeconds, record.MeasuredPeakMemoryBytes, hintMinSeconds),
            .. RightSizing.GpuHint(record.Gpus, record.GpuFraction, record.Workers, record.MeasuredGpuSeconds, record.MeasuredGpuUsedSeconds, hintMinSeconds) is { } gpu ? [gpu] : Array.Empty<RightSizingHint>(),
        ]),
    };

    /// <summary>The answer to a reference that names no single job: 404 for none, 409 listing the candidates for several.</summary>
    public static ProblemHttpResult Unresolved(string reference, JobLookup lookup) => lookup.IsAmbiguous
        ? Problem.AmbiguousJobReference(reference,
            [.. lookup.Candidates.Select(j => new JobCandidate { Id = j.Id, Name = j.Name, Status = j.Status, CreatedAt = j.CreatedAt })], lookup.Count)
        : Problem.JobNotFound(reference);

    public static JobAttempt ToContract(AttemptRecord record) => new()
    {
        Number = record.Number,
        Status = record.Status,
        CreatedAt = record.CreatedAt,
        StartedAt = record.StartedAt,
        CompletedAt = record.CompletedAt,
        ExitCode = record.ExitCode,
        Reason = record.Reason,
        ErrorMessage = record.ErrorMessage,
        Outcome = record.Outcome,
        Classification = record.Classification,
        Decision = record.Decision,
        EffectiveCompute = record.MemoryBytes is { } memory
            ? new EffectiveCompute { CpuCores = record.CpuCores ?? 0, MemoryGb = memory / (double)ResourceRequest.BytesPerGb, GpuCount = record.Gpus ?? 0 }
            : null,
        PeakMemoryBytes = record.PeakMemoryBytes,
        CpuSeconds = record.CpuSeconds,
        Gpu = record.GpuUtilizationPercent is { } utilization ? new AttemptGpuUse { UtilizationPercent = utilization, PeakMemoryMb = record.GpuPeakMemoryMb } : null,
        Runtime = record.RuntimeKind is null ? null : new RuntimeInfo { Kind = record.RuntimeKind, Name = record.RuntimeName, Namespace = record.RuntimeNamespace },
        Usage = UsageMapping.AttemptUsage(record),
        Checkpoint = record.CheckpointPath is { } path && record.CheckpointModifiedAt is { } modified
            ? new AttemptCheckpoint { Path = path, ModifiedAt = modified }
            : null,
    };
}
