using Strata.Contracts;

namespace Strata.Core.Jobs;

/// <summary>What happens after an attempt failed.</summary>
/// <param name="Retry">True to start another attempt after <paramref name="Delay"/>.</param>
public readonly record struct RetryDecision(bool Retry, TimeSpan Delay);

/// <summary>
/// Retries failures that are the infrastructure's (the supervisor vanished, the start failed), never
/// the job's own (a non-zero exit, out of memory, over its disk limit, a time-out): retrying those would
/// fail the same way.
/// </summary>
public static class RetryPolicy
{
    public const int MaxBackoffSeconds = 300;

    public static bool IsInfrastructureFailure(string? reason) =>
        reason is StatusReasons.SupervisorLost or StatusReasons.StartFailed;

    /// <param name="attemptNumber">The attempt that failed, from 1.</param>
    public static RetryDecision Decide(string? reason, int attemptNumber, int maxAttempts, int backoffSeconds)
    {
        if (!IsInfrastructureFailure(reason) || attemptNumber >= maxAttempts)
        {
            return new RetryDecision(false, TimeSpan.Zero);
        }
        var seconds = Math.Min(MaxBackoffSeconds, backoffSeconds * Math.Pow(2, attemptNumber - 1));
        return new RetryDecision(true, TimeSpan.FromSeconds(seconds));
    }
}
