using Microsoft.Extensions.Time.Testing;
using Strata.Contracts;
using Strata.Core.Quotas;
using Strata.Core.Runtime;
using Strata.Core.Scheduling;
using Strata.Server.Queue;

namespace Strata.Server.Tests.Queue;

/// <summary>
/// <see cref="JobQueue"/> as the coordinator of the queue, the quota ledger and the capacity book: what one
/// event changes in each of them (each on its own is tested in Strata.Core.Tests).
/// </summary>
public sealed class JobQueueTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(Start);
    private readonly JobQueue _queue;
    private long _sequence;

    public JobQueueTests() => _queue = new JobQueue(_time);

    private static QuotaLimits Quota(double cpu = 8, int maxPending = 100, bool queue = false) =>
        new(ResourceRequest.FromGb(cpu, 64, 0), MaxRunningJobs: 100, MaxPendingJobs: maxPending, QueueWhenExceeded: queue);

    private PendingJob Job(string id, double cpu, string tenant = "team-a", int priority = 0) =>
        new(id, tenant, priority, ++_sequence, ResourceRequest.FromGb(cpu, 1, 0));

    /// <summary>Reserves for the job and, unless refused, stores it: what <c>JobService</c> does on a submission.</summary>
    private Reservation Submit(PendingJob job, QuotaLimits limits)
    {
        var answer = _queue.Reserve(job.TenantId, job.JobId, job.Request, limits, limits.QueueWhenExceeded, out _);
        if (answer != Reservation.Refused) _queue.Accept(job, Start);
        return answer;
    }

    [Theory]
    // Cores a first job takes of an 8-core quota, cores a second asks for; its answer, and the reason and position it is described with.
    [InlineData(2, 4, Reservation.Held, PendingReason.WaitingForCapacity)]
    [InlineData(6, 4, Reservation.Queued, PendingReason.WaitingForQuota)]
    public void A_stored_submission_joins_the_queue_holding_what_it_reserved(double first, double second, Reservation expected, PendingReason reason)
    {
        Submit(Job("first", first), Quota(queue: true));

        Assert.Equal(expected, Submit(Job("second", second), Quota(queue: true)));

        Assert.Equal<(PendingReason?, int?)>((reason, 2), _queue.Describe("second"));
        var held = expected == Reservation.Held;
        Assert.Equal(held, _queue.Snapshot().Single(j => j.JobId == "second").HoldsQuota);
        var use = _queue.QuotaUse("team-a");
        Assert.Equal(first + (held ? second : 0), use.Held.CpuCores, 9);
        Assert.Equal(use.Held, use.HeldByPending);
        Assert.Equal(2, use.Pending);
        Assert.Equal(held ? 0 : 1, use.WaitingForQuota);
    }

    [Theory]
    // Jobs queued, submissions reserved and not yet stored, the pending-jobs limit: whether the next submission is refused.
    [InlineData(1, 0, 2, false)]
    [InlineData(1, 1, 2, true)]
    [InlineData(2, 0, 2, true)]
    public void The_pending_jobs_limit_counts_queued_jobs_and_those_being_stored(int queued, int beingStored, int maxPending, bool refused)
    {
        for (var i = 0; i < queued; i++) Submit(Job($"queued-{i}", 0.5), Quota());
        for (var i = 0; i < beingStored; i++) _queue.Reserve("team-a", $"storing-{i}", ResourceRequest.FromGb(0.5, 1, 0), Quota(), false, out _);

        var answer = _queue.Reserve("team-a", "next", ResourceRequest.FromGb(0.5, 1, 0), Quota(maxPending: maxPending), true, out var excess);

        Assert.Equal(refused ? Reservation.Refused : Reservation.Held, answer);
        Assert.Equal(refused ? QuotaResource.MaxPendingJobs : null, excess?.Resource);
    }

    [Fact]
    public void A_cancelled_reservation_leaves_no_trace()
    {
        _queue.Reserve("team-a", "lost", ResourceRequest.FromGb(4, 1, 0), Quota(maxPending: 1), false, out _);

        _queue.CancelReservation("team-a", "lost");

        Assert.Equal(default, _queue.QuotaUse("team-a"));
        Assert.Equal(Reservation.Held, Submit(Job("next", 8), Quota(maxPending: 1)));
    }

    [Theory]
    // Cores another job of team-a holds when a job queued beyond an 8-core quota (4 cores) is admitted: whether the admission stands.
    [InlineData(4, true)]
    [InlineData(5, false)]
    public void A_job_queued_beyond_its_quota_takes_its_quota_when_admitted_if_there_is_room(double otherCores, bool admitted)
    {
        Submit(Job("other", 6), Quota(queue: true));
        var beyond = Job("beyond", 4);
        Assert.Equal(Reservation.Queued, Submit(beyond, Quota(queue: true)));
        _queue.ReleaseQuota("other");
        _queue.Remove("other");
        _queue.TryHold("team-a", "other-running", ResourceRequest.FromGb(otherCores, 1, 0), limits: null);

        Assert.Equal(admitted, _queue.TryAdmit(beyond, Quota()));

        Assert.Equal(!admitted, _queue.Contains("beyond"));
        Assert.Equal(otherCores + (admitted ? 4 : 0), _queue.QuotaUse("team-a").Held.CpuCores, 9);
    }

    [Fact]
    public void A_job_that_holds_its_quota_keeps_holding_it_when_it_is_queued_again()
    {
        var job = Job("a", 2);
        Submit(job, Quota());
        Assert.True(_queue.TryAdmit(job, Quota()));
        Assert.False(_queue.TryAdmit(job, Quota()));

        // A retry (or a preempted job) comes back to the queue: it still holds what it took.
        _queue.Enqueue(job with { HoldsQuota = false, NotBefore = Start.AddSeconds(30) });

        Assert.True(_queue.Snapshot().Single().HoldsQuota);
        Assert.Equal<(PendingReason?, int?)>((PendingReason.WaitingForRetry, 1), _queue.Describe("a"));
        Assert.Equal(Start.AddSeconds(30), _queue.NextBackoffEnd(Start));
        Assert.Equal(2, _queue.QuotaUse("team-a").Held.CpuCores, 9);
    }

    [Fact]
    public void A_snapshot_has_the_queue_the_live_attempts_and_the_quotas_less_what_deployments_reserve()
    {
        Submit(Job("pending", 1), Quota());
        _queue.Allocate(new AttemptRef("team-a", "running", 1), new RunningJob("running", "team-a", 0, 0, ResourceRequest.FromGb(2, 1, 0)));
        Assert.Null(_queue.ReserveForDeployment("team-a", "serve", ResourceRequest.FromGb(3, 4, 0), 3, Quota()));
        var quotas = new Dictionary<string, QuotaLimits> { ["team-a"] = Quota(), ["team-b"] = Quota() };

        var snapshot = _queue.TakeSnapshot(ResourceRequest.FromGb(16, 64, 0), quotas, Start);

        Assert.Equal(["pending"], snapshot.Pending.Select(j => j.JobId).ToArray());
        Assert.Equal(["running"], snapshot.Running.Select(j => j.JobId).ToArray());
        Assert.Equal(ResourceRequest.FromGb(5, 60, 0), snapshot.Quotas["team-a"].Resources);
        Assert.Equal(Quota(), snapshot.Quotas["team-b"]);
        Assert.Equal(ResourceRequest.FromGb(2, 1, 0), _queue.Allocated);
    }

    [Fact]
    public void Quota_use_gathers_jobs_attempts_and_deployments_and_removing_the_tenant_leaves_only_its_live_attempts()
    {
        Submit(Job("pending", 1), Quota());
        _queue.Allocate(new AttemptRef("team-a", "running", 1), new RunningJob("running", "team-a", 0, 0, ResourceRequest.FromGb(2, 1, 0)));
        _queue.TryHold("team-a", "running", ResourceRequest.FromGb(2, 1, 0), limits: null);
        _queue.ReserveForDeployment("team-a", "serve", ResourceRequest.FromGb(3, 0, 0), 3, limits: null);

        Assert.Equal(new TenantQuotaUse(ResourceRequest.FromGb(6, 2, 0), ResourceRequest.FromGb(1, 1, 0), 1, 1, 0, 1, 3, Reserved: ResourceRequest.FromGb(3, 0, 0)), _queue.QuotaUse("team-a"));

        _queue.RemoveTenant("team-a");

        Assert.Equal(new TenantQuotaUse(default, default, 1, 0, 0, 0, 0), _queue.QuotaUse("team-a"));
        Assert.Equal(0, _queue.PendingCount);
        Assert.Equal(ResourceRequest.FromGb(2, 1, 0), _queue.Allocated);
        _queue.Release("running-1");
        Assert.Equal(default, _queue.QuotaUse("team-a"));
    }

    [Theory]
    // A pending job's priority against a running job's of the same tenant, and whether that running job is being stopped.
    [InlineData(5, 0, false, true)]
    [InlineData(5, 0, true, false)]
    [InlineData(0, 5, false, false)]
    public void A_preemption_may_be_decided_only_when_a_pending_job_outranks_a_running_one(int pendingPriority, int runningPriority, bool stopping, bool expected)
    {
        Submit(Job("pending", 1, priority: pendingPriority), Quota());
        _queue.Allocate(new AttemptRef("team-a", "running", 1), new RunningJob("running", "team-a", runningPriority, 0, ResourceRequest.FromGb(2, 1, 0)));
        if (stopping) Assert.Equal(new AttemptRef("team-a", "running", 1), _queue.MarkStopping("running"));

        Assert.Equal(expected, _queue.MayPreempt());
    }
}
