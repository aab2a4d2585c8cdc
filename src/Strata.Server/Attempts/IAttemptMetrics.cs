using Strata.Core.Runtime;

namespace Strata.Server.Attempts;

/// <summary>
/// The metric lines an ended attempt printed, recorded before its end is (implemented by
/// <c>Tracking.LogMetricsCollector</c>): a job whose last line is a metric is never seen succeeded without it.
/// The interface is the lifecycle's, so that Tracking may build on Jobs without the lifecycle depending on it.
/// </summary>
public interface IAttemptMetrics
{
    /// <summary>Reads what is left of the ended attempt's output and records its metric lines.</summary>
    Task CollectRemainingAsync(AttemptRef attempt, CancellationToken cancellationToken);
}
