using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Strata.Core.Quotas;
using Strata.Core.Runtime;
using Strata.Core.Scheduling;

BenchmarkSwitcher.FromAssembly(typeof(Strata.Bench.Policy.PolicyBenchmarks).Assembly).Run(args);

namespace Strata.Bench.Policy
{
/// <summary>
/// One scheduling cycle over 10,000 pending jobs from 100 tenants (mixed sizes and priorities, each tenant
/// with a quota and a weight), with room for all of them and with room for only 100. Admissions per second =
/// admissions per cycle (printed at setup) / the mean time of a cycle.
/// </summary>
[MemoryDiagnoser]
public class PolicyBenchmarks
{
    private const int Jobs = 10_000, Tenants = 100;
    private SchedulingSnapshot _roomForAll = null!;
    private SchedulingSnapshot _roomForHundred = null!;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        var pending = new List<PendingJob>(Jobs);
        for (var i = 0; i < Jobs; i++)
        {
            var tenant = $"team-{random.Next(Tenants)}";
            pending.Add(new PendingJob($"job-{i}", tenant, random.Next(3), i, ResourceRequest.FromGb(1 + random.Next(2), 1 + random.Next(4), 0)));
        }
        pending.Sort(PendingJobOrder.Instance);
        var quotas = Enumerable.Range(0, Tenants).ToDictionary(
            t => $"team-{t}",
            t => new QuotaLimits(ResourceRequest.FromGb(1_000, 10_000, 0), 10_000, 10_000, Weight: 1 + t % 3));
        var now = DateTimeOffset.UnixEpoch;
        _roomForAll = new SchedulingSnapshot { Pending = pending, Capacity = ResourceRequest.FromGb(100_000, 1_000_000, 0), Quotas = quotas, Now = now };
        // Every job asks for at least 1 core and 1 GB, at most 2 and 4: 100 one-core, one-GB slots fit exactly 100 of the smallest.
        _roomForHundred = _roomForAll with { Capacity = ResourceRequest.FromGb(150, 250, 0) };
        Console.WriteLine($"// admissions per cycle: room for all {SchedulingPolicy.Plan(_roomForAll).Admitted.Count}, "
            + $"room for 100: {SchedulingPolicy.Plan(_roomForHundred).Admitted.Count}");
    }

    [Benchmark]
    public int Cycle_room_for_all() => SchedulingPolicy.Plan(_roomForAll).Admitted.Count;

    [Benchmark]
    public int Cycle_room_for_about_100() => SchedulingPolicy.Plan(_roomForHundred).Admitted.Count;
}
}
