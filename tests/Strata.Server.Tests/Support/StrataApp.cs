using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Strata.Contracts;
using Strata.Server.Storage;

namespace Strata.Server.Tests.Support;

/// <summary>Which store an app under test keeps its state in.</summary>
public enum StorageKind
{
    Sqlite,
    Postgres,
}

/// <summary>
/// The whole server in process (<see cref="WebApplicationFactory{TEntryPoint}"/>), on a fresh data folder
/// and a fresh database of its own, with settings that keep tests fast. Jobs really run: the local
/// runtime starts the <c>strata-worker</c> built beside the server. <see cref="RestartAsync"/> stops the
/// server and starts a new one on the same folder and database.
/// </summary>
public class StrataApp : IAsyncLifetime, IAsyncDisposable
{
    /// <summary>Set in the test process before any app starts: a job must never see it.</summary>
    public const string HostOnlyVariable = "API_TESTS_HOST_ONLY_SECRET";
    public const string HostOnlyValue = "must-not-leak-into-jobs";

    private readonly Dictionary<string, string?> _settings;
    private PostgresDatabase? _database;
    private Factory? _factory;
    private bool _started;

    /// <param name="settings">Extra configuration (<c>Runtime:Local:CpuCores</c> = 1, ...), applied over the test defaults.</param>
    public StrataApp(StorageKind storage = StorageKind.Sqlite, IReadOnlyDictionary<string, string?>? settings = null)
    {
        // The server's own environment: started jobs must not inherit it.
        Environment.SetEnvironmentVariable(HostOnlyVariable, HostOnlyValue);
        Storage = storage;
        DataPath = Path.Combine(Path.GetTempPath(), "strata-api-tests", Guid.NewGuid().ToString("N")[..12]);
        SharedPath = Directory.CreateDirectory(DataPath + "-shared").FullName;
        // Writable by every tenant's user: a root server runs each tenant's jobs as a user of its own.
        File.SetUnixFileMode(SharedPath, (UnixFileMode)Convert.ToInt32("1777", 8));
        _settings = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["Strata:DataPath"] = DataPath,
            // Small and fixed, so that "larger than the machine" and "waits for capacity" do not depend on the test machine.
            ["Runtime:Local:CpuCores"] = "8",
            ["Runtime:Local:MemoryGb"] = "16",
            ["Runtime:Local:StopGraceSeconds"] = "2",
            ["Scheduler:ResyncSeconds"] = "1",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Runtime:Local:Sandbox:ReadWritePaths:0"] = SharedPath,
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            _settings[key] = value;
        }
    }

    public StorageKind Storage { get; }

    /// <summary>
    /// Serve on real Kestrel (on a free loopback port) rather than the in-memory test server, for tests of
    /// what only Kestrel does: its body size limit, its parsing of the request line.
    /// </summary>
    protected bool OnKestrel { get; init; }

    /// <summary>Sets one more setting before the app starts (for settings that depend on <see cref="DataPath"/>).</summary>
    protected void Configure(string key, string? value) => _settings[key] = value;

    public string DataPath { get; }

    /// <summary>A folder the test and every job may write (a sandbox shows jobs nothing else of this machine): release files, scripts.</summary>
    public string SharedPath { get; }

    /// <summary>Why this app cannot run here (no PostgreSQL configured), or null.</summary>
    public string? SkipReason => Storage == StorageKind.Postgres ? PostgresDatabase.SkipReason : null;

    /// <summary>The token the server wrote to <c>&lt;data&gt;/admin-token</c> on start.</summary>
    public string AdminToken { get; private set; } = "";

    /// <summary>The HS256 key the server signs with (<c>&lt;data&gt;/signing-key</c>).</summary>
    public byte[] SigningKey { get; private set; } = [];

    public IServiceProvider Services => Started.Services;

    private Factory Started => _factory ?? throw new InvalidOperationException("The app has not been started.");

    public async Task InitializeAsync()
    {
        if (SkipReason is not null || _started) return;
        _started = true;
        if (Storage == StorageKind.Postgres)
        {
            _database = await PostgresDatabase.CreateAsync();
            _settings["Storage:Provider"] = "postgres";
            _settings["Storage:ConnectionString"] = _database.ConnectionString;
        }
        await StartAsync();
    }

    /// <summary>Starts the app if it is not yet (for tests that make their own app rather than share a fixture).</summary>
    public Task StartIfNeededAsync() => InitializeAsync();

    /// <summary>
    /// Stops the server (as a shutdown would) and starts a new one on the same data folder and database; in
    /// between, <paramref name="whileStopped"/> may change the store, as a server that crashed mid-way would have left it.
    /// </summary>
    public async Task RestartAsync(Func<Store, Task>? whileStopped = null)
    {
        if (_factory is not null)
        {
            await _factory.DisposeAsync();
            _factory = null;
        }
        if (whileStopped is not null)
        {
            await whileStopped(OpenStore());
        }
        await StartAsync();
    }

    /// <summary>A store of its own on the app's database, for when no server runs on it.</summary>
    private Store OpenStore()
    {
        if (_database is not null)
        {
            var options = new DbContextOptionsBuilder<PostgresStrataDbContext>().UseNpgsql(_database.ConnectionString).Options;
            return new Store(new PooledDbContextFactory<PostgresStrataDbContext>(options), "postgres");
        }
        var sqlite = new DbContextOptionsBuilder<SqliteStrataDbContext>().UseSqlite($"Data Source={Path.Combine(DataPath, "strata.db")};Pooling=False").Options;
        return new Store(new PooledDbContextFactory<SqliteStrataDbContext>(sqlite), "sqlite");
    }

    private async Task StartAsync()
    {
        if (OnKestrel) _settings["urls"] = "http://127.0.0.1:0";
        _factory = new Factory(_settings, ConfigureServices);
        if (OnKestrel)
        {
            _factory.UseKestrel();
            _factory.StartServer();
        }
        else
        {
            // Touching Server builds and starts the host; the admin token is written while it starts.
            _ = _factory.Server;
        }
        AdminToken = (await File.ReadAllTextAsync(Path.Combine(DataPath, "admin-token"))).Trim();
        SigningKey = Convert.FromBase64String((await File.ReadAllTextAsync(Path.Combine(DataPath, "signing-key"))).Trim());
    }

    /// <summary>A client with no token.</summary>
    public HttpClient AnonymousClient() => Started.CreateClient();

    public HttpClient AdminClient() => ClientFor(AdminToken);

    /// <summary>A client as a browser is: it keeps cookies and shows redirects rather than following them (the dashboard's tests).</summary>
    public HttpClient BrowserClient() =>
        Started.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });

    public HttpClient ClientFor(string token)
    {
        var client = Started.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    /// <summary>Creates a tenant as the admin; fails the test unless the answer is 201.</summary>
    public async Task<string> CreateTenantAsync(string id)
    {
        using var admin = AdminClient();
        using var response = await admin.PostAsJsonAsync("/v1/tenants", new { id });
        await Http.ExpectAsync(response, 201);
        return id;
    }

    /// <summary>
    /// Deletes the tenant as the admin: fails the test unless the answer is 202 naming it <c>deleting</c>, then
    /// polls until GET is 404 (the deletion is finished). Returns the 202's body.
    /// </summary>
    public async Task<JsonElement> DeleteTenantAsync(string id, TimeSpan? timeout = null)
    {
        using var admin = AdminClient();
        JsonElement accepted;
        using (var response = await admin.DeleteAsync($"/v1/tenants/{id}"))
        {
            accepted = await Http.ExpectAsync(response, 202);
            Assert.Equal("deleting", accepted.GetProperty("status").GetString());
        }
        await WaitForTenantGoneAsync(id, timeout);
        return accepted;
    }

    /// <summary>Polls GET /v1/tenants/{id} as the admin until it is 404; fails with the last answer on time-out.</summary>
    public async Task WaitForTenantGoneAsync(string id, TimeSpan? timeout = null)
    {
        using var admin = AdminClient();
        var deadline = DateTimeOffset.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        var last = "";
        while (DateTimeOffset.UtcNow < deadline)
        {
            using var get = await admin.GetAsync($"/v1/tenants/{id}");
            if ((int)get.StatusCode == 404) return;
            last = $"{(int)get.StatusCode} {await get.Content.ReadAsStringAsync()}";
            await Task.Delay(100);
        }
        Assert.Fail($"Tenant {id} was not deleted in time; last seen: {last}");
    }

    /// <summary>A token of <paramref name="role"/> in <paramref name="tenant"/>, issued by the admin.</summary>
    public async Task<string> TokenForAsync(string tenant, string role)
    {
        using var admin = AdminClient();
        using var response = await admin.PostAsJsonAsync($"/v1/tenants/{tenant}/tokens", new { role });
        var body = await Http.ExpectAsync(response, 201);
        return body.GetProperty("token").GetString()!;
    }

    /// <summary>A new tenant with a unique id (from <paramref name="prefix"/>) and a client of <paramref name="role"/> in it.</summary>
    public async Task<(string Tenant, HttpClient Client)> TenantClientAsync(string prefix, string role = Roles.Member)
    {
        var tenant = await CreateTenantAsync(UniqueId(prefix));
        return (tenant, ClientFor(await TokenForAsync(tenant, role)));
    }

    /// <summary>Submits <paramref name="spec"/> and returns the created job; fails the test unless the answer is 201.</summary>
    public static async Task<JsonElement> SubmitAsync(HttpClient client, object spec)
    {
        using var response = await client.PostAsJsonAsync("/v1/jobs/training", spec, Http.Json);
        var job = await Http.ExpectAsync(response, 201);
        Assert.Equal($"/v1/jobs/training/{job.GetProperty("id").GetString()}", response.Headers.Location?.OriginalString);
        return job;
    }

    /// <summary>Polls the job until <paramref name="until"/> holds; fails with the job's last state on time-out.</summary>
    public static async Task<JsonElement> WaitForAsync(HttpClient client, string id, Func<JsonElement, bool> until, TimeSpan? timeout = null)
    {
        var deadline = DateTimeOffset.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        JsonElement job;
        while (true)
        {
            using var response = await client.GetAsync($"/v1/jobs/training/{id}");
            job = await Http.ExpectAsync(response, 200);
            if (until(job)) return job;
            if (DateTimeOffset.UtcNow > deadline) break;
            await Task.Delay(100);
        }
        Assert.Fail($"Job {id} did not reach the expected state in time; last seen: {job}");
        return job;
    }

    /// <summary>Polls the job until its status is <paramref name="status"/>.</summary>
    public static Task<JsonElement> WaitForStatusAsync(HttpClient client, string id, string status, TimeSpan? timeout = null) =>
        WaitForAsync(client, id, job => job.GetProperty("status").GetString() == status, timeout);

    /// <summary>Polls the job until it has ended (succeeded, failed or cancelled).</summary>
    public static Task<JsonElement> WaitForEndAsync(HttpClient client, string id, TimeSpan? timeout = null) =>
        WaitForAsync(client, id, job => job.GetProperty("status").GetString() is "succeeded" or "failed" or "cancelled", timeout);

    /// <summary>
    /// The token (<c>STRATA_JOB_TOKEN</c>) an attempt of a job printed as a line <c>TOKEN=...</c>: polls the
    /// attempt's log (the latest attempt's when <paramref name="attempt"/> is null) until the line is there.
    /// </summary>
    public static async Task<string> PrintedJobTokenAsync(HttpClient client, string id, int? attempt = null, TimeSpan? timeout = null)
    {
        const string Prefix = "TOKEN=";
        var route = $"/v1/jobs/training/{id}/logs" + (attempt is null ? "" : $"?attempt={attempt}");
        var deadline = DateTimeOffset.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        var log = "";
        while (DateTimeOffset.UtcNow < deadline)
        {
            using var response = await client.GetAsync(route);
            log = await response.Content.ReadAsStringAsync();
            var line = response.IsSuccessStatusCode ? log.Split('\n').FirstOrDefault(l => l.StartsWith(Prefix, StringComparison.Ordinal)) : null;
            if (line is { Length: > 6 }) return line[Prefix.Length..].Trim();
            await Task.Delay(100);
        }
        Assert.Fail($"Job {id} printed no {Prefix} line in time; its log: {log}");
        return "";
    }

    /// <summary>A tenant id or job name no other test uses.</summary>
    public static string UniqueId(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..8]}";

    public async Task DisposeAsync()
    {
        if (_factory is not null)
        {
            await _factory.DisposeAsync();
            _factory = null;
        }
        if (_database is not null)
        {
            await _database.DisposeAsync();
            _database = null;
        }
        try
        {
            // The server's helper: the input cache's folders are read-only, which stops a plain delete when not root.
            Strata.Server.Hosting.FileTrees.Delete(DataPath);
            if (Directory.Exists(SharedPath)) Directory.Delete(SharedPath, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A worker that is still stopping can hold its attempt folder for a moment; the folder is in /tmp.
        }
    }

    async ValueTask IAsyncDisposable.DisposeAsync()
    {
        await DisposeAsync();
        GC.SuppressFinalize(this);
    }

    /// <summary>Replaces services of the server (a test double of the job runtime, say) before it starts.</summary>
    protected virtual void ConfigureServices(IServiceCollection services)
    {
    }

    private sealed class Factory(IReadOnlyDictionary<string, string?> settings, Action<IServiceCollection> configureServices) : WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            foreach (var (key, value) in settings)
            {
                builder.UseSetting(key, value);
            }
            builder.ConfigureServices(configureServices);
        }
    }
}

/// <summary>The app on SQLite, shared by the tests of a class.</summary>
public sealed class SqliteApp : StrataApp
{
    public SqliteApp() : base(StorageKind.Sqlite) { }
}

/// <summary>The app on SQLite, served by Kestrel on a loopback port.</summary>
public sealed class KestrelApp : StrataApp
{
    public KestrelApp() : base(StorageKind.Sqlite) => OnKestrel = true;
}

/// <summary>An app whose local runtime has a single core: a second 1-core job waits for capacity.</summary>
public sealed class OneCoreApp : StrataApp
{
    public OneCoreApp() : base(StorageKind.Sqlite, new Dictionary<string, string?> { ["Runtime:Local:CpuCores"] = "1" }) { }
}

/// <summary>The app on a fresh PostgreSQL database; not started (and its tests skipped) when none is configured.</summary>
public sealed class PostgresApp : StrataApp
{
    public PostgresApp() : base(StorageKind.Postgres) { }
}

/// <summary>
/// The default layout of a server started in a folder: the data folder (<c>./.strata</c>) lies inside the
/// data root (the working directory).
/// </summary>
public sealed class DataFolderInsideDataRootApp : StrataApp
{
    public DataFolderInsideDataRootApp() => Configure("Strata:DataRoots:0", Path.GetDirectoryName(DataPath));
}
