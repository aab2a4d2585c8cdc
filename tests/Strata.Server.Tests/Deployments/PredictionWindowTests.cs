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
        // A histogram's bucket bound: at or up to 9% above the true 95 ms.
        Assert.InRange(summary.P95Milliseconds, 95, 95 * 1.0905);
        Assert.Equal(0.05, summary.ErrorRatio, 3);
        Assert.Null(window.Summarize(new DeploymentKey("other", "churn")));

        time.Advance(PredictionWindow.Length);
        Assert.Null(window.Summarize(Churn));
    }

    [Fact]
    public void A_busy_deployment_keeps_its_whole_window_and_concurrent_records_are_all_counted()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-07T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var window = new PredictionWindow(time);
        // More predictions than a per-sample window kept (it dropped the oldest past 100,000), from eight threads.
        for (var minute = 0; minute < 10; minute++)
        {
            Parallel.For(0, 8, _ =>
            {
                for (var i = 0; i < 20_000; i++) window.Record(Churn, TimeSpan.FromMilliseconds(2), failed: i % 100 == 0);
            });
            time.Advance(TimeSpan.FromMinutes(1));
        }

        var summary = window.Summarize(Churn)!;

        Assert.Equal(1_600_000, summary.Requests);
        Assert.Equal(0.01, summary.ErrorRatio, 6);
        Assert.InRange(summary.P95Milliseconds, 2, 2 * 1.0905);
        // Ten minutes of them, all in the window.
        Assert.Equal(1_600_000 / 600.0, summary.PerSecond, 3);
    }
}
