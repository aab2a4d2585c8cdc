using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Strata.Contracts;
using Strata.Server.Queue;
using Strata.Server.Storage;

namespace Strata.Server.Leadership;

/// <summary>
/// With several replicas, a job may be submitted, cancelled or requeued on any of them while only the
/// leader schedules. Every few seconds each replica brings its in-memory queue in step with the shared
/// database: pending jobs it does not know are queued (so the leader admits what followers accepted), and
/// queued jobs that are no longer pending are dropped (so a follower's queue does not grow for ever).
/// Does nothing on a single server, whose queue is kept in step by its own events.
/// </summary>
public sealed class QueueSync(JobQueue queue, Store store, SchedulerWakeUp wakeUp, IOptions<LeadershipOptions> options, TimeProvider time, ILogger<QueueSync> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Enabled) return;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.RenewSeconds), time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                if (await SyncAsync(stoppingToken)) wakeUp.Wake();
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Could not bring the queue in step with the database; retrying");
            }
        }
    }

    /// <summary>One pass; true when a job was queued.</summary>
    public async Task<bool> SyncAsync(CancellationToken cancellationToken)
    {
        // The queue first, then the store: a job queued before the read was stored pending before it too.
        var queued = queue.Snapshot().Select(j => j.JobId).ToList();
        await using var db = store.CreateContext();
        var pending = await db.Jobs.AsNoTracking().Where(j => j.Status == JobStatus.Pending).ToListAsync(cancellationToken);
        var pendingIds = pending.Select(j => j.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var id in queued.Where(id => !pendingIds.Contains(id)))
        {
            queue.Remove(id);
        }
        var added = false;
        foreach (var job in pending.Where(j => !queue.Contains(j.Id)))
        {
            queue.Enqueue(QueueEntries.ToPending(job), job.NotBefore ?? job.CreatedAt);
            added = true;
        }
        return added;
    }
}
