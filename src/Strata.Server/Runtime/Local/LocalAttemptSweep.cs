using Microsoft.Extensions.Options;
using Strata.Server.Artifacts;
using Strata.Server.Hosting;
using Strata.Server.Retention;

namespace Strata.Server.Runtime.Local;

/// <summary>
/// The local runtime's share of the disk sweep: attempt folders past <c>Jobs:Retention</c>, then the input
/// cache entries that no attempt left on disk uses, then the Python environments unused for
/// <c>Runtime:Local:EnvironmentUnusedDays</c>.
/// </summary>
public sealed class LocalAttemptSweep(
    LocalJobRuntime runtime, InputCache cache, JobEnvironments environments, IOptions<RetentionOptions> retention, IOptions<LocalRuntimeOptions> options, TimeProvider time) : IDiskSweep
{
    /// <summary>
    /// How long the folder of an attempt that never started is kept at least: longer than any start can take
    /// (a clone may take up to a day, <c>Code:CloneTimeoutSeconds</c>), so that a start in progress is never removed.
    /// </summary>
    public static readonly TimeSpan AbandonedAfter = TimeSpan.FromDays(2);

    public async Task SweepAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var keep = retention.Value.Retention;
        runtime.RemoveEndedAttempts(now - keep, now - (keep > AbandonedAfter ? keep : AbandonedAfter));
        await cache.CollectAsync(runtime.CachedInputsInUse, cancellationToken);
        environments.Collect(now - TimeSpan.FromDays(options.Value.EnvironmentUnusedDays));
    }
}
