using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Strata.Contracts;
using Strata.Server.Tests.Deployments;
using Strata.Server.Tests.Support;
using static Strata.Server.Tests.Dashboard.DashboardPageTests;

namespace Strata.Server.Tests.Dashboard;

/// <summary>
/// The deployment pages in process, on a churn model with two versions: the canary's weight set from the page (and
/// who may not), and the stream that tells the pages when a deployment changes.
/// </summary>
public sealed partial class DeploymentPageTests(DeploymentApp app) : IClassFixture<DeploymentApp>
{
    [Fact]
    public async Task A_member_sets_the_canary_weight_through_its_confirmation_and_a_bad_weight_changes_nothing()
    {
        var (tenant, api) = await DeployWithCanaryAsync("dash-weight");
        using var _ = api;
        using var browser = app.BrowserClient();
        (await SignInAsync(browser, await app.TokenForAsync(tenant, Roles.Member))).Dispose();
        var page = await browser.GetStringAsync("/ui/deployments/churn");
        Assert.Contains("Set canary weight…", page, StringComparison.Ordinal);
        Assert.Contains("<span data-canary-weight>20%</span>", page, StringComparison.Ordinal);

        foreach (var bad in new[] { "100", "-5", "12.5", "lots" })
        {
            using var refused = await browser.GetAsync($"/ui/deployments/churn/confirm?action=weight&weight={Uri.EscapeDataString(bad)}");
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            var body = await refused.Content.ReadAsStringAsync();
            Assert.Contains("<h1>Not a canary weight</h1>", body, StringComparison.Ordinal);
            Assert.Contains("a whole number of percent from 0 to 99", body, StringComparison.Ordinal);
            Assert.DoesNotContain("canary-weight\"", body, StringComparison.Ordinal);
        }
        var confirm = await browser.GetStringAsync("/ui/deployments/churn/confirm?action=weight&weight=35");
        Assert.Contains("<h1>Set the canary of churn to 35%?</h1>", confirm, StringComparison.Ordinal);
        var token = AntiforgeryToken(confirm)!;

        // A forged weight past the confirmation is refused as well, with the same words.
        using (var forged = await PostWeightAsync(browser, token, "100", version: 2))
        {
            Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
            Assert.Contains("a whole number of percent from 0 to 99", await forged.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        // A confirmation of another canary (version 1 is the one served) changes nothing either.
        using (var stale = await PostWeightAsync(browser, token, "35", version: 1))
        {
            Assert.Equal(HttpStatusCode.BadRequest, stale.StatusCode);
            Assert.Contains("no longer version 1", await stale.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        Assert.Equal(0.2, await CanaryWeightAsync(api));

        using (var set = await PostWeightAsync(browser, token, "35", version: 2))
        {
            Assert.Equal(HttpStatusCode.Redirect, set.StatusCode);
            Assert.Equal("/ui/deployments/churn", set.Headers.Location!.OriginalString);
        }
        Assert.Equal(0.35, await CanaryWeightAsync(api));
        Assert.Contains("<span data-canary-weight>35%</span>", await browser.GetStringAsync("/ui/deployments/churn"), StringComparison.Ordinal);

        var remove = await browser.GetStringAsync("/ui/deployments/churn/confirm?action=weight&weight=0");
        Assert.Contains("<h1>Remove the canary of churn?</h1>", remove, StringComparison.Ordinal);
        using (var removed = await PostWeightAsync(browser, AntiforgeryToken(remove)!, "0", version: 2)) Assert.Equal(HttpStatusCode.Redirect, removed.StatusCode);
        var deployment = await api.GetFromJsonAsync<JsonElement>("/v1/deployments/churn", Http.Json);
        Assert.Equal(JsonValueKind.Null, deployment.GetProperty("canary").ValueKind);
        Assert.DoesNotContain("Set canary weight…", await browser.GetStringAsync("/ui/deployments/churn"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_viewer_sees_no_weight_form_and_a_forged_weight_is_refused_as_is_one_without_an_antiforgery_token()
    {
        var (tenant, api) = await DeployWithCanaryAsync("dash-weight-viewer");
        using var _ = api;
        using var viewer = app.BrowserClient();
        (await SignInAsync(viewer, await app.TokenForAsync(tenant, Roles.Viewer))).Dispose();
        var page = await viewer.GetStringAsync("/ui/deployments/churn");
        Assert.Contains("<span data-canary-weight>20%</span>", page, StringComparison.Ordinal);
        Assert.DoesNotContain("Set canary weight…", page, StringComparison.Ordinal);
        Assert.Contains("<h1>Not allowed</h1>", await viewer.GetStringAsync("/ui/deployments/churn/confirm?action=weight&weight=50"), StringComparison.Ordinal);

        // The sign-out form gives the viewer a valid antiforgery token to forge the change with.
        using (var forged = await PostWeightAsync(viewer, AntiforgeryToken(page)!, "50", version: 2)) Assert.Equal(HttpStatusCode.Forbidden, forged.StatusCode);
        using var member = app.BrowserClient();
        (await SignInAsync(member, await app.TokenForAsync(tenant, Roles.Member))).Dispose();
        using (var tokenless = await member.PostAsync("/ui/deployments/churn/canary-weight", new FormUrlEncodedContent([new("weight", "50"), new("version", "2")])))
        {
            Assert.Equal(HttpStatusCode.BadRequest, tokenless.StatusCode);
        }

        Assert.Equal(0.2, await CanaryWeightAsync(api));
    }

    [Fact]
    public async Task Another_tenants_deployment_has_no_weight_confirmation_no_weight_change_and_no_stream()
    {
        var (_, api) = await DeployWithCanaryAsync("dash-weight-owner");
        using var __ = api;
        var (rival, ___) = await app.TenantClientAsync("dash-weight-rival");
        using var theirs = app.BrowserClient();
        (await SignInAsync(theirs, await app.TokenForAsync(rival, Roles.Owner))).Dispose();
        var list = await theirs.GetStringAsync("/ui/deployments");

        using (var confirm = await theirs.GetAsync("/ui/deployments/churn/confirm?action=weight&weight=50"))
        {
            Assert.Equal(HttpStatusCode.NotFound, confirm.StatusCode);
            Assert.Contains("<h1>Not found</h1>", await confirm.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        using (var post = await PostWeightAsync(theirs, AntiforgeryToken(list)!, "50", version: 2)) Assert.Equal(HttpStatusCode.NotFound, post.StatusCode);
        using (var stream = await theirs.GetAsync("/ui/events/deployments?name=churn&stamp=x", HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.NotFound, stream.StatusCode);
        }
        Assert.Contains("No deployments yet", list, StringComparison.Ordinal);
        Assert.Equal(0.2, await CanaryWeightAsync(api));
    }

    [Fact]
    public async Task The_streams_tell_the_pages_when_a_deployment_changes_and_the_page_then_shows_the_change()
    {
        var (tenant, api) = await DeployWithCanaryAsync("dash-live");
        using var _ = api;
        using var browser = app.BrowserClient();
        (await SignInAsync(browser, await app.TokenForAsync(tenant, Roles.Viewer))).Dispose();
        var page = await browser.GetStringAsync("/ui/deployments/churn");
        var list = await browser.GetStringAsync("/ui/deployments");
        Assert.Contains("data-live-deployments=\"churn\"", page, StringComparison.Ordinal);
        // Present without a value: the list's stream names no deployment.
        Assert.Contains("data-live-deployments data-stamp=", list, StringComparison.Ordinal);
        Assert.NotEmpty(Stamp(page));
        Assert.NotEmpty(Stamp(list));
        // Only a bound on a broken test, not a timing under test: a stream sends an event once something changes.
        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(2));

        using var one = await OpenAsync(browser, $"/ui/events/deployments?name=churn&stamp={Stamp(page)}", bound.Token);
        using var all = await OpenAsync(browser, $"/ui/events/deployments?stamp={Stamp(list)}", bound.Token);
        using (var patched = await api.PatchAsJsonAsync("/v1/deployments/churn", new { canary = new { weight = 0.4 } })) await Http.ExpectAsync(patched, 200);

        var stamp = await NextEventAsync(one, bound.Token);
        await NextEventAsync(all, bound.Token);
        var after = await browser.GetStringAsync("/ui/deployments/churn");
        Assert.Contains("<span data-canary-weight>40%</span>", after, StringComparison.Ordinal);
        Assert.NotEqual(Stamp(page), stamp);
        Assert.Contains("v2 at 40", await browser.GetStringAsync("/ui/deployments"), StringComparison.Ordinal);
    }

    /// <summary>A tenant with churn versions 1 and 2, deployed as <c>churn</c> serving 1 with version 2 as a canary at 20%.</summary>
    private async Task<(string Tenant, HttpClient Api)> DeployWithCanaryAsync(string prefix)
    {
        var (tenant, api) = await app.TenantClientAsync(prefix);
        await DeploymentTests.RegisterAsync(app, api, tenant);
        await DeploymentTests.RegisterAsync(app, api, tenant);
        using var created = await api.PostAsJsonAsync("/v1/deployments",
            new { model = "churn@1", min_replicas = 1, max_replicas = 1, canary = new { model = "churn@2", weight = 0.2 } });
        await Http.ExpectAsync(created, 201);
        return (tenant, api);
    }

    private static async Task<double> CanaryWeightAsync(HttpClient api) =>
        (await api.GetFromJsonAsync<JsonElement>("/v1/deployments/churn", Http.Json)).GetProperty("canary").GetProperty("weight").GetDouble();

    private static Task<HttpResponseMessage> PostWeightAsync(HttpClient browser, string antiforgery, string weight, int version) =>
        browser.PostAsync("/ui/deployments/churn/canary-weight", new FormUrlEncodedContent(
            [new("__RequestVerificationToken", antiforgery), new("weight", weight), new("version", version.ToString(System.Globalization.CultureInfo.InvariantCulture))]));

    private static string Stamp(string page) => StampAttribute().Match(page).Groups[1].Value;

    private static async Task<StreamReader> OpenAsync(HttpClient browser, string path, CancellationToken cancellationToken)
    {
        var response = await browser.GetAsync(path, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        return new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
    }

    /// <summary>The data of the stream's next <c>deployment</c> event.</summary>
    private static async Task<string> NextEventAsync(StreamReader stream, CancellationToken cancellationToken)
    {
        while (await stream.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line != "event: deployment") continue;
            var data = await stream.ReadLineAsync(cancellationToken);
            return data!["data: ".Length..];
        }
        throw new InvalidOperationException("the stream ended");
    }

    [GeneratedRegex("data-stamp=\"([0-9A-F]+)\"")]
    private static partial Regex StampAttribute();
}
