using Strata.Core.Runtime;
using Strata.Core.Usage;

namespace Strata.Core.Tests;

public sealed class ReplicaMeterTests
{
    private const long Gb = ResourceRequest.BytesPerGb;
    private static readonly ResourceRequest TwoCoresFourGb = ResourceRequest.FromGb(2, 4, 0);
    private static readonly DateTimeOffset Noon = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void An_interval_reserves_the_replicas_compute_for_its_wall_time_and_uses_the_cpu_time_spent_in_it()
    {
        var meter = new ReplicaMeter(Noon);
        meter.Sample(Noon.AddSeconds(30), cpuSeconds: 3, memoryBytes: Gb);
        meter.Sample(Noon.AddSeconds(60), cpuSeconds: 5, memoryBytes: Gb);

        var interval = Assert.Single(meter.Cut(Noon.AddSeconds(60), TwoCoresFourGb));

        Assert.Equal(Noon, interval.Start);
        Assert.Equal(60, interval.WallSeconds, 9);
        Assert.Equal(new ResourceSeconds(120, 240, 0), interval.Reserved);
        // No memory was sampled before 30 s; 1 GB was held from 30 s to 60 s.
        Assert.Equal(new ResourceSeconds(5, 30, 0), interval.Used);
    }

    [Fact]
    public void The_next_interval_counts_only_what_was_spent_after_the_cut()
    {
        var meter = new ReplicaMeter(Noon);
        meter.Sample(Noon.AddSeconds(10), cpuSeconds: 4, memoryBytes: 2 * Gb);
        meter.Cut(Noon.AddSeconds(10), TwoCoresFourGb);
        meter.Sample(Noon.AddSeconds(20), cpuSeconds: 7, memoryBytes: 2 * Gb);

        var interval = Assert.Single(meter.Cut(Noon.AddSeconds(30), TwoCoresFourGb));

        Assert.Equal(Noon.AddSeconds(10), interval.Start);
        Assert.Equal(Noon.AddSeconds(30), interval.End);
        // The last sample's memory is held until the cut.
        Assert.Equal(new ResourceSeconds(3, 40, 0), interval.Used);
        Assert.Equal(Noon.AddSeconds(30), meter.OpenSince);
    }

    [Fact]
    public void An_interval_across_midnight_is_split_into_its_two_days_each_with_its_share()
    {
        var beforeMidnight = new DateTimeOffset(2026, 11, 1, 23, 59, 0, TimeSpan.Zero);
        var meter = new ReplicaMeter(beforeMidnight);
        meter.Sample(beforeMidnight, cpuSeconds: 0, memoryBytes: Gb);
        meter.Sample(beforeMidnight.AddMinutes(4), cpuSeconds: 40, memoryBytes: Gb);

        var intervals = meter.Cut(beforeMidnight.AddMinutes(4), TwoCoresFourGb);

        Assert.Equal(2, intervals.Count);
        Assert.Equal(new DateTimeOffset(2026, 11, 2, 0, 0, 0, TimeSpan.Zero), intervals[0].End);
        Assert.Equal(intervals[0].End, intervals[1].Start);
        Assert.Equal(new ResourceSeconds(120, 240, 0), intervals[0].Reserved);
        Assert.Equal(new ResourceSeconds(360, 720, 0), intervals[1].Reserved);
        Assert.Equal(10, intervals[0].Used.CoreSeconds, 9);
        Assert.Equal(30, intervals[1].Used.CoreSeconds, 9);
        Assert.Equal(60, intervals[0].Used.MemoryGbSeconds, 9);
    }

    [Theory]
    [InlineData(59, false)]
    [InlineData(60, true)]
    public void A_checkpoint_is_due_once_the_open_interval_is_as_long_as_the_checkpoint(int seconds, bool due) =>
        Assert.Equal(due, new ReplicaMeter(Noon).IsDue(Noon.AddSeconds(seconds), TimeSpan.FromMinutes(1)));

    [Fact]
    public void A_checkpoint_is_due_when_a_utc_day_ended_in_the_open_interval()
    {
        var meter = new ReplicaMeter(new DateTimeOffset(2026, 11, 1, 23, 59, 59, TimeSpan.Zero));

        Assert.True(meter.IsDue(new DateTimeOffset(2026, 11, 2, 0, 0, 0, TimeSpan.Zero), TimeSpan.FromHours(1)));
    }

    [Fact]
    public void Interval_edges_are_whole_milliseconds_as_stored_so_reserved_is_the_stored_wall_time_exactly()
    {
        var meter = new ReplicaMeter(Noon.AddTicks(4));

        var interval = Assert.Single(meter.Cut(Noon.AddSeconds(1).AddTicks(9_999), TwoCoresFourGb));

        Assert.Equal(Noon, interval.Start);
        Assert.Equal(Noon.AddSeconds(1), interval.End);
        Assert.Equal(2, interval.Reserved.CoreSeconds);
        Assert.Empty(meter.Cut(Noon.AddSeconds(1).AddTicks(5_000), TwoCoresFourGb));
    }

    [Fact]
    public void A_cut_with_no_time_passed_accrues_nothing() =>
        Assert.Empty(new ReplicaMeter(Noon).Cut(Noon, TwoCoresFourGb));
}
