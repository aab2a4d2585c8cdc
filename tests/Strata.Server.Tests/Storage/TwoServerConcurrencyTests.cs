using System.Net.Http.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Strata.Server.Storage;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Storage;

/// <summary>
/// Two servers on one PostgreSQL and one signing key, as a scaled-out control plane runs:
/// each has its own batched writer, so the same key can be inserted by both at once and only the database sees
/// the collision. Half of each burst goes to each server; none may answer a 5xx.
/// </summary>
public sealed class TwoServerConcurrencyTests : IAsyncLifetime
{
    private const int Burst = 50;

    private PostgresDatabase? _database;
    private StrataApp? _first;
    private StrataApp? _second;

    public async Task InitializeAsync()
    {
        if (PostgresDatabase.SkipReason is not null) return;
        _database = await PostgresDatabase.CreateAsync();
        var shared = new Dictionary<string, string?> { ["Storage:Provider"] = "postgres", ["Storage:ConnectionString"] = _database.ConnectionString };
        _first = new StrataApp(StorageKind.Sqlite, shared);
        await _first.StartIfNeededAsync();
        // Its own data folder with the first one's signing key: each accepts the other's tokens.
        _second = new StrataApp(StorageKind.Sqlite, shared);
        Directory.CreateDirectory(_second.DataPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var key = Path.Combine(_second.DataPath, "signing-key");
        File.Copy(Path.Combine(_first.DataPath, "signing-key"), key);
        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        await _second.StartIfNeededAsync();
    }

    public async Task DisposeAsync()
    {
        if (_second is not null) await _second.DisposeAsync();
        if (_first is not null) await _first.DisposeAsync();
        if (_database is not null) await _database.DisposeAsync();
    }

    /// <summary>Sends the burst, alternating between the servers; asserts no 5xx; returns the statuses.</summary>
    private static async Task<int[]> BurstAsync(HttpClient first, HttpClient second, Func<HttpClient, Task<HttpResponseMessage>> send)
    {
        var statuses = await Task.WhenAll(Enumerable.Range(0, Burst).Select(async i =>
        {
            using var response = await send(i % 2 == 0 ? first : second);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True((int)response.StatusCode < 500, $"{(int)response.StatusCode}: {text}");
            return (int)response.StatusCode;
        }));
        return statuses;
    }

    private async Task<T> InStoreAsync<T>(Func<StrataDbContext, Task<T>> query)
    {
        await using var db = _first!.Services.GetRequiredService<Store>().CreateContext();
        return await query(db);
    }

    [SkippableFact]
    public async Task Concurrent_creates_of_one_tenant_on_two_servers_create_it_once()
    {
        Skip.If(PostgresDatabase.SkipReason is not null, PostgresDatabase.SkipReason);
        var id = StrataApp.UniqueId("two");
        using var first = _first!.AdminClient();
        using var second = _second!.AdminClient();

        var statuses = await BurstAsync(first, second, client => client.PostAsJsonAsync("/v1/tenants", new { id }));

        Assert.Equal(1, statuses.Count(s => s == 201));
        Assert.Equal(Burst - 1, statuses.Count(s => s == 409));
        Assert.Equal(1, await InStoreAsync(db => db.Tenants.CountAsync(t => t.Id == id)));
    }

    [SkippableFact]
    public async Task Concurrent_puts_of_one_new_alias_on_two_servers_all_set_it()
    {
        Skip.If(PostgresDatabase.SkipReason is not null, PostgresDatabase.SkipReason);
        var (tenant, first) = await _first!.TenantClientAsync("two-alias");
        using var _ = first;
        var path = Path.Combine(_first.DataPath, "artifacts", tenant, "out", "model.zip");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, [(byte)'P', (byte)'K', 3, 4, .. "weights"u8.ToArray()]);
        using (var registered = await first.PostAsJsonAsync("/v1/models/churn/versions", new { path = "out/model.zip" }))
        {
            await Http.ExpectAsync(registered, 201);
        }
        using var second = _second!.ClientFor(first.DefaultRequestHeaders.Authorization!.Parameter!);

        var statuses = await BurstAsync(first, second, client => client.PutAsJsonAsync("/v1/models/churn/aliases/production", new { version = 1 }));

        Assert.All(statuses, s => Assert.Equal(200, s));
        Assert.Equal(1, await InStoreAsync(db => db.ModelAliases.CountAsync(a => a.TenantId == tenant)));
    }

    [SkippableFact]
    public async Task Concurrent_first_reports_of_one_metric_on_two_servers_record_every_point_in_one_series()
    {
        Skip.If(PostgresDatabase.SkipReason is not null, PostgresDatabase.SkipReason);
        var (_, first) = await _first!.TenantClientAsync("two-metrics");
        using var _ = first;
        var id = (await StrataApp.SubmitAsync(first, new { name = "metrics", entrypoint = "sleep 60", compute = new { cpu_cores = 1, memory_gb = 1 } })).GetProperty("id").GetString()!;
        using var second = _second!.ClientFor(first.DefaultRequestHeaders.Authorization!.Parameter!);

        var statuses = await BurstAsync(first, second, client => client.PostAsJsonAsync($"/v1/jobs/training/{id}/metrics", new { name = "loss", value = 0.5, step = 1 }));

        Assert.All(statuses, s => Assert.Equal(200, s));
        Assert.Equal(Burst, await InStoreAsync(db => db.Metrics.CountAsync(m => m.JobId == id)));
        Assert.Equal(Burst, (await InStoreAsync(db => db.MetricSeries.SingleAsync(s => s.JobId == id))).Count);
        using var cancel = await first.DeleteAsync($"/v1/jobs/training/{id}");
        Assert.Equal(204, (int)cancel.StatusCode);
    }

    [SkippableFact]
    public async Task Concurrent_submissions_and_uploads_with_one_idempotency_key_on_two_servers_create_one_of_each()
    {
        Skip.If(PostgresDatabase.SkipReason is not null, PostgresDatabase.SkipReason);
        var (tenant, first) = await _first!.TenantClientAsync("two-idem");
        using var _ = first;
        using var second = _second!.ClientFor(first.DefaultRequestHeaders.Authorization!.Parameter!);

        async Task BurstWithKeyAsync(string url, Func<HttpContent> content)
        {
            var key = Guid.NewGuid().ToString();
            var answers = await Task.WhenAll(Enumerable.Range(0, Burst).Select(i =>
                Idempotency.IdempotentRequests.PostAsync(i % 2 == 0 ? first : second, url, content(), key)));
            var created = answers.Where(a => a.Status == 201).ToList();
            Assert.NotEmpty(created);
            Assert.All(created, a => Assert.Equal(created[0], a));
            Assert.All(answers.Where(a => a.Status != 201), a => Assert.Equal((409, Contracts.ProblemTypes.IdempotencyKeyInFlight), (a.Status, a.ProblemType)));
            // Once both have answered, each server replays the one answer.
            Assert.Equal(created[0], await Idempotency.IdempotentRequests.PostAsync(first, url, content(), key));
            Assert.Equal(created[0], await Idempotency.IdempotentRequests.PostAsync(second, url, content(), key));
        }

        await BurstWithKeyAsync("/v1/jobs/training", () => Http.JsonText("""{"name":"once","entrypoint":"true","compute":{"cpu_cores":1,"memory_gb":1}}"""));
        await BurstWithKeyAsync("/v1/artifacts?name=data.csv", () => Http.JsonText("a,b\n1,2\n", "application/octet-stream"));

        Assert.Equal(1, await InStoreAsync(db => db.Jobs.CountAsync(j => j.TenantId == tenant)));
        Assert.Equal(1, await InStoreAsync(db => db.Artifacts.CountAsync(a => a.TenantId == tenant)));
    }
}
