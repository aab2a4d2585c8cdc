using Microsoft.Extensions.Time.Testing;
using Strata.Contracts;
using Strata.Core.Runtime;
using Strata.Core.Scheduling;

namespace Strata.Core.Tests;

/// <summary>The policy's basics: queue order, capacity, GPUs, retries' backoff (one tenant or tenants on equal terms).</summary>
public sealed class SchedulingPolicyTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 1, 1, 12, 0, 0, TimeSpan.Zero));

    private SchedulingPlan Plan(ResourceRequest free, params PendingJob[] jobs) =>
        SchedulingPolicy.Plan(new SchedulingSnapshot { Pending = jobs.Order(PendingJobOrder.Instance).ToList(), Capacity = free, Now = _time.GetUtcNow() });

    private static string[] Ids(IEnumerable<PendingJob> jobs) => jobs.Select(j => j.JobId).ToArray();

    [Fact]
    public void Orders_by_priority_first_then_by_age()
    {
        PendingJob oldLow = TestJob.For("team-a").Id("old-low").Sequence(1).Priority(0);
        PendingJob newHigh = TestJob.For("team-a").Id("new-high").Sequence(3).Priority(10);
        PendingJob oldHigh = TestJob.For("team-a").Id("old-high").Sequence(2).Priority(10);
        PendingJob negative = TestJob.For("team-a").Id("negative").Sequence(0).Priority(-5);

        var ordered = new[] { oldLow, newHigh, oldHigh, negative }.Order(PendingJobOrder.Instance);

        Assert.Equal(["old-high", "new-high", "old-low", "negative"], Ids(ordered));
    }

    [Fact]
    public void Order_breaks_a_tie_of_priority_and_age_by_id_so_that_it_is_total()
    {
        PendingJob b = TestJob.For("team-a").Id("b").Sequence(5);
        PendingJob a = TestJob.For("team-a").Id("a").Sequence(5);

        Assert.True(PendingJobOrder.Instance.Compare(a, b) < 0);
        Assert.True(PendingJobOrder.Instance.Compare(b, a) > 0);
        Assert.Equal(0, PendingJobOrder.Instance.Compare(a, a));
    }

    [Fact]
    public void Admits_in_queue_order_while_capacity_lasts()
    {
        var plan = Plan(Free.Of(cpu: 4),
            TestJob.For("team-a").Id("first").Sequence(1).Cpu(2),
            TestJob.For("team-a").Id("second").Sequence(2).Cpu(2),
            TestJob.For("team-a").Id("third").Sequence(3).Cpu(2));

        Assert.Equal(["first", "second"], Ids(plan.Admitted));
        var waiting = Assert.Single(plan.Waiting);
        Assert.Equal("third", waiting.Job.JobId);
        Assert.Equal(PendingReason.WaitingForCapacity, waiting.Reason);
    }

    [Fact]
    public void Admits_the_higher_priority_job_when_only_one_fits()
    {
        var plan = Plan(Free.Of(cpu: 2),
            TestJob.For("team-a").Id("old-normal").Sequence(1).Cpu(2),
            TestJob.For("team-a").Id("new-urgent").Sequence(2).Cpu(2).Priority(100));

        Assert.Equal(["new-urgent"], Ids(plan.Admitted));
        Assert.Equal(["old-normal"], Ids(plan.Waiting.Select(w => w.Job)));
    }

    [Fact]
    public void A_big_job_that_does_not_fit_does_not_block_a_smaller_one_behind_it()
    {
        var plan = Plan(Free.Of(cpu: 3),
            TestJob.For("team-a").Id("big").Sequence(1).Cpu(8),
            TestJob.For("team-a").Id("small").Sequence(2).Cpu(2));

        Assert.Equal(["small"], Ids(plan.Admitted));
        var waiting = Assert.Single(plan.Waiting);
        Assert.Equal(("big", PendingReason.WaitingForCapacity), (waiting.Job.JobId, waiting.Reason));
    }

    [Fact]
    public void Capacity_taken_by_an_admission_is_not_handed_out_again_in_the_same_cycle()
    {
        // 3 cores: the first takes 2, so neither 2-core job behind it fits, but the 1-core one does.
        var plan = Plan(Free.Of(cpu: 3),
            TestJob.For("team-a").Id("a").Sequence(1).Cpu(2),
            TestJob.For("team-b").Id("b").Sequence(2).Cpu(2),
            TestJob.For("team-c").Id("c").Sequence(3).Cpu(1),
            TestJob.For("team-c").Id("d").Sequence(4).Cpu(1));

        Assert.Equal(["a", "c"], Ids(plan.Admitted));
        Assert.Equal(["b", "d"], Ids(plan.Waiting.Select(w => w.Job)));
        Assert.All(plan.Waiting, w => Assert.Equal(PendingReason.WaitingForCapacity, w.Reason));
    }

    [Fact]
    public void Memory_is_accounted_as_well_as_cores()
    {
        var plan = Plan(Free.Of(cpu: 16, memoryGb: 10),
            TestJob.For("team-a").Id("a").Sequence(1).Cpu(1).MemoryGb(6),
            TestJob.For("team-a").Id("b").Sequence(2).Cpu(1).MemoryGb(6),
            TestJob.For("team-a").Id("c").Sequence(3).Cpu(1).MemoryGb(4));

        Assert.Equal(["a", "c"], Ids(plan.Admitted));
        Assert.Equal(["b"], Ids(plan.Waiting.Select(w => w.Job)));
    }

    [Theory]
    [InlineData(0, 1, false)]
    [InlineData(1, 1, true)]
    [InlineData(1, 2, false)]
    [InlineData(4, 2, true)]
    public void A_gpu_job_is_admitted_only_when_enough_gpus_are_free(int freeGpus, int askedGpus, bool admitted)
    {
        var plan = Plan(Free.Of(cpu: 16, gpus: freeGpus), TestJob.For("team-a").Id("gpu").Gpus(askedGpus));

        Assert.Equal(admitted, plan.Admitted.Count == 1);
        Assert.Equal(!admitted, plan.Waiting.Count == 1);
    }

    [Fact]
    public void Gpus_taken_by_one_admission_are_not_free_for_the_next()
    {
        var plan = Plan(Free.Of(cpu: 16, gpus: 2),
            TestJob.For("team-a").Id("two").Sequence(1).Gpus(2),
            TestJob.For("team-a").Id("one").Sequence(2).Gpus(1),
            TestJob.For("team-a").Id("cpu-only").Sequence(3));

        Assert.Equal(["two", "cpu-only"], Ids(plan.Admitted));
        Assert.Equal(["one"], Ids(plan.Waiting.Select(w => w.Job)));
    }

    [Fact]
    public void A_retry_still_in_its_backoff_waits_for_retry_and_holds_no_capacity()
    {
        var plan = Plan(Free.Of(cpu: 2),
            TestJob.For("team-a").Id("retry").Sequence(1).Cpu(2).Priority(10).NotBefore(_time.GetUtcNow().AddSeconds(30)),
            TestJob.For("team-a").Id("fresh").Sequence(2).Cpu(2));

        Assert.Equal(["fresh"], Ids(plan.Admitted));
        var waiting = Assert.Single(plan.Waiting);
        Assert.Equal(("retry", PendingReason.WaitingForRetry), (waiting.Job.JobId, waiting.Reason));
    }

    [Fact]
    public void A_retry_whose_backoff_has_ended_is_admitted()
    {
        PendingJob retry = TestJob.For("team-a").Id("retry").NotBefore(_time.GetUtcNow().AddSeconds(30));
        Assert.Empty(Plan(Free.Of(cpu: 2), retry).Admitted);

        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(["retry"], Ids(Plan(Free.Of(cpu: 2), retry).Admitted));

        _time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(["retry"], Ids(Plan(Free.Of(cpu: 2), retry).Admitted));
    }

    [Fact]
    public void A_retry_whose_backoff_ended_but_which_does_not_fit_waits_for_capacity()
    {
        var plan = Plan(Free.Of(cpu: 1), TestJob.For("team-a").Id("retry").Cpu(2).NotBefore(_time.GetUtcNow().AddSeconds(-1)));

        var waiting = Assert.Single(plan.Waiting);
        Assert.Equal(PendingReason.WaitingForCapacity, waiting.Reason);
    }

    [Fact]
    public void An_empty_queue_admits_nothing_and_leaves_nothing_waiting()
    {
        var plan = Plan(Free.Of(cpu: 8));

        Assert.Empty(plan.Admitted);
        Assert.Empty(plan.Waiting);
    }

    [Fact]
    public void Nothing_is_admitted_when_nothing_is_free()
    {
        var plan = Plan(default,
            TestJob.For("team-a").Id("a").Sequence(1),
            TestJob.For("team-b").Id("b").Sequence(2));

        Assert.Empty(plan.Admitted);
        Assert.Equal(["a", "b"], Ids(plan.Waiting.Select(w => w.Job)));
    }

    [Fact]
    public void Every_job_is_either_admitted_or_waiting_exactly_once()
    {
        var jobs = Enumerable.Range(0, 50)
            .Select(i => TestJob.For($"team-{i % 3}").Id($"job-{i}").Sequence(i).Cpu(1 + (i % 4)).Priority(i % 5).Build())
            .ToArray();

        var plan = Plan(Free.Of(cpu: 20), jobs);

        var seen = Ids(plan.Admitted).Concat(Ids(plan.Waiting.Select(w => w.Job))).ToList();
        Assert.Equal(jobs.Length, seen.Count);
        Assert.Equal(jobs.Length, seen.Distinct().Count());
        Assert.True(plan.Admitted.Aggregate(default(ResourceRequest), (sum, j) => sum + j.Request).FitsIn(Free.Of(cpu: 20)));
    }
}
