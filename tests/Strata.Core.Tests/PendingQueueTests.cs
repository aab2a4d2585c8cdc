using Microsoft.Extensions.Time.Testing;
using Strata.Contracts;
using Strata.Core.Runtime;
using Strata.Core.Scheduling;

namespace Strata.Core.Tests;

/// <summary>The pending jobs: order, positions, reasons, backoff and preemption candidates.</summary>
public sealed class PendingQueueTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 1, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly PendingQueue _queue = new();

    private DateTimeOffset Now => _time.GetUtcNow();

    private void Enqueue(params PendingJob[] jobs)
    {
        foreach (var job in jobs) _queue.Enqueue(job, Now);
    }

    /// <summary>"b:1 a:2": each queued job of <paramref name="ids"/> and its position, in queue order; a job not queued is left out.</summary>
    private string Positions(params string[] ids) =>
        string.Join(" ", ids.Select(id => (id, _queue.Describe(id, Now).Position)).Where(p => p.Position is not null).OrderBy(p => p.Position).Select(p => $"{p.id}:{p.Position}"));

    [Theory]
    // team-a queues a (priority 0), b (priority 5), c (priority 0), d (priority 5), in that order; some then leave the queue.
    [InlineData("", "b:1 d:2 a:3 c:4")]
    [InlineData("b", "d:1 a:2 c:3")]
    [InlineData("a", "b:1 d:2 c:3")]
    [InlineData("b d", "a:1 c:2")]
    [InlineData("c a b d", "")]
    [InlineData("unknown", "b:1 d:2 a:3 c:4")]
    public void Positions_follow_priority_then_age_and_close_up_after_admissions_and_cancels(string removed, string expected)
    {
        Enqueue(TestJob.For("team-a").Id("a").Sequence(1), TestJob.For("team-a").Id("b").Sequence(2).Priority(5),
            TestJob.For("team-a").Id("c").Sequence(3), TestJob.For("team-a").Id("d").Sequence(4).Priority(5));
        // Another tenant's jobs take no place in team-a's queue.
        Enqueue(TestJob.For("team-b").Id("x").Sequence(0).Priority(9));
        // Positions are asked for once before: what is worked out then must not outlive the change.
        Positions("a", "b", "c", "d");

        foreach (var id in removed.Split(' ', StringSplitOptions.RemoveEmptyEntries)) _queue.Remove(id);

        Assert.Equal(expected, Positions("a", "b", "c", "d"));
        Assert.Equal(expected.Length == 0 ? 0 : expected.Split(' ').Length, _queue.Of("team-a").Pending);
        Assert.Equal("x:1", Positions("x"));
        Assert.Equal(["x", .. expected.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(p => p.Split(':')[0])],
            _queue.Snapshot().Select(j => j.JobId).ToArray());
    }

    [Fact]
    public void Enqueuing_a_queued_job_again_replaces_it_in_its_new_place()
    {
        Enqueue(TestJob.For("team-a").Id("a").Sequence(1), TestJob.For("team-a").Id("b").Sequence(2));

        Enqueue(TestJob.For("team-a").Id("b").Sequence(2).Priority(1));

        Assert.Equal(2, _queue.Count);
        Assert.Equal("b:1 a:2", Positions("b", "a"));
    }

    [Theory]
    // Whether the job holds quota, its backoff from now in seconds (null: none), the reason a cycle recorded (null: none), what Describe says.
    [InlineData(true, null, null, PendingReason.WaitingForCapacity)]
    [InlineData(false, null, null, PendingReason.WaitingForQuota)]
    [InlineData(true, 30, null, PendingReason.WaitingForRetry)]
    [InlineData(true, -30, null, PendingReason.WaitingForCapacity)]
    [InlineData(false, 30, null, PendingReason.WaitingForQuota)]
    [InlineData(true, null, PendingReason.WaitingForQuota, PendingReason.WaitingForQuota)]
    [InlineData(false, 30, PendingReason.WaitingForCapacity, PendingReason.WaitingForCapacity)]
    public void A_job_waits_for_the_reason_its_last_cycle_gave_or_else_for_what_it_lacks(bool holdsQuota, int? backoffSeconds, PendingReason? recorded, PendingReason expected)
    {
        var job = TestJob.For("team-a").Id("a");
        if (!holdsQuota) job.BeyondQuota();
        if (backoffSeconds is { } s) job.NotBefore(Now.AddSeconds(s));
        PendingJob pending = job;
        Enqueue(pending);

        if (recorded is { } known) _queue.SetReasons([new WaitingJob(pending, known)]);

        Assert.Equal<(PendingReason?, int?)>((expected, 1), _queue.Describe("a", Now));
    }

    [Theory]
    // What happens after a cycle recorded waiting_for_quota for job a, and what Describe says then.
    [InlineData("enqueued-again", PendingReason.WaitingForQuota)]
    [InlineData("removed-and-enqueued", PendingReason.WaitingForCapacity)]
    public void A_recorded_reason_lasts_while_the_job_stays_queued(string after, PendingReason expected)
    {
        PendingJob job = TestJob.For("team-a").Id("a");
        Enqueue(job);
        _queue.SetReasons([new WaitingJob(job, PendingReason.WaitingForQuota)]);

        if (after == "removed-and-enqueued") Assert.True(_queue.Remove("a"));
        Enqueue(job);

        Assert.Equal(expected, _queue.Describe("a", Now).Reason);
    }

    [Fact]
    public void Reasons_for_jobs_no_longer_queued_are_not_kept_and_unknown_jobs_are_not_described()
    {
        PendingJob gone = TestJob.For("team-a").Id("gone");

        _queue.SetReasons([new WaitingJob(gone, PendingReason.WaitingForQuota)]);
        Enqueue(gone);

        Assert.Equal(PendingReason.WaitingForCapacity, _queue.Describe("gone", Now).Reason);
        Assert.Equal<(PendingReason?, int?)>((null, null), _queue.Describe("never-queued", Now));
        Assert.False(_queue.Remove("never-queued"));
    }

    [Theory]
    // Backoffs of the queued jobs in seconds from now (comma-separated; "-": none), the next end still to come (null: none).
    [InlineData("-", null)]
    [InlineData("30", 30)]
    [InlineData("30,10,20", 10)]
    [InlineData("-10,0,45", 45)]
    [InlineData("-10,-", null)]
    public void The_next_backoff_end_is_the_earliest_still_to_come(string backoffs, int? expected)
    {
        var i = 0;
        foreach (var backoff in backoffs.Split(','))
        {
            var job = TestJob.For("team-a").Id($"job-{i++}");
            if (backoff != "-") job.NotBefore(Now.AddSeconds(int.Parse(backoff, System.Globalization.CultureInfo.InvariantCulture)));
            Enqueue(job);
        }

        Assert.Equal(expected is { } s ? Now.AddSeconds(s) : (DateTimeOffset?)null, _queue.NextBackoffEnd(Now));
    }

    [Fact]
    public void A_job_that_leaves_the_queue_no_longer_sets_the_next_backoff_end()
    {
        Enqueue(TestJob.For("team-a").Id("a").NotBefore(Now.AddSeconds(10)), TestJob.For("team-a").Id("b").NotBefore(Now.AddSeconds(20)));

        _queue.Remove("a");

        Assert.Equal(Now.AddSeconds(20), _queue.NextBackoffEnd(Now));
    }

    [Theory]
    // The best pending job's tenant and priority, a running job's tenant, priority and whether it is stopping: whether a preemption may be decided.
    [InlineData("team-a", 10, "team-a", 0, false, true)]
    [InlineData("team-a", 10, "team-a", 10, false, false)]
    [InlineData("team-a", 10, "team-a", 0, true, false)]
    [InlineData("team-a", 10, "team-b", 0, false, false)]
    [InlineData("team-a", 0, "team-a", 10, false, false)]
    public void A_preemption_may_be_decided_only_for_a_pending_job_that_outranks_a_running_one_of_its_tenant(
        string pendingTenant, int pendingPriority, string runningTenant, int runningPriority, bool stopping, bool expected)
    {
        Enqueue(TestJob.For(pendingTenant).Priority(pendingPriority), TestJob.For(pendingTenant).Priority(pendingPriority - 1));
        var running = TestJob.For(runningTenant).Priority(runningPriority).Running(stopping);

        Assert.Equal(expected, _queue.MayPreempt([(runningTenant, running)]));
    }

    [Fact]
    public void Nothing_can_be_preempted_for_an_empty_queue()
    {
        Assert.False(_queue.MayPreempt([("team-a", TestJob.For("team-a").Priority(-100).Running())]));
    }

    [Fact]
    public void A_tenant_s_share_counts_its_jobs_what_those_within_quota_hold_and_those_beyond_it()
    {
        Enqueue(TestJob.For("team-a").Cpu(2), TestJob.For("team-a").Cpu(3).Gpus(1), TestJob.For("team-a").Cpu(8).BeyondQuota(),
            TestJob.For("team-b").Cpu(1));

        Assert.Equal(new TenantPending(3, 1, ResourceRequest.FromGb(5, 2, 1)), _queue.Of("team-a"));
        Assert.Equal(new TenantPending(1, 0, ResourceRequest.FromGb(1, 1, 0)), _queue.Of("team-b"));
        Assert.Equal(default, _queue.Of("team-c"));
    }

    [Fact]
    public void Waiting_by_tenant_counts_each_tenant_s_jobs_and_the_longest_wait()
    {
        _queue.Enqueue(TestJob.For("team-a").Id("a1").Priority(5), Now.AddSeconds(-10));
        _queue.Enqueue(TestJob.For("team-a").Id("a2"), Now.AddSeconds(-30));
        _queue.Enqueue(TestJob.For("team-b").Id("b1"), Now.AddSeconds(-5));

        var waiting = _queue.WaitingByTenant();

        Assert.Equal((2, Now.AddSeconds(-30)), waiting["team-a"]);
        Assert.Equal((1, Now.AddSeconds(-5)), waiting["team-b"]);
        Assert.Equal(2, waiting.Count);
    }

    [Fact]
    public void Removing_a_tenant_takes_all_its_jobs_and_leaves_the_others()
    {
        Enqueue(TestJob.For("team-a").Id("a1"), TestJob.For("team-a").Id("a2").NotBefore(Now.AddSeconds(5)), TestJob.For("team-b").Id("b1"));

        _queue.RemoveTenant("team-a");
        _queue.RemoveTenant("team-unknown");

        Assert.Equal(["b1"], _queue.Snapshot().Select(j => j.JobId).ToArray());
        Assert.Equal(default, _queue.Of("team-a"));
        Assert.Null(_queue.NextBackoffEnd(Now));
        Assert.False(_queue.Contains("a1"));
        Assert.True(_queue.Contains("b1"));
    }
}
