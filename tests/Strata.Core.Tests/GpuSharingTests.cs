using System.Text.Json;
using Strata.Contracts;
using Strata.Core.Jobs;
using Strata.Core.Quotas;
using Strata.Core.Runtime;
using Strata.Core.Scheduling;
using Strata.Core.Usage;

namespace Strata.Core.Tests;

/// <summary>
/// Shares of a GPU (<c>compute.gpu_fraction</c>) and GPUs by type: the placement rule, the arithmetic of capacity
/// and quota in thousandths, the scheduler's per-device check, validation, samples and the hint.
/// </summary>
public sealed class GpuSharingTests
{
    private static readonly GpuDevice A100 = new(0, "GPU-a", "NVIDIA A100-SXM4-80GB", 81920);
    private static readonly GpuDevice A100b = new(1, "GPU-b", "NVIDIA A100-SXM4-80GB", 81920);
    private static readonly GpuDevice V100 = new(2, "GPU-v", "Tesla V100-SXM2-16GB", 16384);

    private static GpuDemand Share(double fraction, string? type = null) => new(1, ResourceRequest.MilliOf(fraction), type);
    private static GpuDemand Whole(int devices, string? type = null) => new(devices, ResourceRequest.MilliPerGpu, type);

    [Fact]
    public void Shares_pack_onto_the_fullest_shared_device_before_an_unused_one()
    {
        var pool = new GpuPool([A100, A100b]);
        // Four quarters fill the first device, the fifth opens the second.
        for (var i = 0; i < 4; i++) Assert.Equal([A100], pool.TryPlace(Share(0.25)));
        Assert.Equal(1000, pool.UsedOf("GPU-a"));
        Assert.Equal([A100b], pool.TryPlace(Share(0.25)));
        // A half goes where it fits: the second device (0.25 used) has room, the full one has none.
        Assert.Equal([A100b], pool.TryPlace(Share(0.5)));
        // Now neither has 0.5 left, and no whole device is free.
        Assert.Null(pool.Choose(Share(0.5)));
        Assert.Null(pool.Choose(Whole(1)));
        Assert.Equal([A100b], pool.TryPlace(Share(0.25)));
        Assert.Equal(1000, pool.UsedOf("GPU-b"));
    }

    [Fact]
    public void Best_fit_keeps_a_device_whole_for_a_whole_device_job()
    {
        var pool = new GpuPool([A100, A100b]);
        pool.Take("GPU-a", 500);
        pool.Take("GPU-b", 250);
        // The fuller device that still has room is chosen: GPU-a (0.5 used) over GPU-b (0.25 used).
        Assert.Equal([A100], pool.TryPlace(Share(0.25)));
        pool.Give("GPU-b", 250);
        // GPU-b is unused again: a whole-device job gets it, and only it.
        Assert.Equal([A100b], pool.TryPlace(Whole(1)));
        Assert.Null(pool.Choose(Whole(1)));
    }

    [Fact]
    public void Devices_are_matched_by_type()
    {
        var pool = new GpuPool([V100, A100]);
        Assert.Equal([A100], pool.TryPlace(Whole(1, "nvidia-a100")));
        Assert.Null(pool.Choose(Whole(1, "nvidia-a100")));        // the V100 is free, but it is not an A100
        Assert.Null(pool.Choose(Share(0.25, "nvidia-a100")));      // nor is there a shared A100 with room
        Assert.Equal([V100], pool.TryPlace(Share(0.25, "tesla-v100")));
        Assert.Equal([V100], pool.TryPlace(Share(0.25)));          // any type: the shared device first
    }

    [Fact]
    public void A_demand_is_whole_devices_or_a_share_of_one()
    {
        Assert.Null(GpuDemand.Of(ResourceRequest.FromGb(1, 1, 0), null));
        Assert.Equal(Whole(2, "a100"), GpuDemand.Of(ResourceRequest.FromGb(1, 1, 1) * 2, "a100"));
        Assert.Equal(Share(0.25), GpuDemand.Of(ResourceRequest.WithMilliGpus(1, 1, 250), null));
        Assert.True(Share(0.25).IsShare);
    }

    [Fact]
    public void Fractions_add_up_exactly_in_capacity_and_quota()
    {
        var quarter = ResourceRequest.WithMilliGpus(1, ResourceRequest.BytesPerGb, 250);
        Assert.Equal(0, quarter.Gpus);            // no whole device
        Assert.Equal(0.25, quarter.GpuCount);
        Assert.Equal(1.0, (quarter * 4).GpuCount);
        Assert.True((quarter * 4).FitsIn(ResourceRequest.FromGb(4, 4, 1)));
        Assert.False((quarter * 5).FitsIn(ResourceRequest.FromGb(8, 8, 1)));

        // A tenant with a quota of one GPU holds four quarters; the fifth is over it.
        var ledger = new QuotaLedger();
        var limits = new QuotaLimits(ResourceRequest.FromGb(100, 100, 1), MaxRunningJobs: 100, MaxPendingJobs: 100);
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(Reservation.Held, ledger.Reserve("t", $"j{i}", quarter, limits, pending: 0, queueWhenExceeded: false, out _));
            ledger.Written("t");
        }
        Assert.Equal(Reservation.Refused, ledger.Reserve("t", "j4", quarter, limits, pending: 0, queueWhenExceeded: false, out var excess));
        Assert.Equal(QuotaResource.GpuCount, excess!.Value.Resource);
        Assert.Equal((1.0, 1.0, 0.25), (excess.Value.Limit, excess.Value.Used, excess.Value.Requested));
        Assert.Equal(1.0, ledger.Of("t").Held.GpuCount);
        ledger.Release("j0");
        Assert.Equal(0.75, ledger.Of("t").Held.GpuCount);
    }

    private static SchedulingPlan Plan(GpuPool? gpus, ResourceRequest capacity, params PendingJob[] jobs) =>
        SchedulingPolicy.Plan(new SchedulingSnapshot { Pending = jobs, Capacity = capacity, Now = DateTimeOffset.UnixEpoch, Gpus = gpus });

    private static PendingJob Job(string id, long milliGpus, string? type = null, long sequence = 0) =>
        new(id, "t", 0, sequence, ResourceRequest.WithMilliGpus(1, ResourceRequest.BytesPerGb, milliGpus)) { GpuType = type };

    [Fact]
    public void A_job_whose_type_has_no_free_device_waits_for_capacity_even_when_gpus_are_free_in_number()
    {
        var pool = new GpuPool([A100, V100]);
        pool.Take("GPU-a", 1000);
        var capacity = ResourceRequest.FromGb(16, 64, 2) - ResourceRequest.FromGb(0, 0, 1);
        var plan = Plan(pool, capacity, Job("wants-a100", 1000, "nvidia-a100", 1), Job("any", 1000, null, 2));
        Assert.Equal(["any"], plan.Admitted.Select(j => j.JobId));
        Assert.Equal(PendingReason.WaitingForCapacity, plan.Waiting.Single().Reason);
        Assert.Equal("wants-a100", plan.Waiting.Single().Job.JobId);
    }

    [Fact]
    public void A_cycle_places_the_shares_it_admits_and_a_fragmented_machine_keeps_a_half_waiting()
    {
        var capacity = ResourceRequest.FromGb(16, 64, 2);
        var plan = Plan(new GpuPool([A100, A100b]), capacity,
            Job("q1", 250, sequence: 1), Job("q2", 250, sequence: 2), Job("q3", 250, sequence: 3), Job("q4", 250, sequence: 4), Job("q5", 250, sequence: 5),
            Job("whole", 1000, sequence: 6));
        // Four quarters fill one device, the fifth shares the other: no device is left whole.
        Assert.Equal(["q1", "q2", "q3", "q4", "q5"], plan.Admitted.Select(j => j.JobId));
        Assert.Equal("whole", plan.Waiting.Single().Job.JobId);

        // 0.75 and 0.75 on two devices leave 0.5 free in all but 0.25 on each: a half does not fit anywhere.
        var fragmented = new GpuPool([A100, A100b]);
        fragmented.Take("GPU-a", 750);
        fragmented.Take("GPU-b", 750);
        var waiting = Plan(fragmented, ResourceRequest.FromGb(16, 64, 2) - ResourceRequest.WithMilliGpus(0, 0, 1500), Job("half", 500));
        Assert.Empty(waiting.Admitted);
        Assert.Equal(PendingReason.WaitingForCapacity, waiting.Waiting.Single().Reason);

        // Without an inventory GPUs are counted only, as before.
        Assert.Equal(["half"], Plan(null, ResourceRequest.FromGb(16, 64, 2) - ResourceRequest.WithMilliGpus(0, 0, 1500), Job("half", 500)).Admitted.Select(j => j.JobId));
    }

    [Fact]
    public void The_book_counts_what_the_runtime_holds_and_places_what_it_has_not_placed_yet()
    {
        var book = new CapacityBook();
        RunningJob Running(string id, long milli, string? type) => new(id, "t", 0, 0, ResourceRequest.WithMilliGpus(1, 1, milli)) { GpuType = type };
        book.Allocate(new AttemptRef("t", "started", 1), Running("started", 1000, null));
        book.Allocate(new AttemptRef("t", "starting", 1), Running("starting", 250, "nvidia-a100"));
        // The runtime placed "started" on the A100 (not where the rule would put it first), and nothing for "starting" yet.
        var pool = book.GpuPool(new GpuOccupancy([V100, A100], [new GpuHolding("started-1", "GPU-a", 1000)]));
        Assert.Equal(1000, pool.UsedOf("GPU-a"));
        // "starting" wants an A100 share and none has room: it is counted nowhere rather than on the V100.
        Assert.Equal(0, pool.UsedOf("GPU-v"));

        var other = book.GpuPool(new GpuOccupancy([V100, A100, A100b], [new GpuHolding("started-1", "GPU-a", 1000)]));
        Assert.Equal(250, other.UsedOf("GPU-b"));
    }

    private static readonly RuntimeCapacity Shares = new(ResourceRequest.FromGb(64, 256, 2), MaxWorkersPerJob: 4, SharesGpus: true);
    private static readonly RuntimeCapacity Whole_only = new(ResourceRequest.FromGb(64, 256, 2), MaxWorkersPerJob: 4);

    private static (ValidatedSpec? Result, IReadOnlyDictionary<string, string[]> Errors) Validate(string compute, RuntimeCapacity capacity, string extra = "")
    {
        var spec = JsonSerializer.Deserialize<TrainingJobSpec>($$"""{"name":"j","entrypoint":"true","compute":{{compute}}{{extra}}}""", StrataJson.Options)!;
        JobSpecValidator.TryValidate(spec, "t", new JobDefaults { CpuCores = 1, MemoryGb = 2 }, new PathPolicy("/tenant", ["/data"]), "/tenant/out", capacity, out var result, out var errors);
        return (result, errors.ToDictionary());
    }

    [Theory]
    [InlineData("0.25", 250)]
    [InlineData("0.5", 500)]
    [InlineData("0.05", 50)]
    [InlineData("0.95", 950)]
    public void A_fraction_in_steps_of_a_twentieth_is_one_device_s_share(string fraction, long milli)
    {
        var (result, errors) = Validate($$"""{"gpu_fraction":{{fraction}}}""", Shares);
        Assert.Empty(errors);
        Assert.Equal(milli, result!.PerWorker.MilliGpus);
        Assert.Equal(ComputeTypes.Gpu, result.Spec.Compute!.Type);
        Assert.Equal(1, result.Spec.Compute.GpuCount);
        Assert.Equal(double.Parse(fraction, System.Globalization.CultureInfo.InvariantCulture), result.Spec.Compute.GpuFraction);
    }

    [Theory]
    [InlineData("""{"gpu_fraction":0}""", "compute.gpu_fraction")]
    [InlineData("""{"gpu_fraction":1}""", "compute.gpu_fraction")]
    [InlineData("""{"gpu_fraction":1.5}""", "compute.gpu_fraction")]
    [InlineData("""{"gpu_fraction":-0.25}""", "compute.gpu_fraction")]
    [InlineData("""{"gpu_fraction":0.33}""", "compute.gpu_fraction")]
    [InlineData("""{"type":"cpu","gpu_fraction":0.5}""", "compute.gpu_fraction")]
    [InlineData("""{"gpu_count":2,"gpu_fraction":0.5}""", "compute.gpu_count")]
    public void A_bad_fraction_is_refused(string compute, string field)
    {
        var (_, errors) = Validate(compute, Shares);
        Assert.Equal([field], errors.Keys);
    }

    [Fact]
    public void A_fraction_is_for_one_worker_and_a_runtime_that_shares_gpus()
    {
        var (_, gang) = Validate("""{"gpu_fraction":0.5}""", Shares, ""","distributed":{"num_workers":2}""");
        Assert.Equal(["compute.gpu_fraction"], gang.Keys);
        var (_, kubernetes) = Validate("""{"gpu_fraction":0.5}""", Whole_only);
        Assert.Contains("time-slicing device plugin", Assert.Single(kubernetes["compute.gpu_fraction"]), StringComparison.Ordinal);
        // Whole GPUs are as before there.
        Assert.Empty(Validate("""{"gpu_count":1}""", Whole_only).Errors);
    }

    [Fact]
    public void Samples_are_read_per_device_and_what_is_not_a_number_is_null()
    {
        var samples = GpuDevices.ParseSamples("GPU-a, 12, 2048\nGPU-b, [N/A], 10\nnot a line\nMIG-c, 100, [Not Supported]\n");
        Assert.Equal([new GpuSample("GPU-a", 12, 2048), new GpuSample("GPU-b", null, 10), new GpuSample("MIG-c", 100, null)], samples);
    }

    [Theory]
    [InlineData(0.12, 0.25)]
    [InlineData(0.2, 0.5)]
    public void A_whole_gpu_busy_under_a_quarter_of_the_time_gets_a_hint_to_share(double busy, double suggested)
    {
        var hint = RightSizing.GpuHint(gpus: 1, gpuFraction: null, workers: 1, gpuSeconds: 600, usedGpuSeconds: 600 * busy, minMeasuredSeconds: 60);
        Assert.Equal(RightSizing.GpuFraction, hint!.Resource);
        Assert.Equal(suggested, hint.Suggested);
        Assert.Equal($"GPU busy {busy * 100:0}% of the time: try gpu_fraction: {suggested}", hint.Message);
    }

    [Fact]
    public void No_gpu_hint_for_a_busy_gpu_a_share_several_gpus_or_a_short_run()
    {
        Assert.Null(RightSizing.GpuHint(1, null, 1, 600, 600 * 0.3, 60));
        Assert.Null(RightSizing.GpuHint(1, 0.25, 1, 600, 6, 60));
        Assert.Null(RightSizing.GpuHint(2, null, 1, 600, 6, 60));
        Assert.Null(RightSizing.GpuHint(1, null, 1, 30, 0, 60));
        Assert.Null(RightSizing.GpuHint(1, null, 1, 0, 0, 0));
    }

    [Fact]
    public void Used_gpu_seconds_are_reserved_times_utilisation_where_sampled()
    {
        var start = DateTimeOffset.UnixEpoch;
        var reserved = ResourceRequest.WithMilliGpus(1, ResourceRequest.BytesPerGb, 500);
        var sampled = AttemptUsage.Of(reserved, start, start.AddSeconds(100), cpuSeconds: 10, peakMemoryBytes: null, gpuUtilizationPercent: 40);
        Assert.Equal(50, sampled.Reserved.GpuSeconds);
        Assert.Equal(20, sampled.Used!.Value.GpuSeconds, 6);
        var unsampled = AttemptUsage.Of(reserved, start, start.AddSeconds(100), cpuSeconds: 10, peakMemoryBytes: null);
        Assert.Equal(50, unsampled.Used!.Value.GpuSeconds);
    }
}
