using Strata.Contracts;
using Strata.Core.Attempts;
using Strata.Core.Runtime;

namespace Strata.Core.Tests;

/// <summary>Every row of "what happens after this attempt ended": the attempt's record and the job's next step.</summary>
public sealed class AttemptPolicyTests
{
    private const string Unchanged = "unchanged", Succeed = "succeed", Fail = "fail", Retry = "retry", Requeue = "requeue", Cancelled = "cancelled";

    public static TheoryData<string, AttemptOutcome, bool, JobStatus, int, AttemptStatus, string, string> Rows => new()
    {
        // case, outcome, marked preempted, job status, job's current attempt (this is attempt 1), attempt status, attempt reason, job next
        { "success", new AttemptOutcome.Succeeded(), false, JobStatus.Running, 1, AttemptStatus.Succeeded, StatusReasons.Completed, Succeed },
        { "error exit", new AttemptOutcome.ExitedWithError { ExitCode = 2 }, false, JobStatus.Running, 1, AttemptStatus.Failed, StatusReasons.ExitedWithError, Fail },
        { "out of memory", new AttemptOutcome.OutOfMemory(), false, JobStatus.Running, 1, AttemptStatus.Failed, StatusReasons.OutOfMemory, Fail },
        { "disk limit", new AttemptOutcome.DiskLimitExceeded(), false, JobStatus.Running, 1, AttemptStatus.Failed, StatusReasons.DiskLimitExceeded, Fail },
        { "time-out", new AttemptOutcome.TimedOut(), false, JobStatus.Running, 1, AttemptStatus.Failed, StatusReasons.TimedOut, Fail },
        { "model not registered", new AttemptOutcome.ModelRegistrationFailed(), false, JobStatus.Running, 1, AttemptStatus.Failed, StatusReasons.ModelRegistrationFailed, Fail },
        { "environment not built: not retried", new AttemptOutcome.EnvironmentError(), false, JobStatus.Running, 1, AttemptStatus.Failed, StatusReasons.EnvironmentError, Fail },
        { "supervisor lost: retried", new AttemptOutcome.SupervisorLost(), false, JobStatus.Running, 1, AttemptStatus.Failed, StatusReasons.SupervisorLost, Retry },
        { "evicted: retried", new AttemptOutcome.Evicted(), false, JobStatus.Running, 1, AttemptStatus.Failed, StatusReasons.Evicted, Retry },
        { "start failed: retried", new AttemptOutcome.StartFailed(), false, JobStatus.Running, 1, AttemptStatus.Failed, StatusReasons.StartFailed, Retry },
        { "stopped while its job runs", new AttemptOutcome.Stopped(), false, JobStatus.Running, 1, AttemptStatus.Cancelled, StatusReasons.Killed, Fail },
        { "stopped after a cancel", new AttemptOutcome.Stopped(), false, JobStatus.Cancelled, 1, AttemptStatus.Cancelled, StatusReasons.CancelledByUser, Unchanged },
        { "error exit after a cancel", new AttemptOutcome.ExitedWithError(), false, JobStatus.Cancelled, 1, AttemptStatus.Cancelled, StatusReasons.CancelledByUser, Unchanged },
        { "success after a cancel", new AttemptOutcome.Succeeded(), false, JobStatus.Cancelled, 1, AttemptStatus.Succeeded, StatusReasons.CancelledByUser, Unchanged },
        { "an old attempt ends", new AttemptOutcome.SupervisorLost(), false, JobStatus.Running, 2, AttemptStatus.Failed, StatusReasons.SupervisorLost, Unchanged },
        { "ends after its job failed", new AttemptOutcome.ExitedWithError(), false, JobStatus.Failed, 1, AttemptStatus.Failed, StatusReasons.ExitedWithError, Unchanged },
        { "preempted, stopped", new AttemptOutcome.Stopped(), true, JobStatus.Running, 1, AttemptStatus.Preempted, StatusReasons.Preempted, Requeue },
        { "preempted, died first", new AttemptOutcome.ExitedWithError(), true, JobStatus.Running, 1, AttemptStatus.Preempted, StatusReasons.Preempted, Requeue },
        { "preempted, finished first", new AttemptOutcome.Succeeded(), true, JobStatus.Running, 1, AttemptStatus.Succeeded, StatusReasons.Completed, Succeed },
        { "preempted, then cancelled", new AttemptOutcome.Stopped(), true, JobStatus.Cancelled, 1, AttemptStatus.Cancelled, StatusReasons.CancelledByUser, Unchanged },
        { "stopped while cancelling", new AttemptOutcome.Stopped(), false, JobStatus.Cancelling, 1, AttemptStatus.Cancelled, StatusReasons.CancelledByUser, Cancelled },
        { "killed at the grace's end while cancelling", new AttemptOutcome.ExitedWithError { ExitCode = 137, Signal = 9 }, false, JobStatus.Cancelling, 1, AttemptStatus.Cancelled, StatusReasons.CancelledByUser, Cancelled },
        { "lost while cancelling", new AttemptOutcome.SupervisorLost(), false, JobStatus.Cancelling, 1, AttemptStatus.Cancelled, StatusReasons.CancelledByUser, Cancelled },
        { "succeeded while cancelling", new AttemptOutcome.Succeeded(), false, JobStatus.Cancelling, 1, AttemptStatus.Succeeded, StatusReasons.CancelledByUser, Cancelled },
        { "preempted, then cancelling", new AttemptOutcome.Stopped(), true, JobStatus.Cancelling, 1, AttemptStatus.Cancelled, StatusReasons.CancelledByUser, Cancelled },
        { "an old attempt ends while cancelling", new AttemptOutcome.Stopped(), false, JobStatus.Cancelling, 2, AttemptStatus.Cancelled, StatusReasons.CancelledByUser, Unchanged },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void Each_outcome_decides_the_attempt_and_the_job(string @case, AttemptOutcome outcome, bool markedPreempted, JobStatus jobStatus,
        int jobsCurrentAttempt, AttemptStatus attemptStatus, string attemptReason, string jobNext)
    {
        var decision = AttemptPolicy.Decide(new AttemptEnd(outcome, 1, markedPreempted, jobStatus, jobsCurrentAttempt, Preemptions: 0, MaxAttempts: 3, BackoffSeconds: 10));

        Assert.True(attemptStatus == decision.Status, $"{@case}: attempt {decision.Status}");
        Assert.True(attemptReason == decision.Reason, $"{@case}: reason {decision.Reason}");
        var next = decision.Job switch
        {
            JobNext.Unchanged => Unchanged,
            JobNext.Succeed => Succeed,
            JobNext.Fail => Fail,
            JobNext.Retry => Retry,
            JobNext.Requeue => Requeue,
            JobNext.Cancelled => Cancelled,
            _ => "?",
        };
        Assert.True(jobNext == next, $"{@case}: job {next}");
        Assert.Equal(attemptStatus == AttemptStatus.Failed ? attemptReason : null, decision.FailureReason);
    }

    [Fact]
    public void A_failed_job_keeps_the_runtime_reason_and_message()
    {
        var decision = AttemptPolicy.Decide(End(new AttemptOutcome.ExitedWithError { ExitCode = 3 }));

        Assert.Equal(new JobNext.Fail(StatusReasons.ExitedWithError, "exited with code 3 (user_error: not retried)"), decision.Job);
        var described = AttemptPolicy.Decide(End(new AttemptOutcome.OutOfMemory { Message = "killed at 2 GiB" }));
        Assert.Equal(new JobNext.Fail(StatusReasons.OutOfMemory, "killed at 2 GiB (out_of_memory: not retried)"), described.Job);
    }

    [Theory]
    // attempt number, preemptions so far, max attempts: retried?
    [InlineData(1, 0, 3, true)]
    [InlineData(2, 0, 3, true)]
    [InlineData(3, 0, 3, false)]
    [InlineData(3, 1, 3, true)] // a preempted attempt does not use up a retry
    [InlineData(4, 1, 3, false)]
    [InlineData(1, 0, 1, false)]
    public void Infrastructure_failures_are_retried_until_the_last_attempt_not_counting_preemptions(int number, int preemptions, int maxAttempts, bool retried)
    {
        var end = End(new AttemptOutcome.SupervisorLost()) with { Number = number, JobsCurrentAttempt = number, Preemptions = preemptions, MaxAttempts = maxAttempts };

        var decision = AttemptPolicy.Decide(end);

        Assert.Equal(retried, decision.Job is JobNext.Retry);
        if (decision.Job is JobNext.Retry retry)
        {
            Assert.Equal(TimeSpan.FromSeconds(10 * Math.Pow(2, number - preemptions - 1)), retry.Delay);
            Assert.StartsWith($"attempt {number} failed (its process vanished); retrying (infrastructure: backoff ", retry.Message);
        }
    }

    [Fact]
    public void A_preempted_attempt_requeues_its_job_with_a_message_saying_so()
    {
        var decision = AttemptPolicy.Decide(End(new AttemptOutcome.Stopped()) with { MarkedPreempted = true });

        Assert.Equal(new JobNext.Requeue("attempt 1 was preempted by a higher-priority job; queued again"), decision.Job);
        Assert.Null(decision.FailureReason);
    }

    [Theory]
    [InlineData(StatusReasons.Completed, typeof(AttemptOutcome.Succeeded))]
    [InlineData(StatusReasons.ExitedWithError, typeof(AttemptOutcome.ExitedWithError))]
    [InlineData(StatusReasons.OutOfMemory, typeof(AttemptOutcome.OutOfMemory))]
    [InlineData(StatusReasons.DiskLimitExceeded, typeof(AttemptOutcome.DiskLimitExceeded))]
    [InlineData(StatusReasons.TimedOut, typeof(AttemptOutcome.TimedOut))]
    [InlineData(StatusReasons.Killed, typeof(AttemptOutcome.Stopped))]
    [InlineData(StatusReasons.SupervisorLost, typeof(AttemptOutcome.SupervisorLost))]
    [InlineData(StatusReasons.Evicted, typeof(AttemptOutcome.Evicted))]
    [InlineData(StatusReasons.StartFailed, typeof(AttemptOutcome.StartFailed))]
    [InlineData(StatusReasons.ModelRegistrationFailed, typeof(AttemptOutcome.ModelRegistrationFailed))]
    [InlineData(StatusReasons.EnvironmentError, typeof(AttemptOutcome.EnvironmentError))]
    public void Each_reason_of_the_worker_protocol_is_one_kind_and_back(string reason, Type kind)
    {
        var outcome = AttemptOutcome.FromReason(reason);

        Assert.IsType(kind, outcome);
        Assert.Equal(reason, outcome.Reason);
    }

    [Fact]
    public void A_reason_this_version_does_not_know_is_an_error_exit()
    {
        Assert.IsType<AttemptOutcome.ExitedWithError>(AttemptOutcome.FromReason("something_new"));
        Assert.IsType<AttemptOutcome.ExitedWithError>(AttemptOutcome.FromReason(null));
    }

    [Theory]
    [InlineData(PendingReason.WaitingForCapacity, StatusReasons.WaitingForCapacity)]
    [InlineData(PendingReason.WaitingForQuota, StatusReasons.WaitingForQuota)]
    [InlineData(PendingReason.WaitingForRetry, StatusReasons.WaitingForRetry)]
    public void Pending_reasons_keep_the_snake_case_strings_of_the_api(PendingReason reason, string wire)
    {
        Assert.Equal(wire, reason.ToStatusReason());
        Assert.Equal(wire, System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(reason.ToString()));
    }

    private static AttemptEnd End(AttemptOutcome outcome) =>
        new(outcome, 1, MarkedPreempted: false, JobStatus.Running, 1, Preemptions: 0, MaxAttempts: 3, BackoffSeconds: 10);
}
