using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Strata.Contracts;
using Strata.Core.Jobs;
using Strata.Core.Quotas;
using Strata.Core.Runtime;
using Strata.Core.Scheduling;
using Strata.Server.Attempts;
using Strata.Server.Observability;
using Strata.Server.Queue;
using Strata.Server.Storage;

namespace Strata.Server.Scheduling;

/// <summary>
/// The scheduling loop. Woken by events (<see cref="SchedulerWakeUp"/>: a submission, an ended attempt, a cancel,
/// a quota change) and every <see cref="SchedulerOptions.CycleSeconds"/>, each cycle reads top to bottom:
/// 1. snapshot the queue, what runs, the quotas and the capacity;
/// 2. plan with the pure <see cref="SchedulingPolicy"/> (fair share, quotas, gangs, preemption);
/// 3. record why the others wait;
/// 4. admit: take each admitted job out of the queue (its quota held), then start its attempt
///    (<see cref="AttemptLifecycle.StartAsync"/>: persisted, then handed to the runtime);
/// 5. preempt: the chosen attempts are marked in the store, then stopped; their jobs are queued again when the
///    runtime reports them stopped.
/// </summary>
public sealed class Scheduler(
    JobQueue queue,
    SchedulerWakeUp wakeUp,
    Quotas.TenantQuotas quotas,
    IJobRuntime runtime,
    IRuntimeProfile profile,
    Store store,
    AttemptLifecycle attempts,
    TimeProvider time,
    StrataMetrics metrics,
    IOptions<SchedulerOptions> options,
    ILogger<Scheduler> logger) : BackgroundService
{
    private static readonly ActivitySource Tracing = new(ObservabilitySetup.SchedulerSource);
    private static readonly ResourceRequest SmallestJob = ResourceRequest.FromGb(JobLimits.MinCpuCores, JobLimits.MinMemoryGb, 0);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await LoadAsync(stoppingToken);
        queue.MarkLoaded();
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
            await wakeUp.WaitAsync(UntilNextCycle(), time, stoppingToken);
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
            var running = QueueEntries.ToRunning(a.Job) with { Stopping = a.Attempt.Reason == StatusReasons.Preempted };
            queue.Allocate(new AttemptRef(a.Job.TenantId, a.Job.Id, a.Attempt.Number), running);
            if (a.Job.IsActive) queue.TryHold(a.Job.TenantId, a.Job.Id, running.Request, limits: null);
        }
        var pending = await db.Jobs.AsNoTracking().Where(j => j.Status == JobStatus.Pending).OrderBy(j => j.Seq).ToListAsync(cancellationToken);
        foreach (var job in pending)
        {
            var waiting = QueueEntries.ToPending(job);
            queue.TryHold(job.TenantId, job.Id, waiting.Request, limits.GetValueOrDefault(job.TenantId) ?? QuotaLimits.Unlimited);
            queue.Enqueue(waiting, job.NotBefore ?? job.CreatedAt);
        }
        logger.LogInformation("Scheduler loaded {Pending} pending jobs and {Live} live attempts", pending.Count, live.Count);
    }

    /// <summary>Until the periodic cycle, or the end of the earliest retry backoff when that comes first.</summary>
    private TimeSpan UntilNextCycle()
    {
        var delay = TimeSpan.FromSeconds(options.Value.CycleSeconds);
        var now = time.GetUtcNow();
        return queue.NextBackoffEnd(now) is { } backoffEnd && backoffEnd - now < delay ? backoffEnd - now : delay;
    }

    private async Task CycleAsync(CancellationToken cancellationToken)
    {
        // 1. Snapshot. When not even the smallest job could fit and no preemption is possible, there is nothing to decide.
        var capacity = runtime.Capacity.Total;
        if (queue.PendingCount == 0) return;
        if (!SmallestJob.FitsIn(capacity - queue.Allocated) && !queue.MayPreempt()) return;
        var limits = quotas.Limits();
        var snapshot = queue.TakeSnapshot(capacity, limits, time.GetUtcNow(), profile.GpuOccupancy);
        using var activity = Tracing.StartActivity("scheduler.cycle");
        activity?.SetTag("strata.pending", snapshot.Pending.Count);

        // 2. Plan.
        var plan = SchedulingPolicy.Plan(snapshot);

        // 3. Why the others wait.
        queue.SetReasons(plan.Waiting);

        // 4. Admit: out of the queue in memory first (quota taken, capacity held), then started.
        var admitted = plan.Admitted.Where(job => queue.TryAdmit(job, limits.GetValueOrDefault(job.TenantId) ?? QuotaLimits.Unlimited)).ToList();
        await attempts.StartAsync(admitted, cancellationToken);
        activity?.SetTag("strata.admitted", admitted.Count);

        // 5. Preempt.
        foreach (var preemption in plan.Preemptions)
        {
            foreach (var victim in preemption.Victims)
            {
                await attempts.PreemptAsync(victim, preemption.For, cancellationToken);
            }
        }
    }
}
