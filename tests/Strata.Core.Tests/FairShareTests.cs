using Microsoft.Extensions.Time.Testing;
using Strata.Contracts;
using Strata.Core.Quotas;
using Strata.Core.Runtime;
using Strata.Core.Scheduling;

namespace Strata.Core.Tests;

/// <summary>Fair sharing between tenants (weighted DRF), quotas, gangs and preemption, with a fake clock.</summary>
public sealed class FairShareTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 1, 1, 12, 0, 0, TimeSpan.Zero));

    private SchedulingPlan Plan(
        ResourceRequest capacity,
        IEnumerable<PendingJob> pending,
        IEnumerable<RunningJob>? running = null,
        Dictionary<string, QuotaLimits>? quotas = null) =>
        SchedulingPolicy.Plan(new SchedulingSnapshot
        {
            Pending = pending.Order(PendingJobOrder.Instance).ToList(),
            Running = running?.ToList() ?? [],
            Capacity = capacity,
            Quotas = quotas ?? [],
            Now = _time.GetUtcNow(),
        });

    private static string[] Ids(IEnumerable<PendingJob> jobs) => jobs.Select(j => j.JobId).ToArray();

    private static PendingReason ReasonOf(SchedulingPlan plan, string jobId) => plan.Waiting.Single(w => w.Job.JobId == jobId).Reason;

    private static QuotaLimits Quota(double cpu = 1000, double memoryGb = 1000, int gpus = 100, int maxRunning = 1000, double weight = 1) =>
        new(ResourceRequest.FromGb(cpu, memoryGb, gpus), maxRunning, 1000, Weight: weight);

    [Fact]
    public void Admits_the_tenant_with_the_lowest_dominant_share_first()
    {
        // 8 cores: team-a already runs 4, team-b nothing; the 2 free cores go to team-b although team-a asked first.
        var plan = Plan(Free.Of(cpu: 6),
            [TestJob.For("team-a").Id("a").Sequence(1).Cpu(2), TestJob.For("team-b").Id("b").Sequence(2).Cpu(2)],
            [TestJob.For("team-a").Id("a-running").Cpu(4).Running()]);

        Assert.Equal(["b"], Ids(plan.Admitted));
    }

    [Theory]
    // Capacity 8 cores / 16 GB. team-a runs 1 core and 12 GB (share 0.75 by memory), team-b 4 cores and 1 GB (share 0.5 by cores).
    [InlineData(1.0, 1.0, "b")]
    // Weight 2 halves team-a's share to 0.375: it is now the one below its fair share.
    [InlineData(2.0, 1.0, "a")]
    // Weight 2 for team-b: 0.25 against 0.75.
    [InlineData(1.0, 2.0, "b")]
    // Equal weighted shares (0.75 / 1.5 = 0.5): the older job goes first.
    [InlineData(1.5, 1.0, "a")]
    public void The_dominant_resource_and_the_weights_decide_who_goes_next(double weightA, double weightB, string expected)
    {
        // 3 cores and 3 GB free: room for one of the two 2 GB jobs.
        var plan = Plan(Free.Of(cpu: 8, memoryGb: 16),
            [TestJob.For("team-a").Id("a").Sequence(1).Cpu(1).MemoryGb(2), TestJob.For("team-b").Id("b").Sequence(2).Cpu(1).MemoryGb(2)],
            [TestJob.For("team-a").Id("a-run").Cpu(1).MemoryGb(12).Running(), TestJob.For("team-b").Id("b-run").Cpu(4).MemoryGb(1).Running()],
            new() { ["team-a"] = Quota(weight: weightA), ["team-b"] = Quota(weight: weightB) });

        Assert.Equal([expected], Ids(plan.Admitted));
    }

    [Fact]
    public void Shares_are_recomputed_after_each_admission_so_equal_tenants_alternate()
    {
        var pending = Enumerable.Range(0, 6).SelectMany(i => new PendingJob[]
        {
            TestJob.For("team-a").Id($"a{i}").Sequence(i * 2),
            TestJob.For("team-b").Id($"b{i}").Sequence(i * 2 + 1),
        });

        var plan = Plan(Free.Of(cpu: 6), pending);

        Assert.Equal(["a0", "b0", "a1", "b1", "a2", "b2"], Ids(plan.Admitted));
    }

    [Fact]
    public void A_small_tenant_is_not_starved_behind_a_large_one()
    {
        // team-big queued 1,000 jobs first and already runs 6 of 8 cores; team-small's one job, submitted last, goes next.
        var pending = Enumerable.Range(0, 1000).Select(i => (PendingJob)TestJob.For("team-big").Id($"big-{i}").Sequence(i))
            .Append(TestJob.For("team-small").Id("small").Sequence(5000));
        var running = Enumerable.Range(0, 6).Select(i => TestJob.For("team-big").Id($"big-run-{i}").Running());

        var plan = Plan(Free.Of(cpu: 8), pending, running);

        Assert.Equal(["small", "big-0"], Ids(plan.Admitted));
    }

    [Fact]
    public void Within_a_tenant_higher_priority_goes_first_whatever_its_age()
    {
        var plan = Plan(Free.Of(cpu: 2),
        [
            TestJob.For("team-a").Id("old-low").Sequence(1).Priority(-10),
            TestJob.For("team-a").Id("new-high").Sequence(9).Priority(50),
            TestJob.For("team-a").Id("mid").Sequence(5),
        ]);

        Assert.Equal(["new-high", "mid"], Ids(plan.Admitted));
    }

    [Theory]
    [InlineData(3, false)]
    [InlineData(4, true)]
    [InlineData(8, true)]
    public void A_distributed_job_is_admitted_with_all_its_workers_or_not_at_all(int freeCores, bool admitted)
    {
        var plan = Plan(Free.Of(cpu: freeCores), [TestJob.For("team-a").Id("gang").Workers(4).Cpu(1)]);

        Assert.Equal(admitted ? ["gang"] : [], Ids(plan.Admitted));
        if (!admitted) Assert.Equal(PendingReason.WaitingForCapacity, ReasonOf(plan, "gang"));
    }

    [Fact]
    public void A_gang_that_does_not_fit_leaves_the_room_to_a_smaller_job_and_takes_no_part_of_it()
    {
        var plan = Plan(Free.Of(cpu: 3),
            [TestJob.For("team-a").Id("gang").Sequence(1).Workers(4).Cpu(1), TestJob.For("team-b").Id("single").Sequence(2).Cpu(3)]);

        Assert.Equal(["single"], Ids(plan.Admitted));
        Assert.Equal(PendingReason.WaitingForCapacity, ReasonOf(plan, "gang"));
    }

    public static TheoryData<string, bool, double, double, PendingReason?> QuotaOrCapacity => new()
    {
        // case, holds quota, quota cores, free cores, reason (null: admitted)
        { "fits both", true, 8, 8, null },
        { "within quota, no capacity", true, 8, 1, PendingReason.WaitingForCapacity },
        { "queued beyond quota, capacity free", false, 3, 8, PendingReason.WaitingForQuota },
        { "queued beyond quota and no capacity: the quota is named", false, 3, 1, PendingReason.WaitingForQuota },
        { "queued, the quota has room now", false, 8, 8, null },
        { "queued, the quota has room but not the capacity", false, 8, 1, PendingReason.WaitingForCapacity },
    };

    [Theory]
    [MemberData(nameof(QuotaOrCapacity))]
    public void A_job_waits_for_quota_or_for_capacity_whichever_it_lacks(string @case, bool holdsQuota, double quotaCores, double freeCores, PendingReason? reason)
    {
        // team-a runs 2 cores; the pending job asks for 2 more.
        var job = TestJob.For("team-a").Id("job").Cpu(2);
        if (!holdsQuota) job.BeyondQuota();

        var plan = Plan(Free.Of(cpu: freeCores + 2), [job], [TestJob.For("team-a").Id("running").Cpu(2).Running()],
            new() { ["team-a"] = Quota(cpu: quotaCores) });

        Assert.True(reason is null ? plan.Admitted.Count == 1 : ReasonOf(plan, "job") == reason, @case);
    }

    [Fact]
    public void Jobs_queued_beyond_the_quota_start_one_by_one_as_the_quota_allows()
    {
        var plan = Plan(Free.Of(cpu: 16),
        [
            TestJob.For("team-a").Id("first").Sequence(1).Cpu(2).BeyondQuota(),
            TestJob.For("team-a").Id("second").Sequence(2).Cpu(2).BeyondQuota(),
            TestJob.For("team-a").Id("small").Sequence(3).Cpu(1).BeyondQuota(),
        ], quotas: new() { ["team-a"] = Quota(cpu: 3) });

        Assert.Equal(["first", "small"], Ids(plan.Admitted));
        Assert.Equal(PendingReason.WaitingForQuota, ReasonOf(plan, "second"));
    }

    [Fact]
    public void Max_running_jobs_holds_back_a_job_that_capacity_and_resources_allow()
    {
        var plan = Plan(Free.Of(cpu: 16),
            [TestJob.For("team-a").Id("a1").Sequence(1), TestJob.For("team-a").Id("a2").Sequence(2), TestJob.For("team-b").Id("b1").Sequence(3)],
            [TestJob.For("team-a").Id("running").Running()],
            new() { ["team-a"] = Quota(maxRunning: 2) });

        Assert.Equal(["a1", "b1"], Ids(plan.Admitted).Order());
        Assert.Equal(PendingReason.WaitingForQuota, ReasonOf(plan, "a2"));
    }

    [Fact]
    public void A_waiting_high_priority_job_preempts_the_lowest_priority_and_newest_running_jobs_of_its_tenant()
    {
        var plan = Plan(Free.Of(cpu: 4),
            [TestJob.For("team-a").Id("urgent").Priority(100).Cpu(2)],
            [
                TestJob.For("team-a").Id("low-old").Priority(0).Sequence(1).Running(),
                TestJob.For("team-a").Id("low-new").Priority(0).Sequence(2).Running(),
                TestJob.For("team-a").Id("lowest").Priority(-5).Sequence(0).Running(),
                TestJob.For("team-a").Id("same").Priority(100).Sequence(3).Running(),
            ]);

        var preemption = Assert.Single(plan.Preemptions);
        Assert.Equal("urgent", preemption.For.JobId);
        Assert.Equal(["lowest", "low-new"], preemption.Victims.Select(v => v.JobId));
        Assert.Equal(PendingReason.WaitingForCapacity, ReasonOf(plan, "urgent"));
    }

    public static TheoryData<string, PendingJob, RunningJob[], bool> PreemptionCases => new()
    {
        // case, the waiting job, what runs (capacity 4 cores, all taken), preempts?
        { "equal priority never preempts", TestJob.For("team-a").Id("w").Priority(0).Cpu(2), [TestJob.For("team-a").Cpu(4).Running()], false },
        { "another tenant's jobs are never preempted", TestJob.For("team-a").Id("w").Priority(100).Cpu(2), [TestJob.For("team-b").Cpu(4).Priority(-100).Running()], false },
        { "not enough even with every lower-priority job stopped: none is", TestJob.For("team-a").Id("w").Priority(100).Cpu(3),
            [TestJob.For("team-a").Cpu(2).Priority(0).Running(), TestJob.For("team-b").Cpu(2).Priority(0).Running()], false },
        { "a lower-priority job of the tenant makes room", TestJob.For("team-a").Id("w").Priority(1).Cpu(2),
            [TestJob.For("team-a").Cpu(2).Priority(0).Running(), TestJob.For("team-b").Cpu(2).Priority(0).Running()], true },
        { "a retry in its backoff does not preempt", TestJob.For("team-a").Id("w").Priority(100).Cpu(2).NotBefore(DateTimeOffset.MaxValue),
            [TestJob.For("team-a").Cpu(4).Priority(0).Running()], false },
    };

    [Theory]
    [MemberData(nameof(PreemptionCases))]
    public void Preemption_stops_only_lower_priority_jobs_of_the_same_tenant_and_only_when_that_is_enough(
        string @case, PendingJob waiting, RunningJob[] running, bool preempts)
    {
        var plan = Plan(Free.Of(cpu: 4), [waiting], running);

        Assert.True(preempts == (plan.Preemptions.Count == 1), @case);
    }

    [Fact]
    public void While_preempted_jobs_stop_no_more_are_preempted_and_no_lower_priority_job_takes_the_room()
    {
        var plan = Plan(Free.Of(cpu: 4),
            [TestJob.For("team-a").Id("urgent").Priority(100).Cpu(2), TestJob.For("team-a").Id("filler").Priority(0).Cpu(1)],
            [TestJob.For("team-a").Id("stopping").Priority(0).Cpu(2).Running(stopping: true), TestJob.For("team-a").Id("other").Priority(0).Cpu(1).Running()]);

        Assert.Empty(plan.Preemptions);
        Assert.Empty(plan.Admitted);
        Assert.Equal(PendingReason.WaitingForCapacity, ReasonOf(plan, "filler"));
    }

    [Fact]
    public void Every_job_is_either_admitted_or_waiting_exactly_once_and_admissions_fit_the_capacity_and_the_quotas()
    {
        var random = new Random(7);
        var jobs = Enumerable.Range(0, 500)
            .Select(i =>
            {
                var job = TestJob.For($"team-{i % 7}").Id($"job-{i}").Sequence(i).Cpu(1 + random.Next(4)).MemoryGb(1 + random.Next(8)).Priority(random.Next(3));
                if (i % 3 == 0) job.BeyondQuota();
                return job.Build();
            })
            .ToArray();
        var quotas = Enumerable.Range(0, 7).ToDictionary(i => $"team-{i}", i => Quota(cpu: 4 + i * 3, weight: 1 + i % 2));

        var plan = Plan(Free.Of(cpu: 40, memoryGb: 100), jobs, quotas: quotas);

        var seen = Ids(plan.Admitted).Concat(Ids(plan.Waiting.Select(w => w.Job))).ToList();
        Assert.Equal(jobs.Length, seen.Distinct().Count());
        Assert.Equal(jobs.Length, seen.Count);
        Assert.True(plan.Admitted.Aggregate(default(ResourceRequest), (sum, j) => sum + j.Request).FitsIn(Free.Of(cpu: 40, memoryGb: 100)));
        foreach (var tenant in quotas.Keys)
        {
            var held = jobs.Where(j => j.TenantId == tenant && j.HoldsQuota).Concat(plan.Admitted.Where(j => j.TenantId == tenant && !j.HoldsQuota))
                .Aggregate(default(ResourceRequest), (sum, j) => sum + j.Request);
            var admittedBeyond = plan.Admitted.Any(j => j.TenantId == tenant && !j.HoldsQuota);
            Assert.True(!admittedBeyond || held.CpuCores <= quotas[tenant].Resources.CpuCores, $"{tenant} went over its quota");
        }
    }
}
