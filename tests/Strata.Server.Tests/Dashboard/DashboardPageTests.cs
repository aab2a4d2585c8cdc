using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Strata.Contracts;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Dashboard;

/// <summary>
/// The dashboard's pages rendered in process: who may see them, what another tenant sees (a 404 page), and the
/// refusals of its forms (no antiforgery token, a viewer's forged cancel). The browser tests are in
/// tests/Strata.Dashboard.Tests.
/// </summary>
public sealed partial class DashboardPageTests(SqliteApp app) : IClassFixture<SqliteApp>
{
    [Fact]
    public async Task Someone_not_signed_in_is_sent_to_the_sign_in_page_which_has_a_protected_form()
    {
        using var browser = app.BrowserClient();
        using var jobs = await browser.GetAsync("/ui/jobs?status=running");
        Assert.Equal(HttpStatusCode.Redirect, jobs.StatusCode);
        Assert.Equal("/ui/signin?return=%2Fui%2Fjobs%3Fstatus%3Drunning", jobs.Headers.Location!.OriginalString);

        var page = await browser.GetStringAsync("/ui/signin");
        Assert.Contains("<label>Token", page, StringComparison.Ordinal);
        Assert.NotNull(AntiforgeryToken(page));

        using var root = await browser.GetAsync("/");
        Assert.Equal("/ui", root.Headers.Location!.OriginalString);
        using var docs = await app.AnonymousClient().GetAsync("/docs");
        Assert.Equal(HttpStatusCode.OK, docs.StatusCode);
    }

    [Fact]
    public async Task A_pasted_token_becomes_an_http_only_strict_cookie_expiring_with_it_and_the_jobs_page_lists_the_tenants_jobs()
    {
        var (tenant, api) = await app.TenantClientAsync("dash-signin");
        using var _ = api;
        var job = await StrataApp.SubmitAsync(api, new { name = "listed-job", entrypoint = "true" });
        using var browser = app.BrowserClient();

        using var signedIn = await SignInAsync(browser, await app.TokenForAsync(tenant, Roles.Viewer));

        Assert.Equal("/ui/jobs", signedIn.Headers.Location!.OriginalString);
        var cookie = Assert.Single(signedIn.Headers.GetValues("Set-Cookie"), c => c.StartsWith("strata_ui=", StringComparison.Ordinal));
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("path=/ui", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("expires=", cookie, StringComparison.OrdinalIgnoreCase);
        var page = await browser.GetStringAsync("/ui/jobs");
        Assert.Contains("listed-job", page, StringComparison.Ordinal);
        Assert.Contains($"data-job-status=\"{job.GetProperty("id").GetString()}\"", page, StringComparison.Ordinal);
        // The cookie is the dashboard's only: the API still wants a bearer token.
        using var apiWithCookie = await browser.GetAsync("/v1/jobs/training");
        Assert.Equal(HttpStatusCode.Unauthorized, apiWithCookie.StatusCode);
    }

    [Fact]
    public async Task A_dead_tenants_token_does_not_sign_in_and_its_session_ends_with_the_tenant()
    {
        var tenant = await app.CreateTenantAsync(StrataApp.UniqueId("dash-dead"));
        var token = await app.TokenForAsync(tenant, Roles.Owner);
        using var browser = app.BrowserClient();
        (await SignInAsync(browser, token)).Dispose();
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/ui/jobs")).StatusCode);

        await app.DeleteTenantAsync(tenant);

        using var after = await browser.GetAsync("/ui/jobs");
        Assert.Equal(HttpStatusCode.Redirect, after.StatusCode);
        Assert.StartsWith("/ui/signin", after.Headers.Location!.OriginalString, StringComparison.Ordinal);
        using var again = await SignInAsync(app.BrowserClient(), token);
        Assert.StartsWith("/ui/signin?refused=tenant", again.Headers.Location!.OriginalString, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_job_token_and_a_garbled_one_are_refused()
    {
        using var browser = app.BrowserClient();
        using var garbled = await SignInAsync(browser, "not-a-token");
        Assert.StartsWith("/ui/signin?refused=invalid", garbled.Headers.Location!.OriginalString, StringComparison.Ordinal);
        var page = await browser.GetStringAsync(garbled.Headers.Location!.OriginalString);
        Assert.Contains("invalid or expired", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Another_tenants_job_is_a_404_page_and_its_log_and_charts_are_not_shown()
    {
        var (_, other) = await app.TenantClientAsync("dash-other");
        using var __ = other;
        var theirs = (await StrataApp.SubmitAsync(other, new { name = "theirs", entrypoint = "true" })).GetProperty("id").GetString()!;
        var (mine, ___) = await app.TenantClientAsync("dash-mine");
        using var browser = app.BrowserClient();
        (await SignInAsync(browser, await app.TokenForAsync(mine, Roles.Owner))).Dispose();

        foreach (var path in new[] { $"/ui/jobs/{theirs}", $"/ui/jobs/{theirs}/confirm-cancel", $"/ui/jobs/{theirs}/log" })
        {
            using var response = await browser.GetAsync(path);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }
        var page = await (await browser.GetAsync($"/ui/jobs/{theirs}")).Content.ReadAsStringAsync();

        Assert.Contains("<h1>Not found</h1>", page, StringComparison.Ordinal);

        Assert.DoesNotContain("theirs", page.Replace(theirs, "", StringComparison.Ordinal), StringComparison.Ordinal);
        var charts = await browser.GetStringAsync($"/ui/jobs/{theirs}/charts");
        Assert.Contains("No metrics yet", charts, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_post_without_an_antiforgery_token_is_refused_and_changes_nothing()
    {
        var (tenant, api) = await app.TenantClientAsync("dash-csrf");
        using var _ = api;
        var id = (await StrataApp.SubmitAsync(api, new { name = "kept", entrypoint = "sleep 30" })).GetProperty("id").GetString()!;
        using var browser = app.BrowserClient();
        (await SignInAsync(browser, await app.TokenForAsync(tenant, Roles.Member))).Dispose();

        using var forged = await browser.PostAsync($"/ui/jobs/{id}/cancel", new FormUrlEncodedContent([new("confirm", "yes")]));

        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        using var signOut = await browser.PostAsync("/ui/signout", new FormUrlEncodedContent([]));
        Assert.Equal(HttpStatusCode.BadRequest, signOut.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/ui/jobs")).StatusCode);
        var job = await api.GetFromJsonAsync<TrainingJob>($"/v1/jobs/training/{id}", Http.Json);
        Assert.NotEqual(JobStatus.Cancelled, job!.Status);
        Assert.NotEqual(JobStatus.Cancelling, job.Status);
        (await api.DeleteAsync($"/v1/jobs/training/{id}")).Dispose();
    }

    [Fact]
    public async Task A_viewer_sees_no_cancel_and_a_forged_cancel_with_a_valid_token_is_refused()
    {
        var (tenant, api) = await app.TenantClientAsync("dash-viewer");
        using var _ = api;
        var id = (await StrataApp.SubmitAsync(api, new { name = "watched", entrypoint = "sleep 30" })).GetProperty("id").GetString()!;
        using var browser = app.BrowserClient();
        (await SignInAsync(browser, await app.TokenForAsync(tenant, Roles.Viewer))).Dispose();

        var page = await browser.GetStringAsync($"/ui/jobs/{id}");
        Assert.Contains("<h1>watched</h1>", page, StringComparison.Ordinal);
        Assert.DoesNotContain("confirm-cancel", page, StringComparison.Ordinal);
        // The sign-out form gives the viewer a valid antiforgery token to forge a cancel with.
        var token = AntiforgeryToken(page)!;
        using var forged = await browser.PostAsync($"/ui/jobs/{id}/cancel",
            new FormUrlEncodedContent([new("__RequestVerificationToken", token), new("confirm", "yes")]));

        Assert.Equal(HttpStatusCode.Forbidden, forged.StatusCode);
        var job = await api.GetFromJsonAsync<TrainingJob>($"/v1/jobs/training/{id}", Http.Json);
        Assert.True(job!.Status is JobStatus.Pending or JobStatus.Running, job.Status.ToString());
        (await api.DeleteAsync($"/v1/jobs/training/{id}")).Dispose();
    }

    [Fact]
    public async Task A_member_cancels_from_the_confirmation_page()
    {
        var (tenant, api) = await app.TenantClientAsync("dash-cancel");
        using var _ = api;
        var id = (await StrataApp.SubmitAsync(api, new { name = "stopped", entrypoint = "sleep 30" })).GetProperty("id").GetString()!;
        using var browser = app.BrowserClient();
        (await SignInAsync(browser, await app.TokenForAsync(tenant, Roles.Member))).Dispose();
        Assert.Contains($"/ui/jobs/{id}/confirm-cancel", await browser.GetStringAsync($"/ui/jobs/{id}"), StringComparison.Ordinal);

        var confirm = await browser.GetStringAsync($"/ui/jobs/{id}/confirm-cancel");
        using var cancelled = await browser.PostAsync($"/ui/jobs/{id}/cancel",
            new FormUrlEncodedContent([new("__RequestVerificationToken", AntiforgeryToken(confirm)!), new("confirm", "yes")]));

        Assert.Equal(HttpStatusCode.Redirect, cancelled.StatusCode);
        Assert.Equal($"/ui/jobs/{id}", cancelled.Headers.Location!.OriginalString);
        var job = await api.GetFromJsonAsync<TrainingJob>($"/v1/jobs/training/{id}", Http.Json);
        Assert.True(job!.Status is JobStatus.Cancelled or JobStatus.Cancelling, job.Status.ToString());
    }

    [Fact]
    public async Task A_job_page_draws_one_point_per_logged_step_for_each_metric()
    {
        var (tenant, api) = await app.TenantClientAsync("dash-chart");
        using var _ = api;
        var id = (await StrataApp.SubmitAsync(api, new { name = "charted", entrypoint = "sleep 30" })).GetProperty("id").GetString()!;
        var points = Enumerable.Range(1, 25).Select(step => new { name = "loss", value = 1.0 / step, step })
            .Concat(Enumerable.Range(1, 5).Select(step => new { name = "auc", value = step / 10.0, step })).ToArray();
        using (var posted = await api.PostAsJsonAsync($"/v1/jobs/training/{id}/metrics", points)) await Http.ExpectAsync(posted, 200);
        using var browser = app.BrowserClient();
        (await SignInAsync(browser, await app.TokenForAsync(tenant, Roles.Viewer))).Dispose();

        var page = await browser.GetStringAsync($"/ui/jobs/{id}");

        Assert.Equal(25, CirclesOf(page, "loss"));
        Assert.Equal(5, CirclesOf(page, "auc"));
        Assert.Equal(25, CirclesOf(await browser.GetStringAsync($"/ui/jobs/{id}/charts"), "loss"));
        (await api.DeleteAsync($"/v1/jobs/training/{id}")).Dispose();
    }

    [Fact]
    public async Task A_job_pages_charts_show_time_on_the_x_axis_when_asked()
    {
        var (tenant, api) = await app.TenantClientAsync("dash-chart-time");
        using var _ = api;
        var id = (await StrataApp.SubmitAsync(api, new { name = "timed", entrypoint = "sleep 30" })).GetProperty("id").GetString()!;
        // Three points a minute apart, logged at steps that say nothing of time (all step 0).
        var start = DateTimeOffset.UtcNow.AddMinutes(-5);
        var points = Enumerable.Range(0, 3).Select(i => new { name = "loss", value = 1.0 / (i + 1), step = 0, time = start.AddSeconds(75 * i) }).ToArray();
        using (var posted = await api.PostAsJsonAsync($"/v1/jobs/training/{id}/metrics", points)) await Http.ExpectAsync(posted, 200);
        using var browser = app.BrowserClient();
        (await SignInAsync(browser, await app.TokenForAsync(tenant, Roles.Viewer))).Dispose();

        var byStep = await browser.GetStringAsync($"/ui/jobs/{id}");
        var byTime = await browser.GetStringAsync($"/ui/jobs/{id}?x=time");
        var refreshed = await browser.GetStringAsync($"/ui/jobs/{id}/charts?x=time");

        Assert.Contains("aria-label=\"loss by step: 3 points", byStep, StringComparison.Ordinal);
        Assert.Contains("data-charts-x=\"step\"", byStep, StringComparison.Ordinal);
        Assert.Contains("aria-label=\"loss by time: 3 points", byTime, StringComparison.Ordinal);
        Assert.Contains("data-charts-x=\"time\"", byTime, StringComparison.Ordinal);
        // 0 to 2:30 after the first point, the last at 2:30; the page's live refresh asks for the same axis.
        Assert.Contains(">2:30</text>", byTime, StringComparison.Ordinal);
        Assert.Contains("last 0.3333 at 2:30", byTime, StringComparison.Ordinal);
        Assert.Equal(3, CirclesOf(refreshed, "loss"));
        Assert.Contains("data-x=\"time\"", refreshed, StringComparison.Ordinal);
        (await api.DeleteAsync($"/v1/jobs/training/{id}")).Dispose();
    }

    [Fact]
    public async Task A_sign_in_code_works_once_as_the_token_that_minted_it()
    {
        var (tenant, api) = await app.TenantClientAsync("dash-code");
        using var _ = api;
        using var minted = await api.PostAsync("/v1/ui/signin-codes", null);
        var code = (await Http.ExpectAsync(minted, 200)).Deserialize<DashboardSignInCode>(Http.Json)!;
        var path = new Uri(code.Url).PathAndQuery;
        Assert.Equal($"/ui/signin?code={code.Code}", path);

        using var browser = app.BrowserClient();
        using var first = await browser.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Contains(first.Headers.GetValues("Set-Cookie"), c => c.StartsWith("strata_ui=", StringComparison.Ordinal));
        Assert.Contains($"member of {tenant}", await browser.GetStringAsync("/ui/jobs"), StringComparison.Ordinal);

        using var second = await app.BrowserClient().GetAsync(path);
        Assert.Equal(HttpStatusCode.Unauthorized, second.StatusCode);
        Assert.Contains("used already", await second.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var anonymous = await app.AnonymousClient().PostAsync("/v1/ui/signin-codes", null);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }

    [Fact]
    public async Task Another_tenants_model_and_deployment_are_404_pages_and_a_viewers_forged_alias_move_is_refused()
    {
        var (tenant, api) = await app.TenantClientAsync("dash-models");
        using var _ = api;
        using (var created = await api.PostAsJsonAsync("/v1/models", new { name = "churn" })) await Http.ExpectAsync(created, 201);
        var (rival, __) = await app.TenantClientAsync("dash-models-rival");
        using var theirs = app.BrowserClient();
        (await SignInAsync(theirs, await app.TokenForAsync(rival, Roles.Owner))).Dispose();
        foreach (var path in new[] { "/ui/models/churn", "/ui/models/churn/confirm-alias?alias=production&version=1", "/ui/deployments/churn", "/ui/deployments/churn/confirm?action=rollback" })
        {
            using var response = await theirs.GetAsync(path);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Contains("<h1>Not found</h1>", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using var viewer = app.BrowserClient();
        (await SignInAsync(viewer, await app.TokenForAsync(tenant, Roles.Viewer))).Dispose();
        var page = await viewer.GetStringAsync("/ui/models/churn");
        Assert.Contains("<h1>Model churn</h1>", page, StringComparison.Ordinal);
        Assert.DoesNotContain("Move alias", page, StringComparison.Ordinal);
        using var forged = await viewer.PostAsync("/ui/models/churn/aliases/production",
            new FormUrlEncodedContent([new("__RequestVerificationToken", AntiforgeryToken(page)!), new("version", "1")]));
        Assert.Equal(HttpStatusCode.Forbidden, forged.StatusCode);
        using var rolledBack = await viewer.PostAsync("/ui/deployments/churn/rollback",
            new FormUrlEncodedContent([new("__RequestVerificationToken", AntiforgeryToken(page)!), new("version", "1")]));
        Assert.Equal(HttpStatusCode.Forbidden, rolledBack.StatusCode);
    }

    [Fact]
    public async Task Compare_shows_only_the_tenants_own_runs_and_says_how_many_it_left_out()
    {
        var (tenant, api) = await app.TenantClientAsync("dash-compare");
        using var _ = api;
        var (__, rival) = await app.TenantClientAsync("dash-compare-rival");
        using var ___ = rival;
        var mine = (await StrataApp.SubmitAsync(api, new { name = "mine", entrypoint = "true", hyperparameters = new { rate = 1 } })).GetProperty("id").GetString()!;
        var theirs = (await StrataApp.SubmitAsync(rival, new { name = "theirs", entrypoint = "true", hyperparameters = new { rate = 2 } })).GetProperty("id").GetString()!;
        using var browser = app.BrowserClient();
        (await SignInAsync(browser, await app.TokenForAsync(tenant, Roles.Viewer))).Dispose();

        var page = await browser.GetStringAsync($"/ui/compare?id={mine}&id={theirs}");

        Assert.Contains("1 of the ids named are not jobs of this tenant", page, StringComparison.Ordinal);
        Assert.DoesNotContain("theirs", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_quota_page_draws_a_bar_per_resource_with_its_use_in_words()
    {
        var (tenant, api) = await app.TenantClientAsync("dash-quota");
        using var _ = api;
        var id = (await StrataApp.SubmitAsync(api, new { name = "holding", entrypoint = "sleep 30", compute = new { cpu_cores = 2 } })).GetProperty("id").GetString()!;
        var quota = await api.GetFromJsonAsync<QuotaStatus>("/v1/quota", Http.Json);
        using var browser = app.BrowserClient();
        (await SignInAsync(browser, await app.TokenForAsync(tenant, Roles.Viewer))).Dispose();

        var page = await browser.GetStringAsync("/ui/quota");

        foreach (var (name, usage) in quota!.Resources)
        {
            Assert.Contains($"data-quota=\"{name}\"", page, StringComparison.Ordinal);
        }
        var cpu = quota.Resources.Single(r => r.Key.Contains("cpu", StringComparison.Ordinal));
        Assert.Contains($"{cpu.Value.Used.ToString(System.Globalization.CultureInfo.InvariantCulture)} of {cpu.Value.Limit.ToString(System.Globalization.CultureInfo.InvariantCulture)}", page, StringComparison.Ordinal);
        (await api.DeleteAsync($"/v1/jobs/training/{id}")).Dispose();
    }

    [Fact]
    public async Task The_admin_page_lists_tenants_with_their_queues_for_the_admin_only()
    {
        var (tenant, api) = await app.TenantClientAsync("dash-admin");
        using var _ = api;
        using var admin = app.BrowserClient();
        (await SignInAsync(admin, app.AdminToken)).Dispose();

        var page = await admin.GetStringAsync("/ui/admin");

        Assert.Contains($"data-tenant=\"{tenant}\"", page, StringComparison.Ordinal);
        Assert.Contains("held by running attempts", page, StringComparison.Ordinal);
        Assert.Contains("An admin's token belongs to no tenant", await admin.GetStringAsync("/ui/jobs"), StringComparison.Ordinal);
        using var owner = app.BrowserClient();
        (await SignInAsync(owner, await app.TokenForAsync(tenant, Roles.Owner))).Dispose();
        using var refused = await owner.GetAsync("/ui/admin");
        Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
        Assert.DoesNotContain("/ui/admin", await owner.GetStringAsync("/ui/jobs"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_address_is_the_not_found_page_with_navigation_and_signed_out_it_is_the_sign_in_page()
    {
        var (tenant, api) = await app.TenantClientAsync("dash-nowhere");
        using var _ = api;
        using var browser = app.BrowserClient();

        using (var signedOut = await browser.GetAsync("/ui/no/such/page?x=1"))
        {
            Assert.Equal(HttpStatusCode.Redirect, signedOut.StatusCode);
            Assert.Equal("/ui/signin?return=%2Fui%2Fno%2Fsuch%2Fpage%3Fx%3D1", signedOut.Headers.Location!.OriginalString);
        }
        (await SignInAsync(browser, await app.TokenForAsync(tenant, Roles.Viewer))).Dispose();
        foreach (var path in new[] { "/ui/no/such/page", "/ui/jobss", "/ui/deployments/churn/nothing" })
        {
            using var response = await browser.GetAsync(path);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            var page = await response.Content.ReadAsStringAsync();
            Assert.Contains("<h1>Not found</h1>", page, StringComparison.Ordinal);
            Assert.Contains("<nav aria-label=\"Main\">", page, StringComparison.Ordinal);
            Assert.Contains("Sign out", page, StringComparison.Ordinal);
        }
    }

    /// <summary>Signs <paramref name="browser"/> in through the sign-in form, as a person would.</summary>
    internal static async Task<HttpResponseMessage> SignInAsync(HttpClient browser, string token)
    {
        var form = await browser.GetStringAsync("/ui/signin");
        return await browser.PostAsync("/ui/signin", new FormUrlEncodedContent(
            [new("__RequestVerificationToken", AntiforgeryToken(form)!), new("token", token), new("return", "/ui/jobs")]));
    }

    internal static string? AntiforgeryToken(string page) =>
        AntiforgeryInput().Match(page) is { Success: true } match ? WebUtility.HtmlDecode(match.Groups[1].Value) : null;

    private static int CirclesOf(string page, string metric)
    {
        var start = page.IndexOf($"data-metric=\"{metric}\"", StringComparison.Ordinal);
        Assert.True(start >= 0, $"no chart of {metric}");
        var end = page.IndexOf("</svg>", start, StringComparison.Ordinal);
        return Regex.Count(page[start..end], "<circle ");
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\"[^>]*value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryInput();
}
