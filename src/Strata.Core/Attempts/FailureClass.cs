using Strata.Contracts;
using Strata.Core.Runtime;

namespace Strata.Core.Attempts;

/// <summary>Why an attempt failed, in the five classes its next step depends on (<see cref="AttemptPolicy"/>).</summary>
public enum FailureClass
{
    /// <summary>Killed for using more memory than it asked for.</summary>
    OutOfMemory,
    /// <summary>The job's own error: a non-zero exit, a code error in a Python traceback, a <c>retry.fail_on_exit_codes</c> code, an environment that could not be built.</summary>
    UserError,
    /// <summary>Not the job's fault: its supervisor or node was lost, its pod was evicted, its start failed, someone else killed it, a <c>retry.retry_on_exit_codes</c> code.</summary>
    Infrastructure,
    /// <summary>Stopped to make room for a higher-priority job.</summary>
    Preempted,
    /// <summary>Stopped at its <c>timeout_seconds</c>.</summary>
    TimedOut,
}

/// <summary>The spec's <c>retry</c> rules that classification and decision read, with the defaults filled in.</summary>
/// <param name="RetryOnExitCodes">Exit codes classified as <see cref="FailureClass.Infrastructure"/>.</param>
/// <param name="FailOnExitCodes">Exit codes classified as <see cref="FailureClass.UserError"/>; they win over <paramref name="RetryOnExitCodes"/>.</param>
/// <param name="RetryOnTimeout">A time-out is retried (<c>retry.on_timeout: retry</c>).</param>
/// <param name="MemoryGrowth">The factor an out-of-memory attempt's memory grows by for its retry.</param>
public sealed record RetryRules(IReadOnlyCollection<int> RetryOnExitCodes, IReadOnlyCollection<int> FailOnExitCodes, bool RetryOnTimeout, double MemoryGrowth)
{
    public const string OnTimeoutFail = "fail";
    public const string OnTimeoutRetry = "retry";
    public const double DefaultMemoryGrowth = 1.5;
    public const double MaxMemoryGrowth = 4;
    public const int MaxExitCodes = 32;

    /// <summary>No exit-code lists, time-outs fail, memory grows by 1.5.</summary>
    public static readonly RetryRules Default = new([], [], false, DefaultMemoryGrowth);

    /// <summary>The rules a validated spec's <c>retry</c> section sets.</summary>
    public static RetryRules From(RetrySpec? retry) => retry is null ? Default : new(
        retry.RetryOnExitCodes ?? [],
        retry.FailOnExitCodes ?? [],
        retry.OnTimeout == OnTimeoutRetry,
        retry.MemoryGrowth ?? DefaultMemoryGrowth);
}

/// <summary>Classifies a failed attempt from its outcome and the outcome's evidence; pure.</summary>
public static class FailureClassifier
{
    /// <summary>Signals that mean someone else ended the process (a node drain, an operator, the OOM killer's cousins): SIGHUP, SIGKILL, SIGTERM.</summary>
    private static readonly int[] ForeignKillSignals = [1, 9, 15];

    /// <summary>The wire name of a class (<c>out_of_memory</c>, <c>user_error</c>, ...).</summary>
    public static string ToWire(this FailureClass value) => value switch
    {
        FailureClass.OutOfMemory => "out_of_memory",
        FailureClass.UserError => "user_error",
        FailureClass.Infrastructure => "infrastructure",
        FailureClass.Preempted => "preempted",
        FailureClass.TimedOut => "timed_out",
        _ => throw new ArgumentOutOfRangeException(nameof(value)),
    };

    /// <summary>The class of a failed attempt; null for a success.</summary>
    /// <param name="markedPreempted">The scheduler marked the attempt to be stopped for a higher-priority job.</param>
    public static FailureClass? Classify(AttemptOutcome outcome, bool markedPreempted, RetryRules rules)
    {
        if (outcome is AttemptOutcome.Succeeded) return null;
        if (markedPreempted) return FailureClass.Preempted;
        return outcome switch
        {
            AttemptOutcome.OutOfMemory => FailureClass.OutOfMemory,
            AttemptOutcome.TimedOut => FailureClass.TimedOut,
            AttemptOutcome.SupervisorLost or AttemptOutcome.Evicted or AttemptOutcome.StartFailed or AttemptOutcome.Stopped => FailureClass.Infrastructure,
            AttemptOutcome.ExitedWithError exited => ClassifyExit(exited, rules),
            // Over its own disk limit, a trainer whose model could not be registered, requirements pip cannot install:
            // the job's own doing.
            _ => FailureClass.UserError,
        };
    }

    private static FailureClass ClassifyExit(AttemptOutcome.ExitedWithError exited, RetryRules rules)
    {
        // A listed code to fail on first, then a code error (a retry would raise it again), then a listed code to retry on.
        if (exited.ExitCode is { } failCode && rules.FailOnExitCodes.Contains(failCode)) return FailureClass.UserError;
        if (Tracebacks.IsCodeError(exited.Exception)) return FailureClass.UserError;
        if (exited.ExitCode is { } retryCode && rules.RetryOnExitCodes.Contains(retryCode)) return FailureClass.Infrastructure;
        if (exited.Signal is { } signal && ForeignKillSignals.Contains(signal)) return FailureClass.Infrastructure;
        return FailureClass.UserError;
    }
}
