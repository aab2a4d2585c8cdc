using Microsoft.EntityFrameworkCore;
using Strata.Contracts;
using Strata.Core.Jobs;
using Strata.Core.Runtime;
using Strata.Core.Scheduling;
using Strata.Core.Usage;
using Strata.Server.Jobs;
using Strata.Server.Storage;
using Strata.Server.Usage;

namespace Strata.Server.Scheduling;

/// <summary>What recording an attempt's outcome changed, for the caller to act on after the commit.</summary>
/// <param name="Known">False when the store has no such attempt (an orphan).</param>
/// <param name="Requeued">The job to queue again for a retry, if any.</param>
/// <param name="FailureReason">Why the attempt failed, when this recorded a failure (retried or not); null for a success or a cancel.</param>
/// <param name="Ended">The job's end, when this outcome ended it.</param>
/// <param name="Usage">What the ended attempt reserved and used, when this outcome recorded it.</param>
/// <param name="Preempted">True when the attempt was stopped by preemption and its job queued again (not a retry).</param>
public sealed record OutcomeRecorded(bool Known, PendingJob? Requeued, string? FailureReason = null, JobEnded? Ended = null, AttemptUsage? Usage = null, bool Preempted = false);

/// <summary>A job that reached a final status: which, and when it first started (null if never) and ended.</summary>
public readonly record struct JobEnded(string TenantId, JobStatus Status, DateTimeOffset? StartedAt, DateTimeOffset CompletedAt)
{
    /// <param name="attemptStartedAt">When the ending attempt started, for a job whose end was recorded before its start.</param>
    public static JobEnded Of(JobRecord job, DateTimeOffset? attemptStartedAt = null) =>
        new(job.TenantId, job.Status, job.StartedAt ?? attemptStartedAt, job.CompletedAt ?? job.CreatedAt);
}

/// <summary>What a cancel found: no job, a finished one, or an active one now cancelled (and its live attempt).</summary>
public sealed record CancelOutcome(JobRecord? Job, bool WasActive, AttemptRef? LiveAttempt);

/// <summary>
/// The state changes of jobs and attempts, each applied inside one <see cref="StoreWriter"/> write. They
/// read the current rows in the writer, so a decision is never taken on a stale copy (a cancel racing a
/// completion, say): whichever the writer applies first wins, and the second sees it.
/// </summary>
public static class JobTransitions
{
    /// <summary>
    /// Admits the pending jobs <paramref name="jobIds"/>: each runs as attempt <c>AttemptCount + 1</c>. The
    /// result is in the same order, null for a job that is no longer pending (cancelled meanwhile).
    /// </summary>
    public static List<(JobRecord Job, AttemptRecord Attempt)?> Admit(StrataDbContext db, IReadOnlyList<string> jobIds, string runtimeKind, DateTimeOffset now)
    {
        // A job that another write of this batch changed is tracked, with that change: it is admitted
        // through the tracker. The others, nearly all, are read untracked and written by plain statements.
        var wanted = jobIds.ToHashSet(StringComparer.Ordinal);
        var tracked = db.ChangeTracker.Entries<JobRecord>().Select(e => e.Entity).Where(j => wanted.Contains(j.Id)).ToDictionary(j => j.Id, StringComparer.Ordinal);
        var untrackedIds = jobIds.Where(id => !tracked.ContainsKey(id)).ToList();
        var untracked = db.Jobs.AsNoTracking().Where(j => untrackedIds.Contains(j.Id)).ToDictionary(j => j.Id, StringComparer.Ordinal);
        using var writes = new AdmissionWrites(db);
        var admitted = new List<(JobRecord Job, AttemptRecord Attempt)?>(jobIds.Count);
        foreach (var id in jobIds)
        {
            if (tracked.TryGetValue(id, out var trackedJob) && Admit(trackedJob, runtimeKind, now) is { } trackedAttempt)
            {
                db.Attempts.Add(trackedAttempt);
                admitted.Add((trackedJob, trackedAttempt));
            }
            else if (untracked.TryGetValue(id, out var job) && Admit(job, runtimeKind, now) is { } attempt)
            {
                writes.Write(job, attempt);
                admitted.Add((job, attempt));
            }
            else
            {
                admitted.Add(null);
            }
        }
        return admitted;
    }

    /// <summary>The admission's change to a pending job, in memory, and its new attempt; null when it is no longer pending.</summary>
    private static AttemptRecord? Admit(JobRecord job, string runtimeKind, DateTimeOffset now)
    {
        if (job.Status != JobStatus.Pending) return null;
        var number = job.AttemptCount + 1;
        job.Status = JobStatus.Running;
        job.StatusReason = StatusReasons.Starting;
        job.AttemptCount = number;
        job.NotBefore = null;
        job.RuntimeKind = runtimeKind;
        return new AttemptRecord
        {
            JobId = job.Id,
            Number = number,
            TenantId = job.TenantId,
            Status = AttemptStatus.Starting,
            CreatedAt = now,
            RuntimeKind = runtimeKind,
            LogMetricsPending = true,
        };
    }

    /// <summary>The runtime has these attempts running; a mark whose attempt is no longer starting is moot.</summary>
    public static void MarkRunning(StrataDbContext db, IReadOnlyList<RunningMark> marks)
    {
        // Tracked queries: a row another write of this batch already changed is seen as changed.
        var jobIds = marks.Select(m => m.Attempt.JobId).Distinct().ToList();
        var jobs = db.Jobs.Where(j => jobIds.Contains(j.Id)).ToDictionary(j => j.Id, StringComparer.Ordinal);
        var attempts = db.Attempts.Where(a => jobIds.Contains(a.JobId)).ToDictionary(a => (a.JobId, a.Number));
        foreach (var (reference, runtime, startedAt) in marks)
        {
            if (!attempts.TryGetValue((reference.JobId, reference.Number), out var attempt) || attempt.Status != AttemptStatus.Starting) continue;
            attempt.Status = AttemptStatus.Running;
            attempt.StartedAt = startedAt;
            attempt.RuntimeName = runtime.Name;
            attempt.RuntimeNamespace = runtime.Namespace;
            if (jobs.TryGetValue(reference.JobId, out var job) && job.Status == JobStatus.Running && job.AttemptCount == reference.Number)
            {
                job.StatusReason = null;
                job.StartedAt ??= startedAt;
                job.RuntimeName = runtime.Name;
                job.RuntimeNamespace = runtime.Namespace;
            }
        }
    }

    /// <summary>
    /// Marks a live attempt as preempted before it is stopped, so that its end is recorded as a preemption
    /// (the job queued again, no failure counted), and so that the reconciler stops it if this server dies
    /// before it could. False when the attempt is no longer the live attempt of a running job.
    /// </summary>
    public static bool MarkPreempted(StrataDbContext db, AttemptRef reference)
    {
        var attempt = db.Attempts.Find(reference.JobId, reference.Number);
        if (attempt is not { IsLive: true }) return false;
        var job = db.Jobs.Single(j => j.Id == reference.JobId);
        if (job.Status != JobStatus.Running || job.AttemptCount != reference.Number) return false;
        attempt.Reason = StatusReasons.Preempted;
        return true;
    }

    /// <summary>Records how an attempt ended and what becomes of its job: done, failed, or queued again for a retry.</summary>
    /// <param name="modelVersion">The model version a built-in trainer's success registered, kept as the job's output.</param>
    public static OutcomeRecorded RecordOutcome(StrataDbContext db, AttemptObservation observation, DateTimeOffset now, string? modelVersion = null)
    {
        var reference = observation.Attempt;
        var attempt = db.Attempts.Find(reference.JobId, reference.Number);
        if (attempt is null) return new OutcomeRecorded(false, null);
        if (!attempt.IsLive) return new OutcomeRecorded(true, null);

        var job = db.Jobs.Single(j => j.Id == reference.JobId);
        if (attempt.Reason == StatusReasons.Preempted && observation.Phase != ObservedPhase.Succeeded && job.Status == JobStatus.Running
            && job.AttemptCount == reference.Number)
        {
            return RecordPreemption(job, attempt, observation, now);
        }
        var reason = observation.Reason ?? (observation.Phase == ObservedPhase.Succeeded ? StatusReasons.Completed : StatusReasons.ExitedWithError);
        attempt.Status = observation.Phase switch
        {
            ObservedPhase.Succeeded => AttemptStatus.Succeeded,
            ObservedPhase.Stopped => AttemptStatus.Cancelled,
            _ => job.Status == JobStatus.Cancelled ? AttemptStatus.Cancelled : AttemptStatus.Failed,
        };
        attempt.CompletedAt = observation.FinishedAt ?? now;
        // Start and end from the same clock (the runtime's), so that the attempt's wall time is what it ran:
        // the server marks an attempt running only after its start returned, which a fast job can outlive.
        attempt.StartedAt = observation.StartedAt ?? attempt.StartedAt;
        attempt.ExitCode = observation.ExitCode;
        attempt.Reason = job.Status == JobStatus.Cancelled ? StatusReasons.CancelledByUser : reason;
        attempt.ErrorMessage = observation.Message;
        attempt.PeakMemoryBytes = observation.PeakMemoryBytes;
        attempt.CpuSeconds = observation.CpuSeconds;
        var usage = UsageRecording.Record(attempt, job);

        var failure = attempt.Status == AttemptStatus.Failed ? reason : null;

        // The job follows its current attempt only, and only while it is still running.
        if (job.Status != JobStatus.Running || job.AttemptCount != reference.Number)
        {
            return new OutcomeRecorded(true, null, failure, Usage: usage);
        }
        if (observation.Phase == ObservedPhase.Succeeded)
        {
            Finish(job, JobStatus.Succeeded, StatusReasons.Completed, null, now);
            job.OutputModelVersion = modelVersion;
            return new OutcomeRecorded(true, null, Ended: JobEnded.Of(job, attempt.StartedAt), Usage: usage);
        }

        var spec = JobMapping.ReadSpec(job);
        // Preempted attempts were not the job's failures: they do not use up its retries.
        var decision = RetryPolicy.Decide(reason, reference.Number - job.Preemptions,
            spec.Retry?.MaxAttempts ?? JobDefaults.DefaultMaxAttempts, spec.Retry?.Backoff ?? JobDefaults.DefaultBackoffSeconds);
        var message = observation.Message ?? Describe(reason, observation.ExitCode);
        if (!decision.Retry)
        {
            Finish(job, JobStatus.Failed, reason, message, now);
            return new OutcomeRecorded(true, null, failure, JobEnded.Of(job, attempt.StartedAt), usage);
        }
        job.Status = JobStatus.Pending;
        job.StatusReason = StatusReasons.WaitingForRetry;
        job.NotBefore = now + decision.Delay;
        job.ErrorMessage = $"attempt {reference.Number} failed ({message}); retrying";
        return new OutcomeRecorded(true, ToPending(job), failure, Usage: usage);
    }

    /// <summary>Cancels an active job; says what it found and which attempt to stop.</summary>
    public static CancelOutcome Cancel(StrataDbContext db, string tenantId, string jobId, DateTimeOffset now)
    {
        var job = db.Jobs.SingleOrDefault(j => j.Id == jobId && j.TenantId == tenantId);
        if (job is null || !job.IsActive) return new CancelOutcome(job, WasActive: false, null);
        var live = job.Status == JobStatus.Running ? new AttemptRef(job.TenantId, job.Id, job.AttemptCount) : (AttemptRef?)null;
        Finish(job, JobStatus.Cancelled, StatusReasons.CancelledByUser, null, now);
        return new CancelOutcome(job, WasActive: true, live);
    }

    /// <summary>A preempted attempt has stopped: its job waits again, first in line among its equals (it keeps its age).</summary>
    private static OutcomeRecorded RecordPreemption(JobRecord job, AttemptRecord attempt, AttemptObservation observation, DateTimeOffset now)
    {
        attempt.Status = AttemptStatus.Preempted;
        attempt.CompletedAt = observation.FinishedAt ?? now;
        // Start and end from the same clock (the runtime's), so that the attempt's wall time is what it ran:
        // the server marks an attempt running only after its start returned, which a fast job can outlive.
        attempt.StartedAt = observation.StartedAt ?? attempt.StartedAt;
        attempt.ExitCode = observation.ExitCode;
        attempt.ErrorMessage = "stopped to make room for a higher-priority job of the same tenant";
        attempt.PeakMemoryBytes = observation.PeakMemoryBytes;
        attempt.CpuSeconds = observation.CpuSeconds;
        // A preempted attempt used (and held) resources like any other: it is accounted for.
        var usage = UsageRecording.Record(attempt, job);
        job.Preemptions++;
        job.Status = JobStatus.Pending;
        job.StatusReason = StatusReasons.WaitingForCapacity;
        job.NotBefore = null;
        job.ErrorMessage = $"attempt {attempt.Number} was preempted by a higher-priority job; queued again";
        return new OutcomeRecorded(true, ToPending(job), Usage: usage, Preempted: true);
    }

    public static PendingJob ToPending(JobRecord job) =>
        new(job.Id, job.TenantId, job.Priority, job.Seq,
            new ResourceRequest(job.CpuCores, job.MemoryBytes, job.Gpus) * job.Workers, job.NotBefore, job.Workers);

    public static RunningJob ToRunning(JobRecord job) =>
        new(job.Id, job.TenantId, job.Priority, job.Seq, new ResourceRequest(job.CpuCores, job.MemoryBytes, job.Gpus) * job.Workers);

    private static void Finish(JobRecord job, JobStatus status, string reason, string? message, DateTimeOffset now)
    {
        job.Status = status;
        job.StatusReason = reason;
        job.ErrorMessage = message;
        job.CompletedAt = now;
        job.NotBefore = null;
    }

    private static string Describe(string reason, int? exitCode) => reason switch
    {
        StatusReasons.ExitedWithError => $"exited with code {exitCode}",
        StatusReasons.OutOfMemory => "killed for using more memory than it asked for",
        StatusReasons.DiskLimitExceeded => "stopped for filling more disk than it asked for",
        StatusReasons.TimedOut => "stopped at its time-out",
        StatusReasons.SupervisorLost => "its process vanished",
        StatusReasons.ModelRegistrationFailed => "its model could not be registered",
        _ => reason.Replace('_', ' '),
    };
}
