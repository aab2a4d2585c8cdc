using System.Collections.Concurrent;
using Strata.Contracts;
using Strata.Core.Runtime;
using Strata.Core.Scheduling;
using Strata.Server.Auth;
using Strata.Server.Observability;
using Strata.Server.Queue;
using Strata.Server.Storage;

namespace Strata.Server.Attempts;

/// <summary>
/// The life of an attempt, from admission to its recorded end: start (and restart after a server restart), mark
/// running, stop (a cancel, a preemption), record the outcome. The store writes are <see cref="AttemptTransitions"/>;
/// the decision after an outcome is Core's <see cref="Core.Attempts.AttemptPolicy"/>; this class keeps the
/// in-memory queue, the capacity book and the job tokens in step with what was written.
/// </summary>
public sealed class AttemptLifecycle(
    JobQueue queue,
    SchedulerWakeUp wakeUp,
    IJobRuntime runtime,
    StoreWriter writer,
    RunningMarks runningMarks,
    LaunchBuilder launches,
    LiveAttempts liveAttempts,
    IAttemptOutputs outputs,
    IAttemptMetrics attemptMetrics,
    TimeProvider time,
    RetryJitter jitter,
    Quotas.TenantQuotas quotas,
    StrataMetrics metrics,
    ILogger<AttemptLifecycle> logger)
{
    // The jobs whose attempt this server is handing to the runtime, by job id (a job has one live attempt at
    // a time), to the attempt's number (Admitting until its admission is committed): marked before the
    // commit, so that the reconciler never takes one for an attempt recorded but never started, and
    // starts it a second time.
    private readonly ConcurrentDictionary<string, int> _starting = new(StringComparer.Ordinal);
    private const int Admitting = 0;

    /// <summary>Admissions persisted by one write, their rows read by one query; bounded so that no single write holds the writer long.</summary>
    private const int AdmissionChunk = 500;

    /// <summary>True while the runtime is being asked to start <paramref name="attempt"/> by this server.</summary>
    public bool IsStarting(AttemptRef attempt) => _starting.ContainsKey(attempt.JobId);

    /// <summary>
    /// Starts an attempt of each admitted job (already out of the queue, its quota held): persisted together
    /// (one commit per chunk), then handed to the runtime. A job cancelled meanwhile is skipped; one whose
    /// admission could not be written goes back to the queue.
    /// </summary>
    public async Task StartAsync(IReadOnlyList<PendingJob> admitted, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        foreach (var job in admitted) _starting[job.JobId] = Admitting;
        // In chunks, each read with one query and written with two prepared statements per job.
        var admissions = admitted.Chunk(AdmissionChunk).Select(chunk => writer.WriteAsync(
            db => AttemptTransitions.Admit(db, [.. chunk.Select(job => job.JobId)], runtime.Kind, now), cancellationToken)).ToList();

        for (var i = 0; i < admitted.Count; i++)
        {
            var job = admitted[i];
            try
            {
                var result = (await admissions[i / AdmissionChunk])[i % AdmissionChunk];
                if (result is null)
                {
                    _starting.TryRemove(job.JobId, out _); // cancelled meanwhile
                    continue;
                }
                var reference = new AttemptRef(job.TenantId, job.JobId, result.Value.Attempt.Number);
                _starting[job.JobId] = reference.Number;
                queue.Allocate(reference, QueueEntries.ToRunning(result.Value.Job));
                _ = LaunchAsync(result.Value.Job, reference, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogError(e, "Could not persist the admission of job {JobId}; it stays pending", job.JobId);
                _starting.TryRemove(job.JobId, out _);
                queue.Enqueue(job);
            }
        }
    }

    /// <summary>Hands an attempt that was admitted before a restart but never started to the runtime.</summary>
    public void Restart(JobRecord job, int attemptNumber, CancellationToken cancellationToken)
    {
        if (_starting.TryAdd(job.Id, attemptNumber))
        {
            _ = LaunchAsync(job, new AttemptRef(job.TenantId, job.Id, attemptNumber), cancellationToken);
        }
    }

    private async Task LaunchAsync(JobRecord job, AttemptRef reference, CancellationToken cancellationToken)
    {
        using var scope = logger.BeginScope(new JobLogScope(reference.TenantId, reference.JobId, reference.Number));
        try
        {
            var launch = await launches.BuildAsync(job, reference.Number, cancellationToken);
            var info = await runtime.StartAsync(launch, cancellationToken);
            await runningMarks.MarkAsync(new RunningMark(reference, info, time.GetUtcNow()), cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(e, "Attempt {Attempt} of job {JobId} could not start", reference.Number, reference.JobId);
            var failed = new AttemptObservation
            {
                Attempt = reference,
                Outcome = new AttemptOutcome.StartFailed
                {
                    Message = e is RuntimeStartException ? e.Message : "the runtime could not start it: " + e.Message,
                },
                FinishedAt = time.GetUtcNow(),
            };
            await RecordOutcomeAsync(failed, CancellationToken.None);
        }
        finally
        {
            // Only its own mark: a retry of the job may be admitted before this line runs.
            _starting.TryRemove(new KeyValuePair<string, int>(reference.JobId, reference.Number));
        }
    }

    /// <summary>The runtime reports the attempt running (seen by the reconciler after a restart, say).</summary>
    public Task MarkRunningAsync(AttemptRef reference, RuntimeInfo info, DateTimeOffset startedAt, CancellationToken cancellationToken) =>
        runningMarks.MarkAsync(new RunningMark(reference, info, startedAt), cancellationToken);

    /// <summary>Records an attempt's end, frees what it held and queues its retry or its preempted job.</summary>
    public async Task<OutcomeRecorded> RecordOutcomeAsync(AttemptObservation observation, CancellationToken cancellationToken)
    {
        // The attempt is over, whatever the store says yet: its token is refused from here on, on this server
        // before anyone can see the end recorded (other replicas, from the store's record, see docs/decisions.md).
        liveAttempts.Ended(observation.Attempt);
        // What it printed is recorded before its end, so that its status never runs ahead of its metrics.
        await CollectMetricsAsync(observation.Attempt, cancellationToken);
        // A built-in trainer's success registers its model first, so a succeeded job always has its version.
        string? modelVersion = null;
        if (observation.Outcome is AttemptOutcome.Succeeded && await outputs.RegisterAsync(observation.Attempt, cancellationToken) is { } registration)
        {
            modelVersion = registration.ModelVersion;
            if (registration.Failure is { } failure)
            {
                observation = observation with { Outcome = new AttemptOutcome.ModelRegistrationFailed { ExitCode = observation.Outcome.ExitCode, Message = failure } };
            }
        }
        var quota = await quotas.GetAsync(observation.Attempt.TenantId, cancellationToken);
        var context = new RetryContext(jitter.Next(), quota?.Quota.MemoryGb, runtime.Capacity.Total.MemoryBytes / (double)ResourceRequest.BytesPerGb);
        var recorded = await writer.WriteAsync(db => AttemptTransitions.RecordOutcome(db, observation, time.GetUtcNow(), modelVersion, context), cancellationToken);
        queue.Release(observation.Attempt.Name);
        if (recorded.Requeued is { } retry)
        {
            if (recorded.Grown)
            {
                // It asks for more than its quota holds: it gives that back and takes the grown request when admitted.
                queue.ReleaseQuota(observation.Attempt.JobId);
            }
            queue.Enqueue(retry);
        }
        if (recorded.Ended is not null)
        {
            queue.ReleaseQuota(observation.Attempt.JobId);
        }
        metrics.AttemptRecorded(observation.Attempt.TenantId, recorded.FailureReason, retried: recorded.Requeued is not null && !recorded.Preempted, recorded.Ended, recorded.Usage);
        wakeUp.Wake();
        return recorded;
    }

    private async Task CollectMetricsAsync(AttemptRef attempt, CancellationToken cancellationToken)
    {
        try
        {
            await attemptMetrics.CollectRemainingAsync(attempt, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The end is still recorded; the collector's next pass reads what this could not.
            logger.LogWarning(e, "Reading the metric lines of ended attempt {Attempt} failed; they are recorded by a later pass", attempt);
        }
    }

    /// <summary>Marks the victim's attempt as preempted (durably), then asks the runtime to stop it.</summary>
    public async Task PreemptAsync(RunningJob victim, PendingJob forJob, CancellationToken cancellationToken)
    {
        if (queue.MarkStopping(victim.JobId) is not { } attempt) return;
        using var scope = logger.BeginScope(new JobLogScope(attempt.TenantId, attempt.JobId, attempt.Number));
        if (!await writer.WriteAsync(db => AttemptTransitions.MarkPreempted(db, attempt), cancellationToken)) return;
        logger.LogInformation("Preempting attempt {Attempt} (priority {Priority}) for job {JobId} (priority {ForPriority})",
            attempt, victim.Priority, forJob.JobId, forJob.Priority);
        StopInBackground(attempt);
    }

    /// <summary>
    /// Cancels an active job of the tenant: the cancel is written, its quota is freed, and its live attempt stops;
    /// the job is cancelling until that attempt's end is recorded, and cancelled from then on.
    /// </summary>
    public async Task<CancelOutcome> CancelAsync(string tenantId, string jobId, CancellationToken cancellationToken)
    {
        var outcome = await writer.WriteAsync(db => AttemptTransitions.Cancel(db, tenantId, jobId, time.GetUtcNow()), cancellationToken);
        if (!outcome.WasActive) return outcome;
        // The attempt still stops (below), but its token is refused from the cancel on: the job is over.
        if (outcome.LiveAttempt is { } live) liveAttempts.Ended(live);
        queue.Remove(jobId);
        queue.ReleaseQuota(jobId);
        // What it held may let a job waiting for quota start.
        wakeUp.Wake();
        // A job with a live attempt ends (cancelled) when the runtime reports the attempt stopped.
        if (outcome.LiveAttempt is { } attempt) StopInBackground(attempt);
        else metrics.JobEnded(JobEnded.Of(outcome.Job!));
        return outcome;
    }

    /// <summary>
    /// Stops an attempt outside the caller's request or cycle: the worker sends SIGTERM, waits its grace, then
    /// SIGKILL, and the reconciler records the end when the runtime reports it. A stop that fails is retried by
    /// the reconciler, which stops every attempt whose job is over or which is marked preempted.
    /// </summary>
    private void StopInBackground(AttemptRef attempt) => _ = Task.Run(async () =>
    {
        try
        {
            await runtime.StopAsync(attempt, CancellationToken.None);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Stopping attempt {Attempt} failed; the reconciler retries", attempt);
        }
    }, CancellationToken.None);
}
