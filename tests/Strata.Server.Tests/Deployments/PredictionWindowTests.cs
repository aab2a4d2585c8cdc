using Microsoft.Extensions.Time.Testing;
using Strata.Core.Deployments;
using Strata.Server.Deployments;

namespace Strata.Server.Tests.Deployments;

/// <summary>The dashboard's figures of a deployment's predictions: rate, p95 latency and error ratio over 15 minutes.</summary>
public sealed class PredictionWindowTests
{
    private static readonly DeploymentKey Churn = new("team", "churn");

    [Fact]
    public void Rate_p95_and_error_ratio_are_of_the_last_15_minutes_only()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-07T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var window = new PredictionWindow(time);
        Assert.Null(window.Summarize(Churn));
        // An old burst of failures, then 100 requests over 100 s, 1 to 100 ms, the slowest five answered 503.
        for (var i = 0; i < 50; i++) window.Record(Churn, TimeSpan.FromSeconds(1), failed: true);
        time.Advance(TimeSpan.FromMinutes(16));
        for (var ms = 1; ms <= 100; ms++)
        {
            window.Record(Churn, TimeSpan.FromMilliseconds(ms), failed: ms > 95);
            time.Advance(TimeSpan.FromSeconds(1));
        }

        var summary = window.Summarize(Churn)!;

        Assert.Equal(100, summary.Requests);
        Assert.Equal(1.0, summary.PerSecond, 2);
        Assert.Equal(95, summary.P95Milliseconds, 3);
        Assert.Equal(0.05, summary.ErrorRatio, 3);
        Assert.Null(window.Summarize(new DeploymentKey("other", "churn")));

        time.Advance(PredictionWindow.Length);
        Assert.Null(window.Summarize(Churn));
    }
}
