using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;

namespace Strata.Dashboard.Tests.Support;

/// <summary>
/// The built server as a real process (two cores, so one job can hold the machine while another waits) with
/// two tenants, and Debian's chromium driven by Playwright (<c>STRATA_TEST_CHROMIUM</c>, else
/// <c>/usr/bin/chromium</c>; scripts/test installs it). Playwright's own browsers are never downloaded.
/// </summary>
public sealed class DashboardServer : IAsyncLifetime
{
    public const string Team = "team";
    public const string Rival = "rival";

    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public ServerProcess Server { get; } = new(new Dictionary<string, string> { ["Runtime__Local__CpuCores"] = "2", ["Runtime__Local__StopGraceSeconds"] = "2" });

    /// <summary>The chromium these tests drive; null when this machine has none (the tests skip then).</summary>
    public static string? Chromium =>
        new[] { Environment.GetEnvironmentVariable("STRATA_TEST_CHROMIUM"), "/usr/bin/chromium" }.FirstOrDefault(File.Exists);

    public string MemberToken { get; private set; } = "";
    public string ViewerToken { get; private set; } = "";
    public string RivalToken { get; private set; } = "";

    public async Task InitializeAsync()
    {
        if (Chromium is not { } chromium) return;
        await Server.StartAsync();
        using var admin = Api(Server.AdminToken);
        foreach (var tenant in new[] { Team, Rival })
        {
            using var created = await admin.PostAsJsonAsync("/v1/tenants", new { id = tenant });
            created.EnsureSuccessStatusCode();
        }
        MemberToken = await TokenAsync(admin, Team, "member");
        ViewerToken = await TokenAsync(admin, Team, "viewer");
        RivalToken = await TokenAsync(admin, Rival, "member");
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new() { ExecutablePath = chromium, Headless = true });
        // Conditions, not times: a job's states take what a busy machine takes.
        Assertions.SetDefaultExpectTimeout(120_000);
    }

    public HttpClient Api(string token)
    {
        var client = new HttpClient { BaseAddress = Server.Url };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    /// <summary>A fresh browser (its own cookies) at a laptop's width, signed in through the sign-in page with <paramref name="token"/>.</summary>
    public async Task<(IBrowserContext Context, IPage Page)> SignedInAsync(string token, int width = 1280)
    {
        var context = await _browser!.NewContextAsync(new() { BaseURL = Server.Url.ToString(), ViewportSize = new() { Width = width, Height = 900 } });
        context.SetDefaultTimeout(120_000);
        var page = await context.NewPageAsync();
        await page.GotoAsync("/ui/jobs");
        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/ui/signin"));
        await page.GetByLabel("Token").FillAsync(token);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Jobs", Exact = true })).ToBeVisibleAsync();
        return (context, page);
    }

    /// <summary>Submits a job; returns its id.</summary>
    public async Task<string> SubmitAsync(string token, object spec)
    {
        using var api = Api(token);
        using var response = await api.PostAsJsonAsync("/v1/jobs/training", spec);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        return JsonDocument.Parse(body).RootElement.GetProperty("id").GetString()!;
    }

    public async Task<string> StatusAsync(string token, string id)
    {
        using var api = Api(token);
        var job = await api.GetFromJsonAsync<JsonElement>($"/v1/jobs/training/{id}");
        return job.GetProperty("status").GetString()!;
    }

    /// <summary>Lets a job waiting on <c>$MARKER_DIR/name</c> go on.</summary>
    public void Release(string name) => File.WriteAllText(Path.Combine(Server.MarkerPath, name), "go\n");

    /// <summary>A shell line that waits until the test calls <see cref="Release"/> with <paramref name="name"/>.</summary>
    public static string WaitFor(string name) => $"while [ ! -e \"$MARKER_DIR/{name}\" ]; do sleep 0.1; done";

    public object Env => new Dictionary<string, string> { ["MARKER_DIR"] = Server.MarkerPath };

    /// <summary>A small screenshot of the page under the test results folder (never committed: TestResults/ is ignored).</summary>
    public static async Task ScreenshotAsync(IPage page, string name)
    {
        var folder = Environment.GetEnvironmentVariable("STRATA_TEST_RESULTS") is { Length: > 0 } results
            ? results
            : Path.Combine(RepositoryRoot(), "TestResults");
        var path = Path.Combine(folder, "dashboard-screenshots", name + ".jpeg");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await page.ScreenshotAsync(new() { Path = path, Type = ScreenshotType.Jpeg, Quality = 40 });
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Strata.slnx"))) directory = directory.Parent;
        return directory?.FullName ?? Path.GetTempPath();
    }

    private static async Task<string> TokenAsync(HttpClient admin, string tenant, string role)
    {
        using var issued = await admin.PostAsJsonAsync($"/v1/tenants/{tenant}/tokens", new { role });
        issued.EnsureSuccessStatusCode();
        return (await issued.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null) await _browser.DisposeAsync();
        _playwright?.Dispose();
        Server.Dispose();
    }
}
