using Strata.Contracts;
using Strata.Core.Attempts;
using Strata.Core.Runtime;

namespace Strata.Core.Tests;

public sealed class RetryPolicyTests
{
    [Theory]
    [InlineData(StatusReasons.SupervisorLost, 1, 10, 10)]
    [InlineData(StatusReasons.SupervisorLost, 2, 10, 20)]
    [InlineData(StatusReasons.SupervisorLost, 3, 10, 40)]
    [InlineData(StatusReasons.StartFailed, 1, 10, 10)]
    [InlineData(StatusReasons.StartFailed, 4, 10, 80)]
    [InlineData(StatusReasons.StartFailed, 5, 10, 160)]
    [InlineData(StatusReasons.StartFailed, 6, 10, 300)] // 320 capped
    [InlineData(StatusReasons.SupervisorLost, 9, 10, 300)]
    [InlineData(StatusReasons.SupervisorLost, 1, 3600, 300)] // even the first backoff is capped
    [InlineData(StatusReasons.SupervisorLost, 1, 0, 0)]
    [InlineData(StatusReasons.SupervisorLost, 3, 0, 0)]
    public void Infrastructure_failures_are_retried_with_exponential_backoff_capped_at_300_seconds(string reason, int attempt, int backoff, int expectedSeconds)
    {
        var decision = RetryPolicy.Decide(AttemptOutcome.FromReason(reason), attempt, maxAttempts: 10, backoffSeconds: backoff);

        Assert.True(decision.Retry);
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), decision.Delay);
    }

    [Theory]
    [InlineData(StatusReasons.ExitedWithError)]
    [InlineData(StatusReasons.OutOfMemory)]
    [InlineData(StatusReasons.DiskLimitExceeded)]
    [InlineData(StatusReasons.TimedOut)]
    [InlineData(StatusReasons.Killed)]
    [InlineData(StatusReasons.CancelledByUser)]
    [InlineData(StatusReasons.Completed)]
    [InlineData("something_new")]
    [InlineData(null)]
    public void Failures_of_the_job_itself_are_never_retried(string? reason)
    {
        var decision = RetryPolicy.Decide(AttemptOutcome.FromReason(reason), attemptNumber: 1, maxAttempts: 10, backoffSeconds: 10);

        Assert.Equal(new RetryDecision(false, TimeSpan.Zero), decision);
        Assert.False(AttemptOutcome.FromReason(reason).IsInfrastructureFailure);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 3)]
    [InlineData(10, 10)]
    [InlineData(4, 3)] // past the last one, as a restart might find it
    public void The_last_attempt_is_never_retried(int attempt, int maxAttempts)
    {
        Assert.False(RetryPolicy.Decide(new AttemptOutcome.SupervisorLost(), attempt, maxAttempts, 10).Retry);
        Assert.False(RetryPolicy.Decide(new AttemptOutcome.StartFailed(), attempt, maxAttempts, 10).Retry);
    }

    [Fact]
    public void The_attempt_before_the_last_is_retried()
    {
        Assert.True(RetryPolicy.Decide(new AttemptOutcome.SupervisorLost(), 2, 3, 10).Retry);
    }

    [Theory]
    [InlineData(StatusReasons.SupervisorLost)]
    [InlineData(StatusReasons.StartFailed)]
    public void Supervisor_lost_and_start_failed_are_the_infrastructure_failures(string reason)
    {
        Assert.True(AttemptOutcome.FromReason(reason).IsInfrastructureFailure);
    }
}
