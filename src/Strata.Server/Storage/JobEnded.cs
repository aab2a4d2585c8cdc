using Strata.Contracts;

namespace Strata.Server.Storage;

/// <summary>A job that reached a final status: which, and when it first started (null if never) and ended.</summary>
public readonly record struct JobEnded(string TenantId, JobStatus Status, DateTimeOffset? StartedAt, DateTimeOffset CompletedAt)
{
    /// <param name="attemptStartedAt">When the ending attempt started, for a job whose end was recorded before its start.</param>
    public static JobEnded Of(JobRecord job, DateTimeOffset? attemptStartedAt = null) =>
        new(job.TenantId, job.Status, job.StartedAt ?? attemptStartedAt, job.CompletedAt ?? job.CreatedAt);
}
