using Microsoft.Extensions.Options;
using Strata.Server.Hosting;

namespace Strata.Server.Retention;

/// <summary>One kind of thing the server removes from disk once it is no longer needed; run by <see cref="DiskSweeper"/>.</summary>
public interface IDiskSweep
{
    /// <summary>Removes what has expired. Never runs twice at once, and runs on the leader only.</summary>
    Task SweepAsync(CancellationToken cancellationToken);
}

/// <summary>
/// Runs every registered <see cref="IDiskSweep"/> every <c>Strata:DiskSweepSeconds</c>, on the leader only (it
/// is the replica that starts attempts, so a sweep never races a start on another replica). The first sweep
/// waits one interval, so that attempts the reconciler restarts after a long stop are back in place first.
/// </summary>
public sealed class DiskSweeper(IEnumerable<IDiskSweep> sweeps, IOptions<StrataOptions> options, TimeProvider time, ILogger<DiskSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.DiskSweepSeconds), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                foreach (var sweep in sweeps)
                {
                    try
                    {
                        await sweep.SweepAsync(stoppingToken);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        logger.LogWarning(e, "A disk sweep ({Sweep}) failed; the next one retries", sweep.GetType().Name);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
