using Microsoft.Extensions.DependencyInjection;
using Strata.Contracts;
using Strata.Server.Storage;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Dashboard;

/// <summary>The quota page's cost by day, over stored replica usage of known days (default prices).</summary>
public sealed partial class DashboardPageTests
{
    [Fact]
    public async Task The_quota_page_draws_the_tenants_cost_by_day_for_the_chosen_period_and_nothing_of_another_tenant()
    {
        var (tenant, api) = await app.TenantClientAsync("dash-cost");
        var (rival, rivalApi) = await app.TenantClientAsync("dash-cost-rival");
        api.Dispose();
        rivalApi.Dispose();
        await using (var db = app.Services.GetRequiredService<Store>().CreateContext())
        {
            // Ten minutes of 2 cores and 1 GB on each of 1 and 2 March: 0.014167 USD a day at the default prices.
            db.ReplicaUsage.AddRange(
                TenMinutes(tenant, new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero), cores: 2),
                TenMinutes(tenant, new DateTimeOffset(2026, 3, 2, 12, 0, 0, TimeSpan.Zero), cores: 2),
                TenMinutes(rival, new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero), cores: 64));
            await db.SaveChangesAsync();
        }
        using var browser = app.BrowserClient();
        (await SignInAsync(browser, await app.TokenForAsync(tenant, Roles.Viewer))).Dispose();

        var page = await browser.GetStringAsync("/ui/quota?from=2026-03-01&to=2026-03-03");

        Assert.Contains("data-chart=\"cost-by-day\"", page, StringComparison.Ordinal);
        foreach (var day in new[] { "2026-03-01", "2026-03-02", "2026-03-03" })
        {
            Assert.Contains($"<g data-day=\"{day}\">", page, StringComparison.Ordinal);
        }
        Assert.DoesNotContain("data-day=\"2026-03-04\"", page, StringComparison.Ordinal);
        Assert.Contains("<title>2026-03-01: 0.014167 USD</title>", page, StringComparison.Ordinal);
        Assert.Contains("<title>2026-03-03: 0.00 USD</title>", page, StringComparison.Ordinal);
        Assert.Contains("<strong>0.028333 USD</strong>", page, StringComparison.Ordinal);
        // The rival's 64 cores on 1 March cost 0.4275 USD: none of it shows.
        Assert.DoesNotContain("0.42", page, StringComparison.Ordinal);
        Assert.DoesNotContain("0.45", page, StringComparison.Ordinal);

        // Without dates, the last 7 or 30 days up to today; 7 when the page is opened as it is.
        foreach (var (query, days) in new[] { ("", 7), ("?days=30", 30) })
        {
            var recent = await browser.GetStringAsync($"/ui/quota{query}");
            Assert.Equal(days, recent.Split("<g data-day=", StringSplitOptions.None).Length - 1);
            Assert.Contains($"<g data-day=\"{DateTimeOffset.UtcNow:yyyy-MM-dd}\">", recent, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("from=2026-03-05&to=2026-03-01", "The period must end on or after its first day.")]
    [InlineData("from=2026-03-05", "Give both from and to as dates")]
    [InlineData("days=9", "The period must be one of 7, 30 days.")]
    [InlineData("days=seven", "The period must be one of 7, 30 days.")]
    [InlineData("from=2024-01-01&to=2026-01-01", "The period may be at most 366 days long.")]
    public async Task A_period_the_quota_page_cannot_show_is_said_in_the_page_with_no_chart(string query, string message)
    {
        var (tenant, api) = await app.TenantClientAsync("dash-cost-bad");
        api.Dispose();
        using var browser = app.BrowserClient();
        (await SignInAsync(browser, await app.TokenForAsync(tenant, Roles.Viewer))).Dispose();

        var page = await browser.GetStringAsync($"/ui/quota?{query}");

        Assert.Contains(message, page, StringComparison.Ordinal);
        Assert.DoesNotContain("data-chart=\"cost-by-day\"", page, StringComparison.Ordinal);
    }

    private static ReplicaUsageRecord TenMinutes(string tenant, DateTimeOffset start, double cores) => new()
    {
        TenantId = tenant,
        DeploymentName = "scorer",
        ReplicaId = "scorer-v1-1",
        ModelVersion = 1,
        StartedAtUnixMs = start.ToUnixTimeMilliseconds(),
        EndedAtUnixMs = start.AddMinutes(10).ToUnixTimeMilliseconds(),
        ReservedCoreSeconds = cores * 600,
        ReservedMemoryGbSeconds = 600,
        UsedCoreSeconds = 30,
        UsedMemoryGbSeconds = 60,
    };
}
