using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Strata.Contracts;
using Strata.Core.Runtime;
using Strata.Server.Queue;
using Strata.Server.Storage;

namespace Strata.Server.Attempts;

/// <summary>
/// Level-triggered reconciliation of the store (desired) with the runtime (observed). Each pass, on a
/// timer and on start-up, re-lists both and closes every difference; between passes the runtime's watch
/// brings single changes in at once. A pass is safe to run twice:
/// - an attempt the store does not know, or whose job is over, is stopped (an orphan);
/// - a finished attempt is recorded (and its job retried, finished or failed), then forgotten;
/// - a live attempt the runtime does not report, past its start grace, failed: its supervisor was lost;
/// - an attempt recorded as starting that never reached the runtime (the server died in between) is started.
/// </summary>
public sealed class Reconciler(
    IJobRuntime runtime,
    Store store,
    JobQueue queue,
    AttemptLifecycle attempts,
    TimeProvider time,
    IOptions<ReconcilerOptions> options,
    ILogger<Reconciler> logger) : BackgroundService
{
    private readonly SemaphoreSlim _passLock = new(1, 1);
    private static readonly ActivitySource Tracing = new(Observability.ObservabilitySetup.ReconcilerSource);

    /// <summary>Runs a pass now (after a tenant was deleted, say) without waiting for the timer.</summary>
    public void Kick() => _ = Task.Run(() => PassAsync(CancellationToken.None));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await queue.Loaded.WaitAsync(stoppingToken);
        var watch = Task.Run(() => WatchAsync(stoppingToken), stoppingToken);
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.ResyncSeconds), time);
        do
        {
            await PassAsync(stoppingToken);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
        await watch;
    }

    private async Task WatchAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await foreach (var observation in runtime.WatchAsync(stoppingToken))
                {
                    await ReconcileAsync(observation, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "The runtime's watch broke; re-listing");
                await PassAsync(stoppingToken);
                // Only the leader watches: no herd of replicas to spread out, so a fixed pause.
                await Task.Delay(TimeSpan.FromSeconds(1), time, stoppingToken);
            }
        }
    }

    private async Task PassAsync(CancellationToken cancellationToken)
    {
        await _passLock.WaitAsync(cancellationToken);
        using var activity = Tracing.StartActivity("reconciler.pass");
        try
        {
            // The store first, then the runtime: an attempt started in between is then in neither
            // snapshot, rather than in the store's alone (which would make it look lost).
            var live = await LiveAttemptsAsync(cancellationToken);
            var observed = await runtime.ListAsync(cancellationToken);
            foreach (var observation in observed)
            {
                await ReconcileAsync(observation, cancellationToken);
            }
            await CollectLostAttemptsAsync(live, observed.Select(o => o.Attempt.Name).ToHashSet(StringComparer.Ordinal), cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            logger.LogError(e, "Reconciliation pass failed; the next one retries");
        }
        finally
        {
            _passLock.Release();
        }
    }

    /// <summary>Closes the difference for one attempt the runtime reports.</summary>
    private async Task ReconcileAsync(AttemptObservation observation, CancellationToken cancellationToken)
    {
        var reference = observation.Attempt;
        using var scope = logger.BeginScope(new Observability.JobLogScope(reference.TenantId, reference.JobId, reference.Number));
        if (attempts.IsStarting(reference) && !observation.IsFinished) return;

        await using var db = store.CreateContext();
        var attempt = await db.Attempts.AsNoTracking().FirstOrDefaultAsync(a => a.JobId == reference.JobId && a.Number == reference.Number, cancellationToken);
        var job = attempt is null ? null : await db.Jobs.AsNoTracking().FirstOrDefaultAsync(j => j.Id == reference.JobId, cancellationToken);

        if (attempt is null || job is null)
        {
            // Not ours (any more): its job or tenant was deleted. Stop it and discard what is left.
            logger.LogInformation("Stopping orphaned attempt {Attempt}", reference);
            await runtime.StopAsync(reference, cancellationToken);
            if (observation.IsFinished)
            {
                await runtime.ForgetAsync(reference, discardLogs: true, cancellationToken);
                // Its end is recorded nowhere, so nothing else gives back the capacity it held.
                queue.Release(reference.Name);
            }
            return;
        }

        if (observation.IsFinished)
        {
            if (attempt.IsLive)
            {
                await attempts.RecordOutcomeAsync(observation, cancellationToken);
                logger.LogInformation("Attempt {Attempt} ended: {Reason}", reference, observation.Outcome!.Reason);
            }
            await runtime.ForgetAsync(reference, discardLogs: false, cancellationToken);
            return;
        }

        // Running in the runtime.
        if (!job.IsActive || job.AttemptCount != reference.Number || !attempt.IsLive)
        {
            logger.LogInformation("Stopping attempt {Attempt}: its job is {Status}", reference, job.Status);
            await runtime.StopAsync(reference, cancellationToken);
        }
        else if (attempt.Reason == StatusReasons.Preempted)
        {
            // Marked for preemption, and still running (the stop was lost, or the server restarted before it).
            await runtime.StopAsync(reference, cancellationToken);
        }
        else if (attempt.Status == AttemptStatus.Starting)
        {
            await attempts.MarkRunningAsync(reference, runtime.Describe(reference), observation.StartedAt ?? time.GetUtcNow(), cancellationToken);
        }
    }

    private async Task<List<AttemptRecord>> LiveAttemptsAsync(CancellationToken cancellationToken)
    {
        await using var db = store.CreateContext();
        return await db.Attempts.AsNoTracking()
            .Where(a => a.Status == AttemptStatus.Starting || a.Status == AttemptStatus.Running)
            .ToListAsync(cancellationToken);
    }

    /// <summary>Live attempts in the store that the runtime does not report.</summary>
    private async Task CollectLostAttemptsAsync(List<AttemptRecord> live, HashSet<string> observed, CancellationToken cancellationToken)
    {
        await using var db = store.CreateContext();
        var now = time.GetUtcNow();
        foreach (var attempt in live)
        {
            var reference = new AttemptRef(attempt.TenantId, attempt.JobId, attempt.Number);
            if (observed.Contains(reference.Name) || attempts.IsStarting(reference)) continue;
            // The snapshot is older than the runtime's list: an attempt whose start completed in between (the
            // runtime has it, it is marked running, and no longer starting) looks lost in it. Such an attempt
            // changed in the store since; it is left to the next pass, which sees it in both.
            var current = await db.Attempts.AsNoTracking().FirstOrDefaultAsync(a => a.JobId == attempt.JobId && a.Number == attempt.Number, cancellationToken);
            if (current is null || current.Status != attempt.Status) continue;
            if (attempt.Status == AttemptStatus.Starting)
            {
                // Recorded but never handed to the runtime (the server stopped in between): start it now.
                // Starting is idempotent per attempt, so this cannot run it twice.
                var job = await db.Jobs.AsNoTracking().FirstAsync(j => j.Id == attempt.JobId, cancellationToken);
                if (job.IsActive && job.AttemptCount == attempt.Number)
                {
                    attempts.Restart(job, attempt.Number, cancellationToken);
                    continue;
                }
            }
            logger.LogWarning("Attempt {Attempt} is gone from the runtime; marking it failed", reference);
            await attempts.RecordOutcomeAsync(new AttemptObservation
            {
                Attempt = reference,
                Outcome = new AttemptOutcome.SupervisorLost { Message = "its process vanished (it was not running when the server looked for it)" },
                FinishedAt = now,
            }, cancellationToken);
        }
    }
}
