using System.Net.Http.Json;
using System.Text.Json;
using Strata.Contracts;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Quotas;

/// <summary>Tenant quotas on every store: setting them, reading them, and admission against them.</summary>
public abstract class QuotaTests<TApp>(TApp app) : IClassFixture<TApp>
    where TApp : StrataApp
{
    private static object Sleeper(string name, int cpu = 1, string? onQuotaExceeded = null, int priority = 0) => new
    {
        name,
        entrypoint = "sleep 300",
        compute = new { cpu_cores = cpu, memory_gb = 1 },
        on_quota_exceeded = onQuotaExceeded,
        priority,
    };

    private async Task SetQuotaAsync(string tenant, object quota)
    {
        using var admin = app.AdminClient();
        using var response = await admin.PutAsJsonAsync($"/v1/tenants/{tenant}/quota", quota);
        await Http.ExpectAsync(response, 200);
    }

    private static async Task<JsonElement> QuotaAsync(HttpClient client)
    {
        using var response = await client.GetAsync("/v1/quota");
        return (await Http.ExpectAsync(response, 200)).GetProperty("resources");
    }

    private static async Task CancelAllAsync(HttpClient client, IEnumerable<string> ids)
    {
        foreach (var id in ids)
        {
            using var _ = await client.DeleteAsync($"/v1/jobs/training/{id}");
        }
    }

    [SkippableFact]
    public async Task Forty_parallel_submissions_against_a_quota_that_fits_four_accept_exactly_four()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenant, client) = await app.TenantClientAsync("parallel");
        using var _ = client;
        // 4 cores of quota, 1-core jobs; the runtime has room for them all (they start, or wait for capacity).
        await SetQuotaAsync(tenant, new { cpu_cores = 4 });

        var responses = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => client.PostAsJsonAsync("/v1/jobs/training", Sleeper($"p-{i}"))));
        var accepted = new List<string>();
        foreach (var response in responses)
        {
            using (response)
            {
                if ((int)response.StatusCode == 201)
                {
                    accepted.Add((await Http.ExpectAsync(response, 201)).GetProperty("id").GetString()!);
                }
                else
                {
                    var problem = await Http.ExpectProblemAsync(response, 429, ProblemTypes.QuotaExceeded);
                    Assert.Equal("cpu_cores", problem.GetProperty("resource").GetString());
                    Assert.Equal(4, problem.GetProperty("limit").GetDouble());
                    Assert.Equal(4, problem.GetProperty("used").GetDouble());
                    Assert.Equal(1, problem.GetProperty("requested").GetDouble());
                }
            }
        }
        try
        {
            Assert.Equal(4, accepted.Count);
            Assert.Equal(4, (await QuotaAsync(client)).GetProperty("cpu_cores").GetProperty("used").GetDouble());
        }
        finally
        {
            await CancelAllAsync(client, accepted);
        }
        // Cancelled jobs give their quota back.
        Assert.Equal(0, (await QuotaAsync(client)).GetProperty("cpu_cores").GetProperty("used").GetDouble());
    }

    [SkippableFact]
    public async Task A_submission_over_the_quota_gets_429_naming_the_resource_the_limit_the_use_and_the_request()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenant, client) = await app.TenantClientAsync("over");
        using var _ = client;
        await SetQuotaAsync(tenant, new { cpu_cores = 3, memory_gb = 10 });
        var first = (await StrataApp.SubmitAsync(client, Sleeper("first", cpu: 2))).GetProperty("id").GetString()!;
        try
        {
            using var over = await client.PostAsJsonAsync("/v1/jobs/training", Sleeper("second", cpu: 2));
            var problem = await Http.ExpectProblemAsync(over, 429, ProblemTypes.QuotaExceeded);
            Assert.Equal("cpu_cores", problem.GetProperty("resource").GetString());
            Assert.Equal(3, problem.GetProperty("limit").GetDouble());
            Assert.Equal(2, problem.GetProperty("used").GetDouble());
            Assert.Equal(2, problem.GetProperty("requested").GetDouble());
            Assert.Contains("cpu_cores", problem.GetProperty("detail").GetString());

            // Nothing was stored.
            using var list = await client.GetAsync("/v1/jobs/training");
            Assert.Single((await Http.ExpectAsync(list, 200)).EnumerateArray());
        }
        finally
        {
            await CancelAllAsync(client, [first]);
        }
    }

    [SkippableFact]
    public async Task A_job_larger_than_the_whole_quota_is_refused_even_when_it_would_queue()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenant, client) = await app.TenantClientAsync("huge");
        using var _ = client;
        await SetQuotaAsync(tenant, new { cpu_cores = 2, on_quota_exceeded = "queue" });

        using var response = await client.PostAsJsonAsync("/v1/jobs/training", Sleeper("huge", cpu: 4));
        var problem = await Http.ExpectProblemAsync(response, 422, ProblemTypes.RequestExceedsQuota);
        Assert.Equal("cpu_cores", problem.GetProperty("resource").GetString());
        Assert.Equal(2, problem.GetProperty("limit").GetDouble());
        Assert.Equal(4, problem.GetProperty("requested").GetDouble());
    }

    [SkippableFact]
    public async Task Submissions_beyond_max_pending_jobs_are_refused_even_with_the_queue_policy()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenant, client) = await app.TenantClientAsync("pending");
        using var _ = client;
        // No job may run (max_running_jobs 0), so every accepted job stays pending.
        await SetQuotaAsync(tenant, new { max_running_jobs = 0, max_pending_jobs = 2, on_quota_exceeded = "queue" });
        var ids = new List<string>();
        try
        {
            ids.Add((await StrataApp.SubmitAsync(client, Sleeper("a"))).GetProperty("id").GetString()!);
            ids.Add((await StrataApp.SubmitAsync(client, Sleeper("b"))).GetProperty("id").GetString()!);
            using var third = await client.PostAsJsonAsync("/v1/jobs/training", Sleeper("c"));
            var problem = await Http.ExpectProblemAsync(third, 429, ProblemTypes.QuotaExceeded);
            Assert.Equal("max_pending_jobs", problem.GetProperty("resource").GetString());
            Assert.Equal(2, problem.GetProperty("limit").GetDouble());
            Assert.Equal(2, problem.GetProperty("used").GetDouble());

            var waiting = await StrataApp.WaitForAsync(client, ids[0], j => j.GetProperty("status_reason").GetString() == "waiting_for_quota");
            Assert.Equal("pending", waiting.GetProperty("status").GetString());
        }
        finally
        {
            await CancelAllAsync(client, ids);
        }
    }

    [SkippableFact]
    public async Task With_the_queue_policy_a_job_over_the_quota_waits_for_quota_and_starts_when_the_quota_frees()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenant, client) = await app.TenantClientAsync("queue");
        using var _ = client;
        await SetQuotaAsync(tenant, new { cpu_cores = 2 });
        var first = (await StrataApp.SubmitAsync(client, Sleeper("first", cpu: 2))).GetProperty("id").GetString()!;
        // The tenant's default is reject; this job chooses to wait.
        var queued = await StrataApp.SubmitAsync(client, Sleeper("second", cpu: 2, onQuotaExceeded: "queue"));
        var second = queued.GetProperty("id").GetString()!;
        try
        {
            Assert.Equal("pending", queued.GetProperty("status").GetString());
            Assert.Equal("waiting_for_quota", queued.GetProperty("status_reason").GetString());
            var pending = await StrataApp.WaitForAsync(client, second, j => j.GetProperty("queue_position").ValueKind == JsonValueKind.Number);
            Assert.Equal("waiting_for_quota", pending.GetProperty("status_reason").GetString());

            var quota = await QuotaAsync(client);
            Assert.Equal(2, quota.GetProperty("cpu_cores").GetProperty("limit").GetDouble());
            Assert.Equal(2, quota.GetProperty("cpu_cores").GetProperty("used").GetDouble());

            using (var cancel = await client.DeleteAsync($"/v1/jobs/training/{first}"))
            {
                Assert.Equal(204, (int)cancel.StatusCode);
            }
            await StrataApp.WaitForStatusAsync(client, second, "running");
        }
        finally
        {
            await CancelAllAsync(client, [first, second]);
        }
    }

    [SkippableFact]
    public async Task Get_quota_shows_limit_used_and_pending_per_resource_with_the_server_defaults_where_the_tenant_has_none()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenant, client) = await app.TenantClientAsync("show");
        using var _ = client;
        await SetQuotaAsync(tenant, new { cpu_cores = 16, max_running_jobs = 0, fair_share_weight = 2.5 });
        var id = (await StrataApp.SubmitAsync(client, Sleeper("waits", cpu: 3))).GetProperty("id").GetString()!;
        try
        {
            using var response = await client.GetAsync("/v1/quota");
            var body = await Http.ExpectAsync(response, 200);
            Assert.Equal(tenant, body.GetProperty("tenant_id").GetString());
            Assert.Equal("reject", body.GetProperty("on_quota_exceeded").GetString());
            Assert.Equal(2.5, body.GetProperty("fair_share_weight").GetDouble());
            var resources = body.GetProperty("resources");
            Assert.Equal(QuotaResources.All.Order(), resources.EnumerateObject().Select(p => p.Name).Order());
            Assert.Equal((16.0, 3.0, 3.0), Triple(resources.GetProperty("cpu_cores")));
            Assert.Equal((200.0, 1.0, 1.0), Triple(resources.GetProperty("memory_gb")));
            Assert.Equal(10, resources.GetProperty("gpu_count").GetProperty("limit").GetDouble());
            Assert.Equal((0.0, 0.0, 1.0), Triple(resources.GetProperty("max_running_jobs")));
            Assert.Equal(1000, resources.GetProperty("max_pending_jobs").GetProperty("limit").GetDouble());
            Assert.Equal(1, resources.GetProperty("max_pending_jobs").GetProperty("used").GetDouble());
        }
        finally
        {
            await CancelAllAsync(client, [id]);
        }

        static (double, double, double) Triple(JsonElement usage) =>
            (usage.GetProperty("limit").GetDouble(), usage.GetProperty("used").GetDouble(), usage.GetProperty("pending").GetDouble());
    }

    [SkippableFact]
    public async Task Setting_a_quota_is_for_admins_validated_field_by_field_and_a_put_replaces_the_whole_quota()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenant, owner) = await app.TenantClientAsync("set", Roles.Owner);
        using var _ = owner;
        using (var denied = await owner.PutAsJsonAsync($"/v1/tenants/{tenant}/quota", new { cpu_cores = 1000 }))
        {
            await Http.ExpectProblemAsync(denied, 403, ProblemTypes.Forbidden);
        }
        using var admin = app.AdminClient();
        using (var invalid = await admin.PutAsJsonAsync($"/v1/tenants/{tenant}/quota",
                   new { cpu_cores = -1, gpu_count = -2, on_quota_exceeded = "later", fair_share_weight = 0, max_running_jobs = 5 }))
        {
            await Http.ExpectValidationAsync(invalid, "cpu_cores", "gpu_count", "on_quota_exceeded", "fair_share_weight");
        }
        using (var missing = await admin.PutAsJsonAsync("/v1/tenants/no-such-tenant/quota", new { cpu_cores = 1 }))
        {
            await Http.ExpectProblemAsync(missing, 404, ProblemTypes.NotFound);
        }
        using (var set = await admin.PutAsJsonAsync($"/v1/tenants/{tenant}/quota", new { cpu_cores = 7, on_quota_exceeded = "queue" }))
        {
            var quota = await Http.ExpectAsync(set, 200);
            Assert.Equal(7, quota.GetProperty("cpu_cores").GetDouble());
            Assert.Equal("queue", quota.GetProperty("on_quota_exceeded").GetString());
        }
        using (var replaced = await admin.PutAsJsonAsync($"/v1/tenants/{tenant}/quota", new { memory_gb = 5 }))
        {
            var quota = await Http.ExpectAsync(replaced, 200);
            Assert.Equal(100, quota.GetProperty("cpu_cores").GetDouble());
            Assert.Equal(5, quota.GetProperty("memory_gb").GetDouble());
            Assert.Equal("reject", quota.GetProperty("on_quota_exceeded").GetString());
        }
        using var get = await admin.GetAsync($"/v1/tenants/{tenant}");
        Assert.Equal(5, (await Http.ExpectAsync(get, 200)).GetProperty("quota").GetProperty("memory_gb").GetDouble());
    }

    [SkippableFact]
    public async Task A_tenant_can_be_created_with_its_quota_and_sees_only_its_own()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        using var admin = app.AdminClient();
        var id = StrataApp.UniqueId("created");
        using (var invalid = await admin.PostAsJsonAsync("/v1/tenants", new { id, quota = new { max_pending_jobs = -1 } }))
        {
            await Http.ExpectValidationAsync(invalid, "quota.max_pending_jobs");
        }
        using (var created = await admin.PostAsJsonAsync("/v1/tenants", new { id, quota = new { cpu_cores = 3 } }))
        {
            Assert.Equal(3, (await Http.ExpectAsync(created, 201)).GetProperty("quota").GetProperty("cpu_cores").GetDouble());
        }
        var (_, other) = await app.TenantClientAsync("other");
        using var __ = other;
        using var mine = app.ClientFor(await app.TokenForAsync(id, Roles.Viewer));
        Assert.Equal(3, (await QuotaAsync(mine)).GetProperty("cpu_cores").GetProperty("limit").GetDouble());
        Assert.Equal(100, (await QuotaAsync(other)).GetProperty("cpu_cores").GetProperty("limit").GetDouble());
        // Another tenant's quota cannot be read through the tenant route either.
        using var cross = await other.GetAsync($"/v1/tenants/{id}");
        await Http.ExpectProblemAsync(cross, 404, ProblemTypes.NotFound);
        using var anonymous = app.AnonymousClient();
        using var unauthenticated = await anonymous.GetAsync("/v1/quota");
        Assert.Equal(401, (int)unauthenticated.StatusCode);
    }

    [SkippableFact]
    public async Task A_spec_with_an_unknown_quota_policy_is_refused()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (_, client) = await app.TenantClientAsync("policy");
        using var _ = client;
        using var response = await client.PostAsJsonAsync("/v1/jobs/training", Sleeper("x", onQuotaExceeded: "sometimes"));
        await Http.ExpectValidationAsync(response, "on_quota_exceeded");
    }
}

public sealed class SqliteQuotaTests(SqliteApp app) : QuotaTests<SqliteApp>(app);

public sealed class PostgresQuotaTests(PostgresApp app) : QuotaTests<PostgresApp>(app);
