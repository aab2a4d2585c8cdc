using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using Strata.Contracts;
using Strata.Core.Jobs;
using Strata.Core.Quotas;
using Strata.Core.Runtime;
using Strata.Core.Scheduling;
using Strata.Server.Observability;
using Strata.Server.Storage;

namespace Strata.Server.Scheduling;

/// <summary>
/// The scheduling loop. Woken by events (a submission, a finished attempt, a cancel, a quota change) and by
/// a periodic resync, each cycle reads top to bottom:
/// 1. snapshot the queue, what runs, the quotas and the capacity;
/// 2. plan with the pure <see cref="SchedulingPolicy"/> (fair share, quotas, gangs, preemption);
/// 3. record why the others wait;
/// 4. admit: record each admission in memory, persist it (rolled back in memory if that fails), then
///    hand it to the runtime;
/// 5. preempt: mark the chosen attempts in the store, then stop them; their jobs are queued again when the
///    runtime reports them stopped.
/// </summary>
public sealed class Scheduler(
    JobQueue queue,
    Quotas.TenantQuotas quotas,
    IJobRuntime runtime,
    Store store,
    StoreWriter writer,
    RunningMarks runningMarks,
    LaunchBuilder launches,
    Auth.LiveAttempts liveAttempts,
    Models.TrainerOutputs trainerOutputs,
    TimeProvider time,
    StrataMetrics metrics,
    ILogger<Scheduler> logger) : BackgroundService
{
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    // The jobs whose attempt this server is handing to the runtime, by job id (a job has one live attempt at
    // a time), to the attempt's number (Admitting until its admission is committed): marked before the
    // commit, so that the reconciler never takes one for an attempt recorded but never started, and
    // starts it a second time.
    private readonly ConcurrentDictionary<string, int> _starting = new(StringComparer.Ordinal);
    private const int Admitting = 0;
    private readonly TaskCompletionSource _loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Admissions persisted by one write, their rows read by one query; bounded so that no single write holds the writer long.</summary>
    private const int AdmissionChunk = 500;

    private static readonly ActivitySource Tracing = new(ObservabilitySetup.SchedulerSource);
    private static readonly ResourceRequest SmallestJob = ResourceRequest.FromGb(JobLimits.MinCpuCores, JobLimits.MinMemoryGb, 0);

    /// <summary>Completes once the queue has been loaded from the store.</summary>
    public Task Loaded => _loaded.Task;

    /// <summary>Asks for a cycle soon; many calls before it runs make one cycle.</summary>
    public void Wake() => _wake.Writer.TryWrite(true);

    /// <summary>True while the runtime is being asked to start <paramref name="attempt"/> by this server.</summary>
    public bool IsStarting(AttemptRef attempt) => _starting.ContainsKey(attempt.JobId);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await LoadAsync(stoppingToken);
        _loaded.TrySetResult();
        while (!stoppingToken.IsCancellationRequested)
        {
            var started = time.GetTimestamp();
            try
            {
                await CycleAsync(stoppingToken);
                metrics.SchedulerCycled(time.GetElapsedTime(started));
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                logger.LogError(e, "Scheduling cycle failed; retrying on the next wake-up");
            }
            await WaitForWorkAsync(stoppingToken);
        }
    }

    /// <summary>
    /// Rebuilds the queue, the allocations and the quota held from the store. Running jobs hold their quota;
    /// pending jobs take theirs in submission order while it lasts, and the others wait for quota.
    /// </summary>
    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        await quotas.LoadAllAsync(cancellationToken);
        var limits = quotas.Limits();
        await using var db = store.CreateContext();
        var live = await (from attempt in db.Attempts.AsNoTracking()
                          join job in db.Jobs.AsNoTracking() on attempt.JobId equals job.Id
                          where attempt.Status == AttemptStatus.Starting || attempt.Status == AttemptStatus.Running
                          select new { Attempt = attempt, Job = job })
                         .ToListAsync(cancellationToken);
        foreach (var a in live)
        {
            var running = JobTransitions.ToRunning(a.Job) with { Stopping = a.Attempt.Reason == StatusReasons.Preempted };
            queue.Allocate(new AttemptRef(a.Job.TenantId, a.Job.Id, a.Attempt.Number), running);
            if (a.Job.IsActive) queue.TryHold(a.Job.TenantId, a.Job.Id, running.Request, limits: null);
        }
        var pending = await db.Jobs.AsNoTracking().Where(j => j.Status == JobStatus.Pending).OrderBy(j => j.Seq).ToListAsync(cancellationToken);
        foreach (var job in pending)
        {
            var waiting = JobTransitions.ToPending(job);
            queue.TryHold(job.TenantId, job.Id, waiting.Request, limits.GetValueOrDefault(job.TenantId) ?? QuotaLimits.Unlimited);
            queue.Enqueue(waiting, job.NotBefore ?? job.CreatedAt);
        }
        logger.LogInformation("Scheduler loaded {Pending} pending jobs and {Live} live attempts", pending.Count, live.Count);
    }

    private async Task WaitForWorkAsync(CancellationToken stoppingToken)
    {
        // Sleep until woken, or until the earliest retry backoff ends, or the periodic resync.
        var delay = TimeSpan.FromSeconds(5);
        var now = time.GetUtcNow();
        if (queue.NextBackoffEnd(now) is { } backoffEnd && backoffEnd - now < delay)
        {
            delay = backoffEnd - now;
        }
        if (delay <= TimeSpan.Zero) return;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        timeout.CancelAfter(delay);
        try
        {
            await _wake.Reader.ReadAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task CycleAsync(CancellationToken cancellationToken)
    {
        // 1. Snapshot. When not even the smallest job could fit and no preemption is possible, there is nothing to decide.
        var capacity = runtime.Capacity.Total;
        if (queue.PendingCount == 0) return;
        if (!SmallestJob.FitsIn(capacity - queue.Allocated) && !queue.MayPreempt()) return;
        var limits = quotas.Limits();
        var now = time.GetUtcNow();
        var snapshot = queue.TakeSnapshot(capacity, limits, now);
        using var activity = Tracing.StartActivity("scheduler.cycle");
        activity?.SetTag("strata.pending", snapshot.Pending.Count);

        // 2. Plan.
        var plan = SchedulingPolicy.Plan(snapshot);

        // 3. Why the others wait.
        queue.SetReasons(plan.Waiting);

        // 4. Admit: in memory first (quota taken, capacity held), then persisted together (one commit), then started.
        var admitted = plan.Admitted.Where(job => queue.TryAdmit(job, limits.GetValueOrDefault(job.TenantId) ?? QuotaLimits.Unlimited)).ToList();
        foreach (var job in admitted) _starting[job.JobId] = Admitting;
        // In chunks, each read with one query and written with two prepared statements per job.
        var admissions = admitted.Chunk(AdmissionChunk).Select(chunk => writer.WriteAsync(
            db => JobTransitions.Admit(db, [.. chunk.Select(job => job.JobId)], runtime.Kind, now), cancellationToken)).ToList();

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
                queue.Allocate(reference, JobTransitions.ToRunning(result.Value.Job));
                var launch = launches.Build(result.Value.Job, reference.Number);
                _ = StartAsync(launch, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogError(e, "Could not persist the admission of job {JobId}; it stays pending", job.JobId);
                _starting.TryRemove(job.JobId, out _);
                queue.Enqueue(job);
            }
        }
        activity?.SetTag("strata.admitted", admitted.Count);

        // 5. Preempt.
        foreach (var preemption in plan.Preemptions)
        {
            foreach (var victim in preemption.Victims)
            {
                await PreemptAsync(victim, preemption.For, cancellationToken);
            }
        }
    }

    /// <summary>Marks the victim's attempt as preempted (durably), then asks the runtime to stop it.</summary>
    private async Task PreemptAsync(RunningJob victim, PendingJob forJob, CancellationToken cancellationToken)
    {
        if (queue.MarkStopping(victim.JobId) is not { } attempt) return;
        using var scope = logger.BeginScope(new JobLogScope(attempt.TenantId, attempt.JobId, attempt.Number));
        if (!await writer.WriteAsync(db => JobTransitions.MarkPreempted(db, attempt), cancellationToken)) return;
        logger.LogInformation("Preempting attempt {Attempt} (priority {Priority}) for job {JobId} (priority {ForPriority})",
            attempt, victim.Priority, forJob.JobId, forJob.Priority);
        _ = Task.Run(async () =>
        {
            try
            {
                await runtime.StopAsync(attempt, CancellationToken.None);
            }
            catch (Exception e)
            {
                // The attempt is marked in the store: the reconciler stops it on its next pass.
                logger.LogWarning(e, "Stopping preempted attempt {Attempt} failed; the reconciler retries", attempt);
            }
        }, CancellationToken.None);
    }

    private async Task StartAsync(JobLaunch launch, CancellationToken cancellationToken)
    {
        var reference = launch.Attempt;
        using var scope = logger.BeginScope(new JobLogScope(reference.TenantId, reference.JobId, reference.Number));
        try
        {
            var info = await runtime.StartAsync(launch, cancellationToken);
            await runningMarks.MarkAsync(new RunningMark(reference, info, time.GetUtcNow()), cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(e, "Attempt {Attempt} of job {JobId} could not start", reference.Number, reference.JobId);
            var failed = new AttemptObservation
            {
                Attempt = reference,
                Phase = ObservedPhase.Failed,
                Reason = StatusReasons.StartFailed,
                Message = e is RuntimeStartException ? e.Message : "the runtime could not start it: " + e.Message,
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

    /// <summary>Hands an attempt that was admitted before a restart but never started to the runtime.</summary>
    public void Restart(JobLaunch launch, CancellationToken cancellationToken)
    {
        if (_starting.TryAdd(launch.Attempt.JobId, launch.Attempt.Number))
        {
            _ = StartAsync(launch, cancellationToken);
        }
    }

    public Task MarkRunningAsync(AttemptRef reference, RuntimeInfo info, DateTimeOffset startedAt, CancellationToken cancellationToken) =>
        runningMarks.MarkAsync(new RunningMark(reference, info, startedAt), cancellationToken);

    /// <summary>Records an attempt's end, frees what it held and queues its retry; shared with the reconciler.</summary>
    public async Task<OutcomeRecorded> RecordOutcomeAsync(AttemptObservation observation, CancellationToken cancellationToken)
    {
        // The attempt is over, whatever the store says yet: its token is refused from here on, on this server
        // before anyone can see the end recorded (other replicas, from the store's record, see docs/decisions.md).
        liveAttempts.Ended(observation.Attempt);
        // A built-in trainer's success registers its model first, so a succeeded job always has its version.
        string? modelVersion = null;
        if (observation.Phase == ObservedPhase.Succeeded && await trainerOutputs.RegisterAsync(observation.Attempt, cancellationToken) is { } registration)
        {
            modelVersion = registration.ModelVersion;
            if (registration.Failure is { } failure)
            {
                observation = observation with { Phase = ObservedPhase.Failed, Reason = StatusReasons.ModelRegistrationFailed, Message = failure };
            }
        }
        var recorded = await writer.WriteAsync(db => JobTransitions.RecordOutcome(db, observation, time.GetUtcNow(), modelVersion), cancellationToken);
        queue.Release(observation.Attempt.Name);
        if (recorded.Requeued is { } retry)
        {
            queue.Enqueue(retry);
        }
        if (recorded.Ended is not null)
        {
            queue.ReleaseQuota(observation.Attempt.JobId);
        }
        metrics.OutcomeRecorded(observation.Attempt.TenantId, recorded);
        Wake();
        return recorded;
    }
}
