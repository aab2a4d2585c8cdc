using Strata.Contracts;
using Strata.Core.Runtime;

namespace Strata.Core.Attempts;

/// <summary>What the store says about an attempt that has just ended, and about its job.</summary>
/// <param name="Outcome">How the runtime saw it end.</param>
/// <param name="Number">The attempt's number, from 1.</param>
/// <param name="MarkedPreempted">The scheduler marked the attempt to be stopped for a higher-priority job.</param>
/// <param name="JobStatus">The job's status now.</param>
/// <param name="JobsCurrentAttempt">The job's latest attempt's number.</param>
/// <param name="Preemptions">How many of the job's attempts were preempted; they do not use up its retries.</param>
/// <param name="MaxAttempts">The job's <c>retry.max_attempts</c>.</param>
/// <param name="BackoffSeconds">The job's <c>retry.backoff_seconds</c>.</param>
public sealed record AttemptEnd(
    AttemptOutcome Outcome,
    int Number,
    bool MarkedPreempted,
    JobStatus JobStatus,
    int JobsCurrentAttempt,
    int Preemptions,
    int MaxAttempts,
    int BackoffSeconds)
{
    /// <summary>The spec's <c>retry</c> rules: exit-code lists, time-outs, memory growth. The default: none, fail, 1.5.</summary>
    public RetryRules Rules { get; init; } = RetryRules.Default;

    /// <summary>
    /// A sample in [0, 1] from the caller's random source, for the backoff's full jitter (the wait is
    /// <c>sample × min(300 s, base × 2^n)</c>); 1, the default, waits the whole backoff.
    /// </summary>
    public double Jitter { get; init; } = 1;

    /// <summary>The memory, in GB per worker, the attempt ran with (its <c>effective_compute</c>); null when unknown.</summary>
    public double? MemoryGb { get; init; }

    /// <summary>
    /// The most memory, in GB per worker, that a retry could be granted: the least of what the tenant's quota and the
    /// runtime's capacity allow. Null: an out-of-memory attempt is not retried (its caller cannot tell).
    /// </summary>
    public double? MaxMemoryGb { get; init; }

    /// <summary>The job still follows this attempt: it runs, and this is its latest attempt.</summary>
    public bool JobFollows => JobStatus == JobStatus.Running && JobsCurrentAttempt == Number;

    /// <summary>The job was cancelled while this attempt, its latest, ran: its end completes the cancel.</summary>
    public bool EndsCancel => JobStatus == JobStatus.Cancelling && JobsCurrentAttempt == Number;
}

/// <summary>What becomes of an ended attempt's record and of its job.</summary>
/// <param name="Status">The attempt's final status.</param>
/// <param name="Reason">The attempt's <c>reason</c>.</param>
/// <param name="Job">What happens to the job.</param>
public sealed record AttemptDecision(AttemptStatus Status, string Reason, JobNext Job)
{
    /// <summary>Why the attempt failed, in the five classes; null for a success or an attempt whose job no longer follows it.</summary>
    public FailureClass? Classification { get; init; }

    /// <summary>The decision's name on the attempt's record: <c>succeed</c>, <c>fail</c>, <c>retry</c>, <c>requeue</c>, <c>cancelled</c> or <c>none</c>.</summary>
    public string Decision => Job switch
    {
        JobNext.Succeed => "succeed",
        JobNext.Fail => "fail",
        JobNext.Retry => "retry",
        JobNext.Requeue => "requeue",
        JobNext.Cancelled => "cancelled",
        _ => "none",
    };

    /// <summary>Why the attempt failed, when it counts as a failure (retried or not); null for a success, a cancel or a preemption.</summary>
    public string? FailureReason => Status == AttemptStatus.Failed ? Reason : null;
}

/// <summary>What happens to the job of an ended attempt. Closed: one nested record per kind.</summary>
public abstract record JobNext
{
    private JobNext()
    {
    }

    /// <summary>Nothing: the job no longer follows this attempt (it was cancelled, or a later attempt replaced it).</summary>
    public sealed record Unchanged : JobNext;

    /// <summary>The job succeeded.</summary>
    public sealed record Succeed : JobNext;

    /// <summary>The job failed for good.</summary>
    public sealed record Fail(string Reason, string Message) : JobNext;

    /// <summary>The job waits <paramref name="Delay"/>, then another attempt starts.</summary>
    /// <param name="MemoryGb">The memory per worker the next attempt asks for, when it grows after an out-of-memory kill; null: as before.</param>
    public sealed record Retry(TimeSpan Delay, string Message, double? MemoryGb = null) : JobNext;

    /// <summary>The attempt was preempted: the job waits again, keeping its age, and no failure is counted.</summary>
    public sealed record Requeue(string Message) : JobNext;

    /// <summary>The job was cancelling, waiting for this attempt to stop: it is cancelled now.</summary>
    public sealed record Cancelled : JobNext;
}

/// <summary>
/// The decision "what happens after this attempt ended", pure: the server applies what it returns to the
/// attempt's and the job's records, in one store write (<c>Attempts/AttemptTransitions</c>).
/// </summary>
public static class AttemptPolicy
{
    public const string PreemptedMessage = "stopped to make room for a higher-priority job of the same tenant";

    public static AttemptDecision Decide(AttemptEnd end)
    {
        var outcome = end.Outcome;
        var succeeded = outcome is AttemptOutcome.Succeeded;
        // A preempted attempt that did not finish first: its job waits again (a success is kept as one).
        if (end.MarkedPreempted && !succeeded && end.JobFollows)
        {
            return new AttemptDecision(AttemptStatus.Preempted, StatusReasons.Preempted,
                new JobNext.Requeue($"attempt {end.Number} was preempted by a higher-priority job; queued again"))
            {
                Classification = FailureClass.Preempted,
            };
        }
        var cancelled = end.JobStatus is JobStatus.Cancelled or JobStatus.Cancelling;
        var status = outcome switch
        {
            AttemptOutcome.Succeeded => AttemptStatus.Succeeded,
            AttemptOutcome.Stopped => AttemptStatus.Cancelled,
            _ => cancelled ? AttemptStatus.Cancelled : AttemptStatus.Failed,
        };
        var reason = cancelled ? StatusReasons.CancelledByUser : outcome.Reason;
        if (end.EndsCancel) return new AttemptDecision(status, reason, new JobNext.Cancelled());
        if (!end.JobFollows) return new AttemptDecision(status, reason, new JobNext.Unchanged());
        if (succeeded) return new AttemptDecision(status, reason, new JobNext.Succeed());

        var classification = FailureClassifier.Classify(outcome, markedPreempted: false, end.Rules) ?? FailureClass.UserError;
        var job = Next(end, classification);
        return new AttemptDecision(status, reason, job) { Classification = classification };
    }

    /// <summary>What a failed attempt of a job that follows it leads to, by its class.</summary>
    private static JobNext Next(AttemptEnd end, FailureClass classification)
    {
        var outcome = end.Outcome;
        var failures = end.Number - end.Preemptions;
        var message = Quote(outcome);
        var wire = classification.ToWire();
        var last = failures >= end.MaxAttempts;
        JobNext Fail(string why) => new JobNext.Fail(outcome.Reason, $"{message} ({wire}: {why})");
        JobNext Retry(TimeSpan delay, string why, double? memoryGb = null) =>
            new JobNext.Retry(delay, $"attempt {end.Number} failed ({message}); retrying ({wire}: {why})", memoryGb);
        string Exhausted() => $"not retried: {end.MaxAttempts} attempt{(end.MaxAttempts == 1 ? "" : "s")} used";

        switch (classification)
        {
            case FailureClass.Infrastructure when outcome is AttemptOutcome.Stopped:
                // Strata itself stopped it, and not for a preemption: a retry would be stopped again.
                return Fail("stopped by Strata, not retried");
            case FailureClass.Infrastructure:
                if (last) return Fail(Exhausted());
                var delay = RetryPolicy.Backoff(failures, end.BackoffSeconds, end.Jitter);
                return Retry(delay, $"backoff {delay.TotalSeconds:0.#} s");
            case FailureClass.TimedOut:
                if (!end.Rules.RetryOnTimeout) return Fail("not retried; retry.on_timeout is fail");
                if (last) return Fail(Exhausted());
                return Retry(TimeSpan.Zero, "retry.on_timeout is retry");
            case FailureClass.OutOfMemory:
                if (last) return Fail(Exhausted());
                if (end.MemoryGb is not { } memory || end.MaxMemoryGb is not { } most) return Fail("not retried");
                var grown = RetryPolicy.GrowMemory(memory, end.Rules.MemoryGrowth);
                if (grown > most)
                {
                    return Fail($"not retried: a retry needs {grown:0.##} GB of memory, more than the tenant's quota and the runtime's capacity grant ({most:0.##} GB)");
                }
                return Retry(TimeSpan.Zero, $"memory_gb {memory:0.##} -> {grown:0.##}", grown);
            default:
                return Fail("not retried");
        }
    }

    /// <summary>
    /// The outcome's words, quoting why the job said it failed (its last <c>STRATA_ERROR</c> line), else the exception
    /// line of a Python traceback, when there was one.
    /// </summary>
    private static string Quote(AttemptOutcome outcome)
    {
        var described = outcome.Describe();
        return (outcome.ReportedError ?? outcome.Exception) is { } why && !described.Contains(why, StringComparison.Ordinal)
            ? $"{described}: {why}"
            : described;
    }
}
