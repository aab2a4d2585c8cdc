using System.Net;
using System.Text.Json;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Sandbox;

/// <summary>The sandbox is on by default where bubblewrap works, and says so.</summary>
public sealed class SandboxStatusTests(SqliteApp app) : IClassFixture<SqliteApp>
{
    [SkippableFact]
    public async Task The_capacity_route_says_jobs_run_sandboxed_and_only_an_admin_may_read_it()
    {
        Skip.IfNot(File.Exists("/usr/bin/bwrap"), "bubblewrap is not installed (scripts/test installs it)");
        using var admin = app.AdminClient();
        var capacity = await GetJsonAsync(admin, "/v1/admin/capacity", HttpStatusCode.OK);
        var sandbox = capacity.GetProperty("sandbox");
        Assert.True(sandbox.GetProperty("enabled").GetBoolean(), capacity.ToString());
        Assert.Equal("bwrap", sandbox.GetProperty("mode").GetString());
        Assert.Equal("host", sandbox.GetProperty("network").GetString());
        Assert.Equal(Environment.IsPrivilegedProcess, sandbox.GetProperty("separate_users").GetBoolean());
        Assert.Equal("local", capacity.GetProperty("runtime").GetString());
        Assert.Equal(8, capacity.GetProperty("total").GetProperty("cpu_cores").GetDouble());

        var (_, member) = await app.TenantClientAsync("curious");
        using var _ = member;
        await GetJsonAsync(member, "/v1/admin/capacity", HttpStatusCode.Forbidden);
        using var anonymous = app.AnonymousClient();
        await GetJsonAsync(anonymous, "/v1/admin/capacity", HttpStatusCode.Unauthorized);
    }

    internal static async Task<JsonElement> GetJsonAsync(HttpClient client, string path, HttpStatusCode expected)
    {
        using var response = await client.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{response.StatusCode}: {body}");
        return body.Length == 0 ? default : JsonDocument.Parse(body).RootElement.Clone();
    }
}

/// <summary>An app whose operator turned the sandbox off.</summary>
public sealed class NoSandboxApp : StrataApp
{
    public NoSandboxApp() : base(StorageKind.Sqlite, new Dictionary<string, string?> { ["Runtime:Local:Sandbox:Mode"] = "none" }) { }
}

/// <summary>Without a sandbox, every place an operator looks says loudly that jobs are not isolated, and they are not.</summary>
/// <remarks>
/// Alone, like the other metrics tests: the exporter matches meters by name across the process, so another
/// app's <c>ml_platform_sandbox_enabled 1</c> could be scraped here.
/// </remarks>
[Collection(Process.ServerProcessCollection.Name)]
public sealed class NoSandboxTests(NoSandboxApp app) : IClassFixture<NoSandboxApp>
{
    [Fact]
    public async Task Capacity_and_metrics_say_jobs_are_not_isolated()
    {
        using var admin = app.AdminClient();
        var sandbox = (await SandboxStatusTests.GetJsonAsync(admin, "/v1/admin/capacity", HttpStatusCode.OK)).GetProperty("sandbox");
        Assert.False(sandbox.GetProperty("enabled").GetBoolean());
        Assert.Equal("none", sandbox.GetProperty("mode").GetString());
        Assert.Contains("none", sandbox.GetProperty("reason").GetString(), StringComparison.Ordinal);

        using var anonymous = app.AnonymousClient();
        var metrics = await anonymous.GetStringAsync("/metrics");
        Assert.Matches(@"\nml_platform_sandbox_enabled(\{[^}]*\})? 0\n", metrics);
    }

    /// <summary>What the sandbox prevents, shown without it: the attack tests' probe does find the key here.</summary>
    [Fact]
    public async Task Without_the_sandbox_a_job_can_read_the_signing_key()
    {
        var (_, client) = await app.TenantClientAsync("unconfined");
        using var _ = client;
        var job = await StrataApp.SubmitAsync(client, new { name = "reads-key", entrypoint = $"cat '{Path.Combine(app.DataPath, "signing-key")}'" });
        var id = job.GetProperty("id").GetString()!;
        await StrataApp.WaitForEndAsync(client, id);
        using var logs = await client.GetAsync($"/v1/jobs/training/{id}/logs");
        Assert.Contains(Convert.ToBase64String(app.SigningKey), await logs.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}

/// <summary>An app with a data root that several tenants write their outputs into.</summary>
public sealed class SharedDataRootApp : StrataApp
{
    public SharedDataRootApp() => Configure("Strata:DataRoots:0", DataRoot);

    public string DataRoot => Directory.CreateDirectory(Path.Combine(SharedPath, "root")).FullName;
}

/// <summary>A root server gives a tenant's user the folders made for its job, and no folder another tenant uses.</summary>
public sealed class OutputOwnershipTests(SharedDataRootApp app) : IClassFixture<SharedDataRootApp>
{
    [SkippableFact]
    public async Task A_job_cannot_take_over_an_output_folder_that_holds_someone_elses_files()
    {
        Skip.IfNot(Environment.IsPrivilegedProcess && File.Exists("/usr/bin/bwrap"), "a user per tenant needs a root server and bubblewrap");
        var taken = Directory.CreateDirectory(Path.Combine(app.DataRoot, "taken")).FullName;
        File.WriteAllText(Path.Combine(taken, "model.json"), "another team's model");
        var fresh = Path.Combine(app.DataRoot, "fresh");
        var (_, client) = await app.TenantClientAsync("takeover");
        using var _ = client;

        var intoTaken = await RunAsync(client, taken);
        var intoFresh = await RunAsync(client, fresh);

        Assert.Equal("failed", intoTaken.GetProperty("status").GetString());
        Assert.Equal("another team's model", File.ReadAllText(Path.Combine(taken, "model.json")));
        Assert.Equal("succeeded", intoFresh.GetProperty("status").GetString());
        Assert.Equal("mine", File.ReadAllText(Path.Combine(fresh, "model.json")));
    }

    private static async Task<JsonElement> RunAsync(HttpClient client, string output)
    {
        var job = await StrataApp.SubmitAsync(client, new
        {
            name = "writer",
            model_output_path = output,
            retry = new { max_attempts = 1 },
            entrypoint = "echo -n mine > \"$MODEL_OUTPUT_PATH/model.json\"",
        });
        return await StrataApp.WaitForEndAsync(client, job.GetProperty("id").GetString()!);
    }
}
