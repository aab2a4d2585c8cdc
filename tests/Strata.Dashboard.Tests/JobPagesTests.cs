using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Strata.Dashboard.Tests.Support;
using static Microsoft.Playwright.Assertions;

namespace Strata.Dashboard.Tests;

/// <summary>
/// The dashboard in a real chromium against the real server process: signing in, a job's life watched live,
/// its log and charts, cancelling, what a viewer and another tenant see. Every wait is for a condition.
/// </summary>
public sealed class JobPagesTests(DashboardServer dashboard) : IClassFixture<DashboardServer>
{
    [SkippableFact]
    public async Task A_job_goes_from_pending_to_running_to_succeeded_on_the_jobs_page_without_a_reload()
    {
        Skip.If(DashboardServer.Chromium is null, "no chromium on this machine (scripts/test installs Debian's)");
        // The blocker holds both cores, so the watched job waits for capacity until the test lets the blocker end.
        var blocker = await dashboard.SubmitAsync(dashboard.MemberToken, new
        {
            name = "blocker", entrypoint = DashboardServer.WaitFor("blocker-done"), env_vars = dashboard.Env, compute = new { cpu_cores = 2 },
        });
        await WaitForStatusAsync(blocker, "running");
        var watched = await dashboard.SubmitAsync(dashboard.MemberToken, new
        {
            name = "watched", entrypoint = DashboardServer.WaitFor("watched-done"), env_vars = dashboard.Env,
        });
        var (context, page) = await dashboard.SignedInAsync(dashboard.MemberToken);
        await using var _ = context;
        var status = page.Locator($"[data-job-status='{watched}']");
        await Expect(status).ToHaveTextAsync(new Regex("^pending"));
        // A reload would lose this mark.
        await page.EvaluateAsync("window.stillTheSamePage = true");

        dashboard.Release("blocker-done");
        await Expect(status).ToHaveTextAsync(new Regex("^running"));
        dashboard.Release("watched-done");
        await Expect(status).ToHaveTextAsync(new Regex("^succeeded"));

        Assert.True(await page.EvaluateAsync<bool>("window.stillTheSamePage === true"));
        await Expect(page.Locator($"[data-job-status='{blocker}']")).ToHaveTextAsync(new Regex("^succeeded"));
        await DashboardServer.ScreenshotAsync(page, "jobs-live");
    }

    [SkippableFact]
    public async Task The_log_streams_lines_while_the_job_prints_them_and_a_chart_has_one_point_per_logged_step()
    {
        Skip.If(DashboardServer.Chromium is null, "no chromium on this machine (scripts/test installs Debian's)");
        var metric = "STRATA_METRIC {\\\"name\\\": \\\"loss\\\", \\\"value\\\": $(( 10 - s )), \\\"step\\\": $s}";
        var id = await dashboard.SubmitAsync(dashboard.MemberToken, new
        {
            name = "printer",
            entrypoint = $"echo first-line; {DashboardServer.WaitFor("second")}; echo second-line; "
                + $"for s in 1 2 3 4 5 6 7; do echo \"{metric}\"; done; {DashboardServer.WaitFor("printer-done")}",
            env_vars = dashboard.Env,
        });
        var (context, page) = await dashboard.SignedInAsync(dashboard.MemberToken);
        await using var _ = context;
        await page.GetByRole(AriaRole.Link, new() { Name = "printer" }).ClickAsync();
        var log = page.Locator("[data-log] pre");

        await Expect(log).ToContainTextAsync("first-line");
        await Expect(log).Not.ToContainTextAsync("second-line");
        dashboard.Release("second");
        await Expect(log).ToContainTextAsync("second-line");

        await Expect(page.Locator("svg[data-metric='loss'] circle")).ToHaveCountAsync(7);
        await Expect(page.Locator("figcaption")).ToContainTextAsync("loss: 7 points, last 3 at step 7");
        await DashboardServer.ScreenshotAsync(page, "job-log-and-chart");
        dashboard.Release("printer-done");
        await Expect(page.Locator($"[data-job-status='{id}']").First).ToHaveTextAsync(new Regex("^succeeded"));
    }

    [SkippableFact]
    public async Task Two_runs_ticked_on_the_jobs_page_are_compared_overlaid_with_their_hyperparameters_side_by_side()
    {
        Skip.If(DashboardServer.Chromium is null, "no chromium on this machine (scripts/test installs Debian's)");
        var ids = new List<string>();
        foreach (var rate in new[] { 1, 2 })
        {
            var metric = $"STRATA_METRIC {{\\\"name\\\": \\\"loss\\\", \\\"value\\\": $(( s * {rate} )), \\\"step\\\": $s}}";
            ids.Add(await dashboard.SubmitAsync(dashboard.MemberToken, new
            {
                name = $"sweep-{rate}", entrypoint = $"for s in 1 2 3; do echo \"{metric}\"; done",
                hyperparameters = new Dictionary<string, object> { ["rate"] = rate, ["epochs"] = 3 },
            }));
        }
        foreach (var id in ids) await WaitForStatusAsync(id, "succeeded");
        var (context, page) = await dashboard.SignedInAsync(dashboard.MemberToken);
        await using var _ = context;

        await page.GetByLabel("Compare sweep-1").CheckAsync();
        await page.GetByLabel("Compare sweep-2").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Compare selected" }).ClickAsync();

        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Compare runs" })).ToBeVisibleAsync();
        await Expect(page.Locator("svg[data-compare-metric='loss'] polyline")).ToHaveCountAsync(2);
        var rateRow = page.Locator("tr", new() { Has = page.GetByRole(AriaRole.Rowheader, new() { Name = "rate" }) });
        // In the list's order, newest first.
        await Expect(page.Locator("thead th a")).ToHaveTextAsync(["sweep-2", "sweep-1"]);
        await Expect(rateRow.Locator("td")).ToHaveTextAsync(["2", "1"]);
        await DashboardServer.ScreenshotAsync(page, "compare");
    }

    [SkippableFact]
    public async Task Cancel_from_the_page_with_its_confirmation_stops_a_running_job()
    {
        Skip.If(DashboardServer.Chromium is null, "no chromium on this machine (scripts/test installs Debian's)");
        var id = await dashboard.SubmitAsync(dashboard.MemberToken, new { name = "doomed", entrypoint = "echo started; sleep 300" });
        await WaitForStatusAsync(id, "running");
        var (context, page) = await dashboard.SignedInAsync(dashboard.MemberToken);
        await using var _ = context;
        await page.GotoAsync($"/ui/jobs/{id}");
        await Expect(page.Locator("[data-log] pre")).ToContainTextAsync("started");

        await page.GetByRole(AriaRole.Link, new() { Name = "Cancel this job…" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Cancel job doomed?" })).ToBeVisibleAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Yes, cancel the job" }).ClickAsync();

        await Expect(page.Locator($"[data-job-status='{id}']").First).ToHaveTextAsync(new Regex("^cancelled"));
        Assert.Equal("cancelled", await dashboard.StatusAsync(dashboard.MemberToken, id));
        await DashboardServer.ScreenshotAsync(page, "job-cancelled");
    }

    [SkippableFact]
    public async Task A_viewer_sees_no_cancel_and_at_a_phones_width_the_page_still_reads()
    {
        Skip.If(DashboardServer.Chromium is null, "no chromium on this machine (scripts/test installs Debian's)");
        var id = await dashboard.SubmitAsync(dashboard.MemberToken, new { name = "observed", entrypoint = "echo observed; sleep 300" });
        await WaitForStatusAsync(id, "running");
        var (context, page) = await dashboard.SignedInAsync(dashboard.ViewerToken, width: 390);
        await using var _ = context;

        await page.GotoAsync($"/ui/jobs/{id}");

        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "observed" })).ToBeVisibleAsync();
        await Expect(page.Locator("[data-log] pre")).ToContainTextAsync("observed");
        await Expect(page.GetByText("Cancel this job")).ToHaveCountAsync(0);
        // Nothing wider than the phone: no sideways scrolling of the page itself.
        Assert.True(await page.EvaluateAsync<bool>("document.documentElement.scrollWidth <= window.innerWidth"));
        await DashboardServer.ScreenshotAsync(page, "job-viewer-phone");
        using var api = dashboard.Api(dashboard.MemberToken);
        (await api.DeleteAsync($"/v1/jobs/training/{id}")).Dispose();
    }

    [SkippableFact]
    public async Task Another_tenants_job_url_is_a_404_page()
    {
        Skip.If(DashboardServer.Chromium is null, "no chromium on this machine (scripts/test installs Debian's)");
        var theirs = await dashboard.SubmitAsync(dashboard.RivalToken, new { name = "rivals-secret", entrypoint = "true" });
        var (context, page) = await dashboard.SignedInAsync(dashboard.MemberToken);
        await using var _ = context;

        var response = await page.GotoAsync($"/ui/jobs/{theirs}");

        Assert.Equal(404, response!.Status);
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Not found" })).ToBeVisibleAsync();
        await Expect(page.GetByText("rivals-secret")).ToHaveCountAsync(0);
        await DashboardServer.ScreenshotAsync(page, "job-other-tenant");
    }

    private async Task WaitForStatusAsync(string id, string status)
    {
        // The API, polled until the job is there: a condition, with the server's own patience as the bound.
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        string seen;
        while ((seen = await dashboard.StatusAsync(dashboard.MemberToken, id)) != status && DateTime.UtcNow < deadline) await Task.Delay(100);
        Assert.Equal(status, seen);
    }
}
