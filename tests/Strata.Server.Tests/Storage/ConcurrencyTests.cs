using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Strata.Contracts;
using Strata.Server.Storage;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Storage;

/// <summary>
/// Every create route under a burst of concurrent requests on one key (issue 15, item 2): one request
/// creates, the others get a 409 problem or the route's documented answer to a repeat, never a 5xx, and
/// the store holds what was created once. The group-commit writer batches such requests together, so two
/// inserts of one key meet in one batch as well as across batches.
/// </summary>
public abstract class ConcurrencyTests<TApp>(TApp app) : IClassFixture<TApp>
    where TApp : StrataApp
{
    private const int Burst = 50;

    private sealed record Answer(int Status, string? MediaType, JsonElement Body);

    /// <summary>Sends <see cref="Burst"/> requests at once; asserts none is a 5xx and every 4xx is problem+json.</summary>
    private static async Task<Answer[]> BurstAsync(Func<int, Task<HttpResponseMessage>> send)
    {
        var answers = await Task.WhenAll(Enumerable.Range(0, Burst).Select(async i =>
        {
            using var response = await send(i);
            var text = await response.Content.ReadAsStringAsync();
            var body = text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
            return new Answer((int)response.StatusCode, response.Content.Headers.ContentType?.MediaType, body);
        }));
        var failures = answers.Where(a => a.Status >= 500).ToList();
        Assert.True(failures.Count == 0, $"{failures.Count} of {Burst} answers were 5xx, e.g. {failures.FirstOrDefault()?.Body}");
        Assert.All(answers.Where(a => a.Status >= 400), a =>
        {
            Assert.Equal("application/problem+json", a.MediaType);
            Assert.Equal(a.Status, a.Body.GetProperty("status").GetInt32());
        });
        return answers;
    }

    /// <summary>Asserts one answer of <paramref name="created"/> and all the others 409 conflicts; returns the created one's body.</summary>
    private static JsonElement ExactlyOneCreated(Answer[] answers, int created = 201)
    {
        var statuses = string.Join(", ", answers.GroupBy(a => a.Status).OrderBy(g => g.Key).Select(g => $"{g.Count()}×{g.Key}"));
        Assert.True(answers.Count(a => a.Status == created) == 1 && answers.Count(a => a.Status == 409) == Burst - 1,
            $"Expected 1×{created} and {Burst - 1}×409, got {statuses}");
        Assert.All(answers.Where(a => a.Status == 409), a => Assert.Equal(ProblemTypes.Conflict, a.Body.GetProperty("type").GetString()));
        return answers.Single(a => a.Status == created).Body;
    }

    private async Task<T> InStoreAsync<T>(Func<StrataDbContext, Task<T>> query)
    {
        await using var db = app.Services.GetRequiredService<Store>().CreateContext();
        return await query(db);
    }

    private string WriteModelFile(string tenant, string name)
    {
        var path = Path.Combine(app.DataPath, "artifacts", tenant, "out", name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, [(byte)'P', (byte)'K', 3, 4, .. "weights"u8.ToArray()]);
        return $"out/{name}";
    }

    [SkippableFact]
    public async Task Concurrent_creates_of_one_tenant_create_it_once_and_the_rest_are_conflicts()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var id = StrataApp.UniqueId("race");
        using var admin = app.AdminClient();

        var answers = await BurstAsync(_ => admin.PostAsJsonAsync("/v1/tenants", new { id }));

        Assert.Equal(id, ExactlyOneCreated(answers).GetProperty("id").GetString());
        Assert.Equal(1, await InStoreAsync(db => db.Tenants.CountAsync(t => t.Id == id)));
    }

    [SkippableFact]
    public async Task Concurrent_token_requests_each_get_a_working_token_and_store_nothing()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var tenant = await app.CreateTenantAsync(StrataApp.UniqueId("race-tokens"));
        using var admin = app.AdminClient();

        // A token is signed, not stored: asking again for the same subject issues another, as documented.
        var answers = await BurstAsync(_ => admin.PostAsJsonAsync($"/v1/tenants/{tenant}/tokens", new { role = "member", subject = "ci" }));

        Assert.All(answers, a => Assert.Equal(201, a.Status));
        using var member = app.ClientFor(answers[^1].Body.GetProperty("token").GetString()!);
        using var me = await member.GetAsync("/v1/me");
        Assert.Equal(tenant, (await Http.ExpectAsync(me, 200)).GetProperty("tenant_id").GetString());
    }

    [SkippableFact]
    public async Task Concurrent_submissions_of_one_job_name_queue_it_once_and_the_rest_are_conflicts()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenant, client) = await app.TenantClientAsync("race-jobs");
        using var _ = client;

        var answers = await BurstAsync(_ => client.PostAsJsonAsync("/v1/jobs/training", new { name = "once", entrypoint = "sleep 60", compute = new { cpu_cores = 1, memory_gb = 1 } }, Http.Json));

        var id = ExactlyOneCreated(answers).GetProperty("id").GetString()!;
        Assert.Equal(1, await InStoreAsync(db => db.Jobs.CountAsync(j => j.TenantId == tenant && j.Name == "once")));
        using var cancel = await client.DeleteAsync($"/v1/jobs/training/{id}");
        Assert.Equal(204, (int)cancel.StatusCode);
    }

    [SkippableFact]
    public async Task Concurrent_uploads_of_one_name_each_store_an_artifact_of_their_own()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenant, client) = await app.TenantClientAsync("race-artifacts");
        using var _ = client;

        // Artifacts are named by the server (a new id per upload), so a repeated name is no collision.
        var answers = await BurstAsync(_ =>
        {
            var content = new ByteArrayContent("a,b\n1,2\n"u8.ToArray());
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            return client.PostAsync("/v1/artifacts?name=data.csv", content);
        });

        Assert.All(answers, a => Assert.Equal(201, a.Status));
        Assert.Equal(Burst, answers.Select(a => a.Body.GetProperty("id").GetString()).Distinct().Count());
        Assert.Equal(Burst, await InStoreAsync(db => db.Artifacts.CountAsync(a => a.TenantId == tenant)));
    }

    [SkippableFact]
    public async Task Concurrent_creates_of_one_model_create_it_once_and_the_rest_are_conflicts()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenant, client) = await app.TenantClientAsync("race-models");
        using var _ = client;

        var answers = await BurstAsync(_ => client.PostAsJsonAsync("/v1/models", new { name = "churn" }));

        Assert.Equal("churn", ExactlyOneCreated(answers).GetProperty("name").GetString());
        Assert.Equal(1, await InStoreAsync(db => db.Models.CountAsync(m => m.TenantId == tenant && m.Name == "churn")));
    }

    [SkippableFact]
    public async Task Concurrent_first_registrations_of_a_model_create_it_once_and_number_every_version()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenant, client) = await app.TenantClientAsync("race-versions");
        using var _ = client;
        var file = WriteModelFile(tenant, "model.zip");

        // Each registration is a new version (docs/models.md): none collides, whichever creates the model.
        var answers = await BurstAsync(_ => client.PostAsJsonAsync("/v1/models/fresh/versions", new { path = file }));

        Assert.All(answers, a => Assert.Equal(201, a.Status));
        Assert.Equal(Enumerable.Range(1, Burst), answers.Select(a => a.Body.GetProperty("version").GetInt32()).Order());
        Assert.Equal(1, await InStoreAsync(db => db.Models.CountAsync(m => m.TenantId == tenant && m.Name == "fresh")));
        Assert.Equal(Burst, await InStoreAsync(db => db.ModelVersions.CountAsync(v => v.TenantId == tenant && v.ModelName == "fresh")));
    }

    [SkippableFact]
    public async Task Concurrent_puts_of_one_new_alias_all_set_it_and_store_it_once()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenant, client) = await app.TenantClientAsync("race-aliases");
        using var _ = client;
        using (var registered = await client.PostAsJsonAsync("/v1/models/churn/versions", new { path = WriteModelFile(tenant, "model.zip") }))
        {
            await Http.ExpectAsync(registered, 201);
        }

        // PUT is idempotent: every request sets the alias to the same version.
        var answers = await BurstAsync(_ => client.PutAsJsonAsync("/v1/models/churn/aliases/production", new { version = 1 }));

        Assert.All(answers, a => Assert.Equal(200, a.Status));
        Assert.All(answers, a => Assert.Equal(1, a.Body.GetProperty("aliases").GetProperty("production").GetInt32()));
        Assert.Equal(1, await InStoreAsync(db => db.ModelAliases.CountAsync(a => a.TenantId == tenant && a.ModelName == "churn")));
    }

    [SkippableFact]
    public async Task Concurrent_creates_of_one_deployment_create_it_once_and_the_rest_are_conflicts()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenant, client) = await app.TenantClientAsync("race-deploy");
        using var _ = client;
        using (var registered = await client.PostAsJsonAsync("/v1/models/churn/versions", new { path = WriteModelFile(tenant, "model.zip") }))
        {
            await Http.ExpectAsync(registered, 201);
        }

        var answers = await BurstAsync(_ => client.PostAsJsonAsync("/v1/deployments", new { name = "once", model = "churn@1", min_replicas = 1, max_replicas = 1 }));

        Assert.Equal("once", ExactlyOneCreated(answers).GetProperty("name").GetString());
        Assert.Equal(1, await InStoreAsync(db => db.Deployments.CountAsync(d => d.TenantId == tenant && d.Name == "once")));
        using var delete = await client.DeleteAsync("/v1/deployments/once");
        Assert.Equal(204, (int)delete.StatusCode);
    }

    [SkippableFact]
    public async Task Concurrent_reports_of_one_metric_record_every_point_in_one_series()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (_, client) = await app.TenantClientAsync("race-metrics");
        using var _ = client;
        var id = (await StrataApp.SubmitAsync(client, new { name = "metrics", entrypoint = "sleep 60", compute = new { cpu_cores = 1, memory_gb = 1 } })).GetProperty("id").GetString()!;

        // Metrics are appended: the same point reported again is another point of the same series.
        var answers = await BurstAsync(i => client.PostAsJsonAsync($"/v1/jobs/training/{id}/metrics", new { name = "loss", value = 0.5, step = 1 }));

        Assert.All(answers, a => Assert.Equal(200, a.Status));
        Assert.Equal(Burst, await InStoreAsync(db => db.Metrics.CountAsync(m => m.JobId == id && m.Name == "loss")));
        var series = await InStoreAsync(db => db.MetricSeries.Where(s => s.JobId == id).ToListAsync());
        Assert.Equal(Burst, Assert.Single(series).Count);
        using var cancel = await client.DeleteAsync($"/v1/jobs/training/{id}");
        Assert.Equal(204, (int)cancel.StatusCode);
    }

    [SkippableFact]
    public async Task Concurrent_quota_puts_of_one_tenant_all_apply_and_keep_one_row()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var tenant = await app.CreateTenantAsync(StrataApp.UniqueId("race-quota"));
        using var admin = app.AdminClient();

        var answers = await BurstAsync(i => admin.PutAsJsonAsync($"/v1/tenants/{tenant}/quota", new { cpu_cores = 2 + (i % 3) }));

        Assert.All(answers, a => Assert.Equal(200, a.Status));
        Assert.Equal(1, await InStoreAsync(db => db.Tenants.CountAsync(t => t.Id == tenant)));
    }
}

public sealed class SqliteConcurrencyTests(SqliteApp app) : ConcurrencyTests<SqliteApp>(app);

public sealed class PostgresConcurrencyTests(PostgresApp app) : ConcurrencyTests<PostgresApp>(app);
