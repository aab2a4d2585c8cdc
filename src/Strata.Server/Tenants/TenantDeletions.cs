namespace Strata.Server.Tenants;

/// <summary>
/// Carries out the deletions asked for (on the leader): a pass over every tenant marked deleting, on start
/// (which finishes deletions a crash or a stop interrupted), when a deletion is asked for on this server
/// (<see cref="Kick"/>), and on a timer: every <see cref="WhileDeleting"/> while one is under way, every
/// <see cref="WhenIdle"/> otherwise (a deletion asked for on a follower is seen then). A tenant whose pass
/// fails is retried by the next.
/// </summary>
public sealed class TenantDeletions(TenantDeletion deletion, TimeProvider time, ILogger<TenantDeletions> logger) : BackgroundService
{
    /// <summary>How often a deletion under way (waiting for its attempts, its namespace) is looked at again.</summary>
    public static readonly TimeSpan WhileDeleting = TimeSpan.FromSeconds(1);

    /// <summary>How often the store is asked for deletions when none is under way here.</summary>
    public static readonly TimeSpan WhenIdle = TimeSpan.FromSeconds(10);

    private volatile TaskCompletionSource _kicked = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>A deletion was asked for: pass now rather than at the next tick.</summary>
    public void Kick() => _kicked.TrySetResult();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            // A kick from here on wakes the wait below, even one that comes during the pass.
            var kicked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _kicked = kicked;
            var underWay = await PassAsync(stoppingToken);
            await Task.WhenAny(kicked.Task, Task.Delay(underWay ? WhileDeleting : WhenIdle, time, stoppingToken));
        }
    }

    /// <summary>One pass over the tenants being deleted; true when one of them is not finished.</summary>
    private async Task<bool> PassAsync(CancellationToken cancellationToken)
    {
        var underWay = false;
        try
        {
            foreach (var tenantId in await deletion.PendingAsync(cancellationToken))
            {
                try
                {
                    underWay |= await deletion.ContinueAsync(tenantId, cancellationToken) == DeletionProgress.Waiting;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    underWay = true;
                    logger.LogWarning(e, "Deleting tenant {TenantId} failed for now; the next pass retries", tenantId);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            underWay = true;
            logger.LogError(e, "Could not read the tenants being deleted; the next pass retries");
        }
        return underWay;
    }
}
