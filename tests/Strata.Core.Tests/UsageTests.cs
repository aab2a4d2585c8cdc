using Strata.Core.Runtime;
using Strata.Core.Usage;

namespace Strata.Core.Tests;

public sealed class UsageTests
{
    private const long Gb = ResourceRequest.BytesPerGb;
    private static readonly DateTimeOffset Start = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Reserved_is_the_whole_request_times_the_wall_time()
    {
        var usage = AttemptUsage.Of(ResourceRequest.FromGb(4, 16, 2), Start, Start.AddMinutes(10), cpuSeconds: 120, peakMemoryBytes: 2 * Gb);

        Assert.Equal(600, usage.WallSeconds, 9);
        Assert.Equal(new ResourceSeconds(2400, 9600, 1200), usage.Reserved);
    }

    [Fact]
    public void Used_is_measured_cpu_time_peak_memory_held_for_the_wall_time_and_the_gpus_held()
    {
        var usage = AttemptUsage.Of(ResourceRequest.FromGb(4, 16, 2), Start, Start.AddMinutes(10), cpuSeconds: 120, peakMemoryBytes: Gb / 2);

        Assert.Equal(new ResourceSeconds(120, 300, 1200), usage.Used);
    }

    [Fact]
    public void An_attempt_that_never_started_reserved_and_used_nothing()
    {
        var usage = AttemptUsage.Of(ResourceRequest.FromGb(4, 16, 0), startedAt: null, Start, cpuSeconds: null, peakMemoryBytes: null);

        Assert.Equal(0, usage.WallSeconds);
        Assert.Equal(default, usage.Reserved);
        Assert.Null(usage.Used);
    }

    [Fact]
    public void An_attempt_that_was_not_measured_has_no_used_figures_but_its_reservation_counts()
    {
        var usage = AttemptUsage.Of(ResourceRequest.FromGb(2, 4, 0), Start, Start.AddSeconds(30), cpuSeconds: null, peakMemoryBytes: null);

        Assert.Equal(new ResourceSeconds(60, 120, 0), usage.Reserved);
        Assert.Null(usage.Used);
    }

    [Fact]
    public void A_clock_that_went_backwards_gives_zero_rather_than_negative_time()
    {
        var usage = AttemptUsage.Of(ResourceRequest.FromGb(1, 1, 0), Start, Start.AddSeconds(-5), cpuSeconds: 0, peakMemoryBytes: 0);

        Assert.Equal(0, usage.WallSeconds);
        Assert.Equal(default, usage.Reserved);
    }

    [Theory]
    // core-seconds, GB-seconds, GPU-seconds, expected cost at 0.04/core-h, 0.005/GB-h, 2.50/GPU-h
    [InlineData(3600, 0, 0, "0.04")]
    [InlineData(0, 3600, 0, "0.005")]
    [InlineData(0, 0, 3600, "2.5")]
    [InlineData(4 * 3600, 16 * 3600, 3600, "2.74")] // 0.16 + 0.08 + 2.50
    [InlineData(1, 0, 0, "0.000011")] // 0.04 / 3600 = 0.0000111..., six decimals
    [InlineData(0, 0, 0, "0")]
    public void Prices_are_hours_times_the_hourly_price_to_six_decimals(double coreSeconds, double gbSeconds, double gpuSeconds, string expected)
    {
        var prices = new PriceTable("USD", 0.04m, 0.005m, 2.50m);

        Assert.Equal(decimal.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), prices.Price(new ResourceSeconds(coreSeconds, gbSeconds, gpuSeconds)));
    }

    [Fact]
    public void Many_small_prices_add_up_to_the_price_of_their_sum()
    {
        var prices = new PriceTable("EUR", 0.036m, 0m, 0m);
        var one = new ResourceSeconds(100, 0, 0); // 0.001 each

        var sum = Enumerable.Repeat(one, 1000).Aggregate((a, b) => a + b);

        Assert.Equal(1.0m, prices.Price(sum));
        Assert.Equal(1.0m, Enumerable.Repeat(one, 1000).Sum(prices.Price));
    }

    [Theory]
    // requested cores, cpu seconds, wall seconds, suggested (null: no hint)
    [InlineData(4, 30, 100, 1)]     // 0.3 cores on average: the example
    [InlineData(8, 200, 100, 3)]    // 2 cores × 1.5 = 3 ≤ 4
    [InlineData(4, 200, 100, null)] // 2 cores × 1.5 = 3 > 2: not worth a hint
    [InlineData(1, 0, 100, null)]   // already the smallest request
    [InlineData(2, 0, 100, 1)]      // idle: 1 is the floor
    [InlineData(4, 400, 100, null)] // uses all it asked for
    public void Cores_are_judged_on_the_average_with_headroom_and_only_when_the_saving_is_at_least_half(double requested, double cpuSeconds, double wallSeconds, int? suggested)
    {
        var hints = RightSizing.Hints(requested, 64, workers: 1, cpuSeconds, wallSeconds, peakMemoryBytes: null, minMeasuredSeconds: 60);

        var hint = hints.SingleOrDefault(h => h.Resource == RightSizing.CpuCores);
        Assert.Equal(suggested, hint?.Suggested);
    }

    [Fact]
    public void The_hint_says_what_was_asked_what_was_used_and_what_to_ask_for()
    {
        var hint = Assert.Single(RightSizing.Hints(4, 2, workers: 1, cpuSeconds: 30, wallSeconds: 100, peakMemoryBytes: null, minMeasuredSeconds: 0));

        Assert.Equal("requested 4 cores, used 0.3 on average: consider 1", hint.Message);
        Assert.Equal(0.3, hint.Used);
        Assert.Equal(4, hint.Requested);
    }

    [Theory]
    // requested GB, peak GB, suggested (null: no hint)
    [InlineData(16, 2.0, 3)]
    [InlineData(16, 0.1, 1)]
    [InlineData(4, 2.0, null)] // 3 > 2
    [InlineData(1, 0.1, null)]
    public void Memory_is_judged_on_the_peak(double requestedGb, double peakGb, int? suggested)
    {
        var hints = RightSizing.Hints(1, requestedGb, workers: 1, cpuSeconds: 100, wallSeconds: 100, peakMemoryBytes: (long)(peakGb * Gb), minMeasuredSeconds: 60);

        Assert.Equal(suggested, hints.SingleOrDefault(h => h.Resource == RightSizing.MemoryGb)?.Suggested);
    }

    [Fact]
    public void Short_or_unmeasured_runs_get_no_hint()
    {
        Assert.Empty(RightSizing.Hints(8, 32, 1, cpuSeconds: 0, wallSeconds: 59, peakMemoryBytes: 1, minMeasuredSeconds: 60));
        Assert.Empty(RightSizing.Hints(8, 32, 1, cpuSeconds: 0, wallSeconds: 0, peakMemoryBytes: 1, minMeasuredSeconds: 0));
        Assert.Equal(2, RightSizing.Hints(8, 32, 1, cpuSeconds: 0, wallSeconds: 60, peakMemoryBytes: 1, minMeasuredSeconds: 60).Count);
    }

    [Fact]
    public void A_distributed_job_is_judged_per_worker()
    {
        // 4 workers of 4 cores used 4 cores together: 1 each.
        var hint = Assert.Single(RightSizing.Hints(4, 1, workers: 4, cpuSeconds: 400, wallSeconds: 100, peakMemoryBytes: null, minMeasuredSeconds: 0));

        Assert.Equal(2, hint.Suggested); // 1 × 1.5, rounded up
        Assert.Equal(1, hint.Used);
    }
}
