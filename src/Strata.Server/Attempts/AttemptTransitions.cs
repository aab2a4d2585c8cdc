using Microsoft.EntityFrameworkCore;
using Strata.Contracts;
using Strata.Core.Attempts;
using Strata.Core.Jobs;
using Strata.Core.Runtime;
using Strata.Core.Scheduling;
using Strata.Core.Usage;
using Strata.Server.Queue;
using Strata.Server.Storage;
using Strata.Server.Usage;

namespace Strata.Server.Attempts;

/// <summary>What recording an attempt's outcome changed, for the caller to act on after the commit.</summary>
/// <param name="Requeued">The job to queue again (a retry, or after a preemption), if any.</param>
/// <param name="FailureReason">Why the attempt failed, when this recorded a failure (retried or not); null for a success, a cancel or a preemption.</param>
/// <param name="Ended">The job's end, when this outcome ended it.</param>
/// <param name="Usage">What the ended attempt reserved and used, when this outcome recorded it.</param>
/// <param name="Preempted">True when the attempt was stopped by preemption and its job queued again (not a retry).</param>
/// <param name="Grown">The retry asks for more memory than the attempt had (after an out-of-memory kill).</param>
public sealed record OutcomeRecorded(PendingJob? Requeued, string? FailureReason = null, JobEnded? Ended = null, AttemptUsage? Usage = null, bool Preempted = false, bool Grown = false);

/// <summary>
/// What a cancel found: no job, one that had ended otherwise (succeeded, failed), one already cancelled or
/// cancelling, or an active one that it cancelled: at once when pending, or cancelling while its live attempt stops.
/// </summary>
public sealed record CancelOutcome(JobRecord? Job, bool WasActive, AttemptRef? LiveAttempt)
{
    /// <summary>The job is cancelled or being cancelled, by this request or an earlier one: what the caller asked for holds.</summary>
    public bool IsCancelled => Job?.Status is JobStatus.Cancelled or JobStatus.Cancelling;
}

/// <summary>
/// The state changes of jobs and attempts, each applied inside one <see cref="StoreWriter"/> write. They
/// read the current rows in the writer, so a decision is never taken on a stale copy (a cancel racing a
/// completion, say): whichever the writer applies first wins, and the second sees it.
/// </summary>
public static class AttemptTransitions
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
            // What it runs with: the job's compute now (grown after an out-of-memory kill), not necessarily its spec's.
            CpuCores = job.CpuCores,
            MemoryBytes = job.MemoryBytes,
            Gpus = job.Gpus,
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

    /// <summary>
    /// Records how an attempt ended and applies what <see cref="AttemptPolicy"/> decides for its job: done, failed,
    /// queued again for a retry, or queued again after a preemption.
    /// </summary>
    /// <param name="modelVersion">The model version a built-in trainer's success registered, kept as the job's output.</param>
    /// <param name="retry">What the decision needs beyond the store: the jitter sample, and the most memory a retry could be granted.</param>
    public static OutcomeRecorded RecordOutcome(StrataDbContext db, AttemptObservation observation, DateTimeOffset now, string? modelVersion = null, RetryContext? retry = null)
    {
        var reference = observation.Attempt;
        var outcome = observation.Outcome ?? throw new ArgumentException("The attempt has not ended.", nameof(observation));
        var attempt = db.Attempts.Find(reference.JobId, reference.Number);
        // Unknown (an orphan's), or recorded already: nothing changes.
        if (attempt is not { IsLive: true }) return new OutcomeRecorded(null);

        var job = db.Jobs.Single(j => j.Id == reference.JobId);
        var spec = job.ReadSpec();
        var decision = AttemptPolicy.Decide(new AttemptEnd(outcome, reference.Number, attempt.Reason == StatusReasons.Preempted,
            job.Status, job.AttemptCount, job.Preemptions,
            spec.Retry?.MaxAttempts ?? JobDefaults.DefaultMaxAttempts, spec.Retry?.BackoffSeconds ?? spec.Retry?.Backoff ?? JobDefaults.DefaultBackoffSeconds)
        {
            Rules = RetryRules.From(spec.Retry),
            Jitter = retry?.Jitter ?? 1,
            MemoryGb = (attempt.MemoryBytes ?? job.MemoryBytes) / (double)ResourceRequest.BytesPerGb,
            MaxMemoryGb = retry?.MaxMemoryGb(job.Workers),
        });

        attempt.Status = decision.Status;
        attempt.Reason = decision.Reason;
        attempt.CompletedAt = observation.FinishedAt ?? now;
        // Start and end from the same clock (the runtime's), so that the attempt's wall time is what it ran:
        // the server marks an attempt running only after its start returned, which a fast job can outlive.
        attempt.StartedAt = observation.StartedAt ?? attempt.StartedAt;
        attempt.ExitCode = outcome.ExitCode;
        attempt.ErrorMessage = decision.Job is JobNext.Requeue ? AttemptPolicy.PreemptedMessage
            : (outcome.ReportedError ?? outcome.Exception) is { } why ? $"{outcome.Describe()}: {why}" : outcome.Message;
        attempt.Outcome = outcome.Reason;
        attempt.Classification = decision.Classification?.ToWire();
        attempt.Decision = decision.Decision;
        attempt.CpuCores ??= job.CpuCores;
        attempt.MemoryBytes ??= job.MemoryBytes;
        attempt.Gpus ??= job.Gpus;
        attempt.PeakMemoryBytes = observation.PeakMemoryBytes;
        attempt.CpuSeconds = observation.CpuSeconds;
        attempt.CheckpointPath = observation.Checkpoint?.Path;
        attempt.CheckpointModifiedAt = observation.Checkpoint?.ModifiedAt;
        attempt.GpuUtilizationPercent = observation.GpuUtilizationPercent;
        attempt.GpuPeakMemoryMb = observation.GpuPeakMemoryMb;
        // Every attempt used (and held) resources, a preempted one too: it is accounted for.
        var usage = UsageRecording.Record(attempt, job);
        var failure = decision.FailureReason;

        switch (decision.Job)
        {
            case JobNext.Succeed:
                Finish(job, JobStatus.Succeeded, StatusReasons.Completed, null, now);
                job.OutputModelVersion = modelVersion;
                return new OutcomeRecorded(null, Ended: JobEnded.Of(job, attempt.StartedAt), Usage: usage);
            case JobNext.Fail fail:
                Finish(job, JobStatus.Failed, fail.Reason, fail.Message, now);
                return new OutcomeRecorded(null, failure, JobEnded.Of(job, attempt.StartedAt), usage);
            case JobNext.Retry next:
                if (next.MemoryGb is { } grown)
                {
                    // The spec stays as written; the job's compute, which the queue, the ledger and the next launch read, grows.
                    job.MemoryBytes = (long)(grown * ResourceRequest.BytesPerGb);
                }
                Wait(job, StatusReasons.WaitingForRetry, now + next.Delay, next.Message);
                return new OutcomeRecorded(QueueEntries.ToPending(job), failure, Usage: usage, Grown: next.MemoryGb is not null);
            case JobNext.Cancelled:
                Finish(job, JobStatus.Cancelled, StatusReasons.CancelledByUser, null, now);
                return new OutcomeRecorded(null, Ended: JobEnded.Of(job, attempt.StartedAt), Usage: usage);
            case JobNext.Requeue requeue:
                // First in line among its equals again: it keeps its age.
                job.Preemptions++;
                Wait(job, StatusReasons.WaitingForCapacity, null, requeue.Message);
                return new OutcomeRecorded(QueueEntries.ToPending(job), Usage: usage, Preempted: true);
            default:
                // The job follows its current attempt only, and only while it is still running.
                return new OutcomeRecorded(null, failure, Usage: usage);
        }
    }

    /// <summary>
    /// Cancels an active job; says what it found and which attempt to stop. A pending job is cancelled at once; a
    /// running one is cancelling until its attempt's end is recorded (<see cref="JobNext.Cancelled"/>).
    /// </summary>
    public static CancelOutcome Cancel(StrataDbContext db, string tenantId, string jobId, DateTimeOffset now)
    {
        var job = db.Jobs.SingleOrDefault(j => j.Id == jobId && j.TenantId == tenantId);
        if (job is null || !job.IsActive) return new CancelOutcome(job, WasActive: false, null);
        if (job.Status == JobStatus.Pending)
        {
            Finish(job, JobStatus.Cancelled, StatusReasons.CancelledByUser, null, now);
            return new CancelOutcome(job, WasActive: true, null);
        }
        job.Status = JobStatus.Cancelling;
        job.StatusReason = StatusReasons.CancelledByUser;
        job.NotBefore = null;
        return new CancelOutcome(job, WasActive: true, new AttemptRef(job.TenantId, job.Id, job.AttemptCount));
    }

    private static void Finish(JobRecord job, JobStatus status, string reason, string? message, DateTimeOffset now)
    {
        job.Status = status;
        job.StatusReason = reason;
        job.ErrorMessage = message;
        job.CompletedAt = now;
        job.NotBefore = null;
    }

    private static void Wait(JobRecord job, string reason, DateTimeOffset? notBefore, string message)
    {
        job.Status = JobStatus.Pending;
        job.StatusReason = reason;
        job.NotBefore = notBefore;
        job.ErrorMessage = message;
    }
}

/// <summary>What <see cref="AttemptTransitions.RecordOutcome"/>'s decision needs beyond the store.</summary>
/// <param name="Jitter">A sample in [0, 1] from the server's random source, for the backoff's full jitter.</param>
/// <param name="QuotaMemoryGb">The tenant's memory quota, for all its jobs; null: no limit.</param>
/// <param name="CapacityMemoryGb">The runtime's memory, all of it.</param>
public sealed record RetryContext(double Jitter, double? QuotaMemoryGb, double CapacityMemoryGb)
{
    /// <summary>The most memory per worker a job of <paramref name="workers"/> workers could be granted.</summary>
    public double MaxMemoryGb(int workers) => Math.Min(QuotaMemoryGb ?? double.MaxValue, CapacityMemoryGb) / Math.Max(1, workers);
}
