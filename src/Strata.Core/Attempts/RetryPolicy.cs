using Strata.Core.Runtime;

namespace Strata.Core.Attempts;

/// <summary>What happens after an attempt failed.</summary>
/// <param name="Retry">True to start another attempt after <paramref name="Delay"/>.</param>
public readonly record struct RetryDecision(bool Retry, TimeSpan Delay);

/// <summary>
/// Retries failures that are the infrastructure's (<see cref="AttemptOutcome.IsInfrastructureFailure"/>: the
/// supervisor vanished, the start failed), never the job's own (a non-zero exit, out of memory, over its disk
/// limit, a time-out): retrying those would fail the same way.
/// </summary>
public static class RetryPolicy
{
    public const int MaxBackoffSeconds = 300;

    /// <param name="attemptNumber">The failed attempt's number among the job's failures, from 1.</param>
    public static RetryDecision Decide(AttemptOutcome outcome, int attemptNumber, int maxAttempts, int backoffSeconds)
    {
        if (!outcome.IsInfrastructureFailure || attemptNumber >= maxAttempts)
        {
            return new RetryDecision(false, TimeSpan.Zero);
        }
        var seconds = Math.Min(MaxBackoffSeconds, backoffSeconds * Math.Pow(2, attemptNumber - 1));
        return new RetryDecision(true, TimeSpan.FromSeconds(seconds));
    }
}
