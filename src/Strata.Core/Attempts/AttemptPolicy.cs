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
    public sealed record Retry(TimeSpan Delay, string Message) : JobNext;

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
                new JobNext.Requeue($"attempt {end.Number} was preempted by a higher-priority job; queued again"));
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

        var retry = RetryPolicy.Decide(outcome, end.Number - end.Preemptions, end.MaxAttempts, end.BackoffSeconds);
        var message = outcome.Describe();
        JobNext job = retry.Retry
            ? new JobNext.Retry(retry.Delay, $"attempt {end.Number} failed ({message}); retrying")
            : new JobNext.Fail(outcome.Reason, message);
        return new AttemptDecision(status, reason, job);
    }
}
