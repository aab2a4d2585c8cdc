using Strata.Contracts;
using Strata.Core.Quotas;
using Strata.Core.Runtime;

namespace Strata.Core.Tests;

/// <summary>Who holds what of a tenant's quota: submissions, jobs and deployments.</summary>
public sealed class QuotaLedgerTests
{
    private readonly QuotaLedger _ledger = new();

    private static QuotaLimits Quota(double cpu = 8, double memoryGb = 32, int gpus = 2, int maxPending = 100) =>
        new(ResourceRequest.FromGb(cpu, memoryGb, gpus), MaxRunningJobs: 100, MaxPendingJobs: maxPending);

    private static ResourceRequest Cpu(double cores) => ResourceRequest.FromGb(cores, 0, 0);

    private Reservation Reserve(string jobId, ResourceRequest request, QuotaLimits? limits = null, int pending = 0, bool queue = false, string tenant = "team-a") =>
        _ledger.Reserve(tenant, jobId, request, limits ?? Quota(), pending, queue, out _);

    [Theory]
    // Cores held already, cores asked for, the submission's choice when it does not fit, the answer.
    [InlineData(0, 2, false, Reservation.Held)]
    [InlineData(6, 2, false, Reservation.Held)]
    [InlineData(7, 2, false, Reservation.Refused)]
    [InlineData(7, 2, true, Reservation.Queued)]
    [InlineData(0, 9, true, Reservation.Queued)]
    public void A_submission_is_held_queued_or_refused_by_what_its_tenant_holds_already(double heldCores, double askedCores, bool queue, Reservation expected)
    {
        _ledger.TryHold("team-a", "running", Cpu(heldCores), limit: null);

        var answer = _ledger.Reserve("team-a", "new", Cpu(askedCores), Quota(cpu: 8), 0, queue, out var excess);

        Assert.Equal(expected, answer);
        Assert.Equal(expected == Reservation.Held, _ledger.Holds("new"));
        Assert.Equal(expected == Reservation.Held ? null : QuotaResource.CpuCores, excess?.Resource);
        Assert.Equal(heldCores + (expected == Reservation.Held ? askedCores : 0), _ledger.Of("team-a").Held.CpuCores, 9);
    }

    [Theory]
    // Quota: 8 cores, 32 GB, 2 GPUs; held: 4 cores, 16 GB, 1 GPU. The first resource over its limit is named, with what is used and asked.
    [InlineData(5, 1, 0, QuotaResource.CpuCores, 8, 4, 5)]
    [InlineData(1, 17, 0, QuotaResource.MemoryGb, 32, 16, 17)]
    [InlineData(1, 1, 2, QuotaResource.GpuCount, 2, 1, 2)]
    [InlineData(5, 17, 2, QuotaResource.CpuCores, 8, 4, 5)]
    [InlineData(1, 17, 2, QuotaResource.MemoryGb, 32, 16, 17)]
    public void Quota_exceeded_names_the_first_resource_over_its_limit(
        double cpu, double memoryGb, int gpus, QuotaResource resource, double limit, double used, double requested)
    {
        _ledger.TryHold("team-a", "running", ResourceRequest.FromGb(4, 16, 1), limit: null);

        var answer = _ledger.Reserve("team-a", "new", ResourceRequest.FromGb(cpu, memoryGb, gpus), Quota(), 0, false, out var excess);

        Assert.Equal(Reservation.Refused, answer);
        Assert.Equal(new QuotaExcess(resource, limit, used, requested), excess!.Value with { Holders = null });
    }

    [Fact]
    public void Quota_exceeded_says_which_jobs_and_deployments_hold_what_is_used()
    {
        _ledger.ReserveForDeployment("team-a", "churn", Cpu(2), replicas: 2, limit: null);
        _ledger.ReserveForDeployment("team-a", "small", Cpu(0.5), replicas: 1, limit: null);
        _ledger.ReserveForDeployment("team-b", "other", Cpu(4), replicas: 1, limit: null);
        _ledger.TryHold("team-a", "running", Cpu(1), limit: null);
        _ledger.TryHold("team-a", "memory-only", ResourceRequest.FromGb(0, 1, 0), limit: null);

        _ledger.Reserve("team-a", "new", Cpu(2), Quota(cpu: 4), 0, false, out var excess);

        var holders = excess!.Value.Holders!;
        Assert.Equal((1.0, 1), (holders.Jobs, holders.JobCount));
        Assert.Equal([("churn", 2.0), ("small", 0.5)], holders.Deployments);
        Assert.Equal("cpu_cores: the quota is 4, 3.5 in use (2 by deployment churn, 0.5 by deployment small, 1 by 1 job), and 2 more was asked for",
            excess.Value.Describe());

        // A deployment asking for more is not its own holder: what it reserves now is being replaced.
        var grown = _ledger.ReserveForDeployment("team-a", "churn", Cpu(4), replicas: 4, Quota(cpu: 4).Resources);
        Assert.Equal([("small", 0.5)], grown!.Value.Holders!.Deployments);
    }

    [Theory]
    // Jobs queued, submissions being written, the pending-jobs limit, and whether a queueing submission is refused.
    [InlineData(0, 0, 1, false)]
    [InlineData(1, 0, 1, true)]
    [InlineData(0, 1, 1, true)]
    [InlineData(2, 1, 4, false)]
    [InlineData(2, 2, 4, true)]
    public void The_pending_jobs_limit_counts_queued_jobs_and_submissions_being_written_and_no_queue_gets_round_it(
        int queued, int writing, int maxPending, bool refused)
    {
        for (var i = 0; i < writing; i++) Reserve($"writing-{i}", Cpu(0.1));

        var answer = _ledger.Reserve("team-a", "new", Cpu(0.1), Quota(maxPending: maxPending), queued, true, out var excess);

        Assert.Equal(refused ? Reservation.Refused : Reservation.Held, answer);
        Assert.Equal(refused ? new QuotaExcess(QuotaResource.MaxPendingJobs, maxPending, queued + writing, 1) : null, excess);
    }

    [Theory]
    // What happens to a held submission of 2 cores after it is reserved: its write fails, or it is stored (and then ends).
    [InlineData("being-written", 2, true)]
    [InlineData("cancelled", 0, false)]
    [InlineData("written", 2, false)]
    [InlineData("written-then-ended", 0, false)]
    public void A_submission_counts_as_pending_until_written_and_holds_its_quota_until_cancelled_or_released(string outcome, double heldCores, bool stillPending)
    {
        Reserve("job-1", Cpu(2));
        switch (outcome)
        {
            case "cancelled": _ledger.CancelReservation("team-a", "job-1"); break;
            case "written": _ledger.Written("team-a"); break;
            case "written-then-ended": _ledger.Written("team-a"); _ledger.Release("job-1"); break;
        }

        Assert.Equal(heldCores, _ledger.Of("team-a").Held.CpuCores, 9);
        // A written job counts as pending in the queue from then on (the caller passes it), no longer here.
        Assert.Equal(stillPending ? Reservation.Refused : Reservation.Held, Reserve("probe", Cpu(0), Quota(maxPending: 1)));
    }

    [Theory]
    // Cores the tenant holds, cores the job asks for, the limit (null: none), whether it is held.
    [InlineData(0, 8, 8.0, true)]
    [InlineData(1, 8, 8.0, false)]
    [InlineData(100, 8, null, true)]
    public void TryHold_holds_when_the_request_fits_or_when_there_is_no_limit(double heldCores, double askedCores, double? limitCores, bool held)
    {
        _ledger.TryHold("team-a", "running", Cpu(heldCores), limit: null);

        var answer = _ledger.TryHold("team-a", "new", Cpu(askedCores), limitCores is { } l ? Cpu(l) : null);

        Assert.Equal(held, answer);
        Assert.Equal(held, _ledger.Holds("new"));
    }

    [Fact]
    public void Holding_and_releasing_are_idempotent()
    {
        _ledger.TryHold("team-a", "job-1", Cpu(2), limit: null);
        _ledger.TryHold("team-a", "job-1", Cpu(2), limit: null);
        Assert.Equal(2, _ledger.Of("team-a").Held.CpuCores, 9);

        _ledger.Release("job-1");
        _ledger.Release("job-1");
        _ledger.Release("never-held");
        Assert.Equal(0, _ledger.Of("team-a").Held.CpuCores, 9);
        Assert.False(_ledger.Holds("job-1"));
    }

    [Theory]
    // Quota 8 cores. A deployment reserves some, a job holds some, then the job asks for more: whether it fits.
    [InlineData(4, 2, 2, true)]
    [InlineData(4, 2, 3, false)]
    [InlineData(0, 6, 2, true)]
    [InlineData(8, 0, 0.5, false)]
    public void Jobs_fit_in_what_deployments_leave_of_the_quota(double deploymentCores, double jobCores, double askedCores, bool fits)
    {
        Assert.Null(_ledger.ReserveForDeployment("team-a", "serve", Cpu(deploymentCores), 2, Cpu(8)));
        _ledger.TryHold("team-a", "job-1", Cpu(jobCores), limit: null);

        Assert.Equal(fits ? Reservation.Held : Reservation.Refused, Reserve("job-2", Cpu(askedCores), Quota(cpu: 8)));
    }

    [Theory]
    // Quota 8 cores; a job holds 2 and the deployment reserves 4 on 2 replicas. It then asks for some cores on some replicas.
    [InlineData(6, 3, true, 8, 6)]
    [InlineData(7, 4, false, 6, 4)]
    [InlineData(1, 1, true, 3, 1)]
    public void A_deployment_s_new_reservation_replaces_its_old_one_only_when_it_fits(
        double askedCores, int replicas, bool fits, double heldAfter, double reservedAfter)
    {
        _ledger.TryHold("team-a", "job-1", Cpu(2), limit: null);
        _ledger.ReserveForDeployment("team-a", "serve", Cpu(4), 2, Cpu(8));

        var excess = _ledger.ReserveForDeployment("team-a", "serve", Cpu(askedCores), replicas, Cpu(8));

        Assert.Equal(fits, excess is null);
        Assert.Equal(fits ? null : QuotaResource.CpuCores, excess?.Resource);
        var held = _ledger.Of("team-a");
        Assert.Equal(heldAfter, held.Held.CpuCores, 9);
        Assert.Equal(reservedAfter, held.Reserved.CpuCores, 9);
        Assert.Equal(1, held.Deployments);
        Assert.Equal(fits ? replicas : 2, held.Replicas);
    }

    [Fact]
    public void Releasing_a_deployment_frees_its_reservation_once_and_leaves_the_tenant_s_jobs_and_other_deployments()
    {
        _ledger.TryHold("team-a", "job-1", Cpu(1), limit: null);
        _ledger.ReserveForDeployment("team-a", "serve", Cpu(2), 2, limit: null);
        _ledger.ReserveForDeployment("team-a", "other", Cpu(3), 1, limit: null);
        // The same name under another tenant is another deployment.
        _ledger.ReserveForDeployment("team-b", "serve", Cpu(4), 4, limit: null);

        _ledger.ReleaseDeployment("team-a", "serve");
        _ledger.ReleaseDeployment("team-a", "serve");

        Assert.Equal(new QuotaHeld(Cpu(4), Cpu(3), 1, 1), _ledger.Of("team-a"));
        Assert.Equal(new QuotaHeld(Cpu(4), Cpu(4), 1, 4), _ledger.Of("team-b"));
    }

    [Fact]
    public void The_jobs_share_of_a_quota_is_the_quota_less_what_deployments_reserve()
    {
        var quotas = new Dictionary<string, QuotaLimits> { ["team-a"] = Quota(cpu: 8), ["team-b"] = Quota(cpu: 8) };
        Assert.Same(quotas, _ledger.JobsShare(quotas));

        _ledger.ReserveForDeployment("team-a", "serve", ResourceRequest.FromGb(3, 4, 1), 1, limit: null);
        _ledger.TryHold("team-b", "job-1", Cpu(5), limit: null);
        var share = _ledger.JobsShare(quotas);

        Assert.Equal(ResourceRequest.FromGb(5, 28, 1), share["team-a"].Resources);
        Assert.Equal(Quota(cpu: 8), share["team-b"]);
        Assert.Equal(Quota(cpu: 8), quotas["team-a"]);
    }

    [Fact]
    public void Removing_a_tenant_forgets_what_it_holds_and_reserves_but_not_its_submissions_being_written()
    {
        _ledger.TryHold("team-a", "job-1", Cpu(1), limit: null);
        _ledger.ReserveForDeployment("team-a", "serve", Cpu(2), 2, limit: null);
        Reserve("writing", Cpu(1));
        _ledger.TryHold("team-b", "job-2", Cpu(1), limit: null);

        _ledger.RemoveTenant("team-a");

        Assert.Equal(default, _ledger.Of("team-a"));
        Assert.False(_ledger.Holds("job-1"));
        Assert.False(_ledger.Holds("writing"));
        Assert.True(_ledger.Holds("job-2"));
        Assert.Equal(Reservation.Refused, Reserve("next", Cpu(1), Quota(maxPending: 1)));
        _ledger.CancelReservation("team-a", "writing");
        Assert.Equal(Reservation.Held, Reserve("next", Cpu(1), Quota(maxPending: 1)));
    }

    [Fact]
    public void Each_quota_resource_has_the_name_the_api_spells_and_every_name_has_a_resource()
    {
        var names = Enum.GetValues<QuotaResource>().Select(r => r.Name()).ToList();

        Assert.Equal(QuotaResources.All, names);
        Assert.All(Enum.GetValues<QuotaResource>(), r => Assert.Equal(System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(r.ToString()), r.Name()));
    }
}
