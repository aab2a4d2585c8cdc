using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Strata.Dashboard.Tests.Support;
using static Microsoft.Playwright.Assertions;

namespace Strata.Dashboard.Tests;

/// <summary>
/// A model trained twice by the built-in trainer and deployed: an alias moved, a deployment rolled back and a canary's
/// weight set from their pages.
/// </summary>
public sealed class ModelAndDeploymentPagesTests(DashboardServer dashboard) : IClassFixture<DashboardServer>
{
    private const string Instance = """
        {"tenure_months": 3, "plan": "basic", "contract": "month-to-month", "monthly_charges": 70.5, "total_charges": 211.5,
         "support_calls": 4, "region": "west", "paperless_billing": "yes"}
        """;

    [SkippableFact]
    public async Task An_alias_moves_and_a_deployment_rolls_back_from_their_pages_with_confirmations()
    {
        Skip.If(DashboardServer.Chromium is null, "no chromium on this machine (scripts/test installs Debian's)");
        using var api = dashboard.Api(dashboard.MemberToken);
        await TrainChurnTwiceAsync(api);
        using (var alias = await api.PutAsJsonAsync("/v1/models/churn/aliases/production", new { version = 1 })) alias.EnsureSuccessStatusCode();
        using (var created = await api.PostAsJsonAsync("/v1/deployments", new { name = "churn-api", model = "churn@1", min_replicas = 1, max_replicas = 1 }))
        {
            Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        }
        using (var updated = await api.PatchAsJsonAsync("/v1/deployments/churn-api", new { model = "churn@2" })) updated.EnsureSuccessStatusCode();
        var (context, page) = await dashboard.SignedInAsync(dashboard.MemberToken);
        await using var _ = context;

        await page.GetByRole(AriaRole.Link, new() { Name = "Models" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Models", Exact = true })).ToBeVisibleAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "churn", Exact = true }).ClickAsync();
        await Expect(page.Locator("[data-alias='production']")).ToHaveTextAsync("1");
        await page.GetByLabel("Alias").FillAsync("production");
        await page.GetByLabel("Version").SelectOptionAsync("2");
        await page.GetByRole(AriaRole.Button, new() { Name = "Move alias…" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Move alias production of churn?" })).ToBeVisibleAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Yes, move production to version 2" }).ClickAsync();
        await Expect(page.Locator("[data-alias='production']")).ToHaveTextAsync("2");
        var model = await api.GetFromJsonAsync<JsonElement>("/v1/models/churn");
        Assert.Equal(2, model.GetProperty("aliases").GetProperty("production").GetInt32());
        await DashboardServer.ScreenshotAsync(page, "model-alias-moved");

        await page.GetByRole(AriaRole.Link, new() { Name = "Deployments" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Deployments", Exact = true })).ToBeVisibleAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "churn-api" }).ClickAsync();
        await Expect(page.Locator("[data-version]")).ToHaveTextAsync("2");
        await page.GetByRole(AriaRole.Link, new() { Name = "Roll back to version 1…" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Yes, roll back to version 1" }).ClickAsync();
        await Expect(page.Locator("[data-version]")).ToHaveTextAsync("1");
        var deployment = await api.GetFromJsonAsync<JsonElement>("/v1/deployments/churn-api");
        Assert.Equal(1, deployment.GetProperty("model_version").GetInt32());
        // A prediction (answered, or refused while no replica is ready) shows in the page's figures of the last 15 minutes.
        await Expect(page.Locator("[data-traffic]")).ToContainTextAsync("no predictions");
        (await api.PostAsync("/v1/deployments/churn-api/predict", new StringContent(Instance, System.Text.Encoding.UTF8, "application/json"))).Dispose();
        await page.ReloadAsync();
        await Expect(page.Locator("[data-traffic]")).ToContainTextAsync("1 predictions answered");
        await DashboardServer.ScreenshotAsync(page, "deployment-rolled-back");

        // Another tenant: the same addresses are 404 pages.
        var (rival, rivalPage) = await dashboard.SignedInAsync(dashboard.RivalToken);
        await using var __ = rival;
        Assert.Equal(404, (await rivalPage.GotoAsync("/ui/models/churn"))!.Status);
        Assert.Equal(404, (await rivalPage.GotoAsync("/ui/deployments/churn-api"))!.Status);
        (await api.DeleteAsync("/v1/deployments/churn-api")).Dispose();
    }

    [SkippableFact]
    public async Task A_canarys_weight_is_set_from_the_deployment_page_and_a_change_made_elsewhere_shows_without_reloading()
    {
        Skip.If(DashboardServer.Chromium is null, "no chromium on this machine (scripts/test installs Debian's)");
        using var api = dashboard.Api(dashboard.MemberToken);
        await TrainChurnTwiceAsync(api);
        using (var created = await api.PostAsJsonAsync("/v1/deployments",
            new { name = "churn-canary", model = "churn@1", min_replicas = 1, max_replicas = 1, canary = new { model = "churn@2", weight = 0.2 } }))
        {
            Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        }
        var (context, page) = await dashboard.SignedInAsync(dashboard.MemberToken);
        await using var _ = context;

        await page.GetByRole(AriaRole.Link, new() { Name = "Deployments" }).ClickAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "churn-canary" }).ClickAsync();
        await Expect(page.Locator("[data-canary-weight]")).ToHaveTextAsync("20%");
        await page.GetByLabel("Canary weight").FillAsync("30");
        await page.GetByRole(AriaRole.Button, new() { Name = "Set canary weight…" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Set the canary of churn-canary to 30%?" })).ToBeVisibleAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Yes, set the canary to 30%" }).ClickAsync();
        await Expect(page.Locator("[data-canary-weight]")).ToHaveTextAsync("30%");
        var deployment = await api.GetFromJsonAsync<JsonElement>("/v1/deployments/churn-canary");
        Assert.Equal(0.3, deployment.GetProperty("canary").GetProperty("weight").GetDouble());
        await DashboardServer.ScreenshotAsync(page, "deployment-canary-weight");

        // Changed through the API, the open page follows without a reload.
        using (var updated = await api.PatchAsJsonAsync("/v1/deployments/churn-canary", new { canary = new { weight = 0.5 } })) updated.EnsureSuccessStatusCode();
        await Expect(page.Locator("[data-canary-weight]")).ToHaveTextAsync("50%");
        (await api.DeleteAsync("/v1/deployments/churn-canary")).Dispose();
    }

    /// <summary>Two versions of model churn, trained by the built-in trainer (once for the class: a later test finds them).</summary>
    private async Task TrainChurnTwiceAsync(HttpClient api)
    {
        using (var model = await api.GetAsync("/v1/models/churn"))
        {
            if (model.IsSuccessStatusCode
                && (await model.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("latest_version") is { ValueKind: JsonValueKind.Number } latest
                && latest.GetInt32() >= 2)
            {
                return;
            }
        }
        var data = Path.Combine(dashboard.Server.DataPath, "artifacts", DashboardServer.Team, "churn.csv");
        Directory.CreateDirectory(Path.GetDirectoryName(data)!);
        File.Copy(Path.Combine(RepositoryRoot(), "examples", "churn", "churn.csv"), data, overwrite: true);
        for (var i = 0; i < 2; i++)
        {
            var id = await dashboard.SubmitAsync(dashboard.MemberToken, new
            {
                name = "churn", model = "lightgbm", data_path = "churn.csv", label = "churned", hyperparameters = new { num_iterations = 20 },
            });
            await WaitForAsync(async () => await dashboard.StatusAsync(dashboard.MemberToken, id) is "succeeded" or "failed");
            Assert.Equal("succeeded", await dashboard.StatusAsync(dashboard.MemberToken, id));
        }
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        while (!await condition() && DateTime.UtcNow < deadline) await Task.Delay(200);
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(directory!.FullName, "Strata.slnx"))) directory = directory.Parent;
        return directory.FullName;
    }
}
