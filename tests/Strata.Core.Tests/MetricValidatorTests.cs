using Strata.Contracts;
using Strata.Core.Jobs;
using Strata.Core.Tracking;

namespace Strata.Core.Tests;

public sealed class MetricValidatorTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);

    [Fact]
    public void A_metric_line_gives_its_point_with_step_0_and_the_time_seen_when_they_are_omitted()
    {
        var point = MetricValidator.ParseLine("""STRATA_METRIC {"name": "loss", "value": 0.25}""", Now);

        Assert.Equal(new ValidMetric("loss", 0.25, 0, Now), point);
    }

    [Theory]
    [InlineData("""STRATA_METRIC {"name":"val/acc","value":0.9,"step":3}""")]
    [InlineData("""  STRATA_METRIC {"name":"val/acc","value":"0.9","step":3,"extra":"ignored"}""")]
    [InlineData("""INFO 12:00:01 STRATA_METRIC {"name":"val/acc","value":0.9,"step":3}""")]
    public void Metric_lines_are_read_with_leading_text_quoted_numbers_and_unknown_keys(string line)
    {
        var point = MetricValidator.ParseLine(line, Now);

        Assert.Equal(new ValidMetric("val/acc", 0.9, 3, Now), point);
    }

    [Theory]
    [InlineData("epoch 3 done")]
    [InlineData("STRATA_METRIC not json")]
    [InlineData("""STRATA_METRIC {"name":"loss"}""")]
    [InlineData("""STRATA_METRIC {"value":1}""")]
    [InlineData("""STRATA_METRIC {"name":"loss","value":1,"step":-1}""")]
    [InlineData("""STRATA_METRIC {"name":"bad name","value":1}""")]
    [InlineData("""XSTRATA_METRIC {"name":"loss","value":1}""")]
    public void Other_lines_and_invalid_metric_lines_give_nothing(string line)
    {
        Assert.Null(MetricValidator.ParseLine(line, Now));
    }

    [Fact]
    public void Every_invalid_field_of_a_reported_point_is_named()
    {
        var errors = new ValidationErrors();

        var point = MetricValidator.Check(new MetricPoint { Name = new string('x', MetricLimits.NameLength + 1), Value = double.NaN, Step = -2 }, "[4].", Now, errors);

        Assert.Null(point);
        Assert.Equal(["[4].name", "[4].step", "[4].value"], errors.ToDictionary().Keys.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("0001-01-01T00:00:00Z")]
    [InlineData("1999-12-31T23:59:59Z")]
    [InlineData("2026-01-03T03:04:06Z")]
    [InlineData("9999-12-31T00:00:00Z")]
    public void A_time_before_2000_or_more_than_a_day_ahead_of_the_server_is_refused(string time)
    {
        var errors = new ValidationErrors();

        var point = MetricValidator.Check(new MetricPoint { Name = "loss", Value = 1, Time = DateTimeOffset.Parse(time, System.Globalization.CultureInfo.InvariantCulture) }, "", Now, errors);

        Assert.Null(point);
        Assert.Equal(["time"], errors.ToDictionary().Keys);
    }

    [Theory]
    [InlineData("2000-01-01T00:00:00Z")]
    [InlineData("2026-01-02T03:04:05Z")]
    [InlineData("2026-01-03T03:04:05Z")]
    public void A_time_from_2000_to_a_day_ahead_is_kept(string time)
    {
        var at = DateTimeOffset.Parse(time, System.Globalization.CultureInfo.InvariantCulture);

        Assert.Equal(at, MetricValidator.Check(new MetricPoint { Name = "loss", Value = 1, Time = at }, "", Now, new ValidationErrors())?.Time);
    }
}
