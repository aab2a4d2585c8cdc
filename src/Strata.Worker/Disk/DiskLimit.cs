using Strata.Core.Runtime.Local;

namespace Strata.Worker.Disk;

/// <summary>
/// Enforces <see cref="LaunchFile.DiskBytes"/>: measures the bytes under <see cref="LaunchFile.DiskPaths"/>
/// every <see cref="Interval"/> while the job runs, a bounded amount of work at a time (see
/// <see cref="DiskUsage"/>), and reports once they are over the limit.
/// </summary>
internal static class DiskLimit
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    /// <summary>Entries examined per <see cref="Interval"/>: a tree larger than this is measured over several.</summary>
    public const int EntriesPerPass = 20_000;

    /// <summary>
    /// Completes with result.json's message once the folders hold more than the limit; never when there
    /// is no limit or measuring fails (then worker.log says why). Cancelled through <paramref name="cancellationToken"/>.
    /// </summary>
    public static async Task<string> WatchAsync(LaunchFile launch, WorkerLog log, TimeProvider time, CancellationToken cancellationToken)
    {
        if (launch.DiskBytes is { } limit && launch.DiskPaths is { Count: > 0 } paths)
        {
            try
            {
                var usage = new DiskUsage(paths, EntriesPerPass);
                log.Write($"disk limit: {limit} bytes under {string.Join(", ", usage.Roots)}, measured every {Interval.TotalSeconds:0.#} s");
                while (true)
                {
                    await Task.Delay(Interval, time, cancellationToken);
                    var used = usage.Pass() ?? usage.Seen;
                    if (used > limit)
                    {
                        log.Write($"disk usage: {used} bytes under {string.Join(", ", usage.Roots)}");
                        return $"exceeded its disk limit of {limit} bytes: {used} bytes in its work, checkpoint and model output folders";
                    }
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                log.Write($"measuring disk usage failed, the disk limit is not enforced: {e.Message}");
            }
        }
        await Task.Delay(Timeout.InfiniteTimeSpan, time, cancellationToken);
        throw new OperationCanceledException(cancellationToken);
    }
}
