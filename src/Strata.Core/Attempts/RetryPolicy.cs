using Strata.Core.Runtime;

namespace Strata.Core.Attempts;

/// <summary>What happens after an attempt failed.</summary>
/// <param name="Retry">True to start another attempt after <paramref name="Delay"/>.</param>
public readonly record struct RetryDecision(bool Retry, TimeSpan Delay);

/// <summary>
/// The arithmetic of retries: the full-jitter backoff and an out-of-memory retry's grown memory
/// (<see cref="AttemptPolicy"/> decides which failures are retried, by their <see cref="FailureClass"/>).
/// <see cref="Decide"/> is the rule before classification, by <see cref="AttemptOutcome.IsInfrastructureFailure"/>
/// alone, without jitter.
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
        return new RetryDecision(true, Backoff(attemptNumber, backoffSeconds, jitter: 1));
    }

    /// <summary>
    /// The wait before the retry of failure number <paramref name="failureNumber"/> (from 1):
    /// <c>jitter × min(300 s, base × 2^(n-1))</c>, full jitter with <paramref name="jitter"/> a sample in [0, 1]
    /// from the caller's random source.
    /// </summary>
    public static TimeSpan Backoff(int failureNumber, int backoffSeconds, double jitter)
    {
        var cap = Math.Min(MaxBackoffSeconds, backoffSeconds * Math.Pow(2, Math.Max(0, failureNumber - 1)));
        return TimeSpan.FromSeconds(Math.Round(cap * Math.Clamp(jitter, 0, 1), 3));
    }

    /// <summary>The memory, in GB, an out-of-memory attempt's retry asks for: <c>memory × growth</c>, rounded up to a whole GB, at least 1 GB more.</summary>
    public static double GrowMemory(double memoryGb, double growth) => Math.Max(Math.Ceiling(memoryGb * growth), Math.Ceiling(memoryGb) + 1);
}
