using Strata.Server.Runtime.Kubernetes;

namespace Strata.Kubernetes.Tests;

/// <summary>Reading the times Kubernetes puts before each log line (<c>timestamps=true</c>, Go's RFC 3339 with nanoseconds).</summary>
public sealed class RankLogsTests
{
    [Theory]
    [InlineData("2026-12-07T10:00:00.123456789Z epoch 1", "epoch 1", 1234567)]
    [InlineData("2026-12-07T10:00:00.12Z epoch 1", "epoch 1", 1200000)] // Go trims trailing zeros
    [InlineData("2026-12-07T10:00:00Z  indented", " indented", 0)]
    public void A_timestamped_line_splits_into_its_time_and_its_text(string line, string text, long fractionTicks)
    {
        var (time, rest) = RankLogs.SplitTimestamp(line);

        Assert.Equal(new DateTime(2026, 12, 7, 10, 0, 0, DateTimeKind.Utc).Ticks + fractionTicks, time);
        Assert.Equal(text, rest);
    }

    [Theory]
    [InlineData("epoch 1 of 3")]
    [InlineData("2026-12-07 10:00:00Z local time")]
    [InlineData("")]
    public void A_line_without_a_leading_time_is_kept_whole(string line) =>
        Assert.Equal((null, line), RankLogs.SplitTimestamp(line));
}
