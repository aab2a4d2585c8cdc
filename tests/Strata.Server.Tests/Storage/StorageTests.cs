using System.Net.Http.Json;
using Strata.Contracts;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Storage;

/// <summary>The same API behaviour on every store: SQLite in the data folder and a real PostgreSQL.</summary>
public abstract class StorageTests<TApp>(TApp app) : IClassFixture<TApp>
    where TApp : StrataApp
{
    [SkippableFact]
    public async Task Jobs_are_stored_run_and_paged()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenant, client) = await app.TenantClientAsync("stored");
        using var _ = client;
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add((await StrataApp.SubmitAsync(client, new { name = $"run-{i}", entrypoint = $"echo run {i}" })).GetProperty("id").GetString()!);
        }
        foreach (var id in ids)
        {
            var done = await StrataApp.WaitForEndAsync(client, id);
            Assert.Equal("succeeded", done.GetProperty("status").GetString());
            Assert.Equal(tenant, done.GetProperty("spec").GetProperty("tenant_id").GetString());
        }

        using var first = await client.GetAsync("/v1/jobs/training?limit=2");
        var page1 = (await Http.ExpectAsync(first, 200)).EnumerateArray().Select(j => j.GetProperty("id").GetString()).ToArray();
        using var second = await client.GetAsync(Http.NextLink(first) ?? throw new Xunit.Sdk.XunitException("No next page."));
        var page2 = (await Http.ExpectAsync(second, 200)).EnumerateArray().Select(j => j.GetProperty("id").GetString()).ToArray();
        Assert.Null(Http.NextLink(second));
        Assert.Equal(new[] { ids[2], ids[1], ids[0] }, page1.Concat(page2));

        using var attempts = await client.GetAsync($"/v1/jobs/training/{ids[0]}/attempts");
        Assert.Equal(0, Assert.Single((await Http.ExpectAsync(attempts, 200)).EnumerateArray()).GetProperty("exit_code").GetInt32());
    }

    [SkippableFact]
    public async Task A_name_is_unique_among_active_jobs_and_free_again_once_they_end()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (_, client) = await app.TenantClientAsync("names");
        using var _ = client;
        var active = (await StrataApp.SubmitAsync(client, new { name = "train", entrypoint = "sleep 30" })).GetProperty("id").GetString()!;

        using (var duplicate = await client.PostAsJsonAsync("/v1/jobs/training", new { name = "train", entrypoint = "true" }))
        {
            await Http.ExpectProblemAsync(duplicate, 409, ProblemTypes.Conflict);
        }
        await StrataApp.WaitForStatusAsync(client, active, "running");
        using (var duplicate = await client.PostAsJsonAsync("/v1/jobs/training", new { name = "train", entrypoint = "true" }))
        {
            await Http.ExpectProblemAsync(duplicate, 409, ProblemTypes.Conflict);
        }
        using (var cancel = await client.DeleteAsync($"/v1/jobs/training/{active}"))
        {
            Assert.Equal(204, (int)cancel.StatusCode);
        }

        var succeeded = (await StrataApp.SubmitAsync(client, new { name = "train", entrypoint = "true" })).GetProperty("id").GetString()!;
        await StrataApp.WaitForStatusAsync(client, succeeded, "succeeded");
        var failed = (await StrataApp.SubmitAsync(client, new { name = "train", entrypoint = "exit 1" })).GetProperty("id").GetString()!;
        await StrataApp.WaitForStatusAsync(client, failed, "failed");
        var again = (await StrataApp.SubmitAsync(client, new { name = "train", entrypoint = "true" })).GetProperty("id").GetString()!;
        await StrataApp.WaitForEndAsync(client, again);

        using var list = await client.GetAsync("/v1/jobs/training");
        Assert.Equal(4, (await Http.ExpectAsync(list, 200)).GetArrayLength());
    }

    [SkippableFact]
    public async Task A_restarted_server_keeps_its_tenants_jobs_and_tokens()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        await using var own = new StrataApp(app.Storage);
        await own.StartIfNeededAsync();
        var (tenant, client) = await own.TenantClientAsync("durable");
        var memberToken = client.DefaultRequestHeaders.Authorization!.Parameter!;
        client.Dispose();
        string done, cancelled;
        using (client = own.ClientFor(memberToken))
        {
            done = (await StrataApp.SubmitAsync(client, new { name = "before", entrypoint = "echo kept" })).GetProperty("id").GetString()!;
            await StrataApp.WaitForStatusAsync(client, done, "succeeded");
            cancelled = (await StrataApp.SubmitAsync(client, new { name = "stopped", entrypoint = "sleep 60" })).GetProperty("id").GetString()!;
            await StrataApp.WaitForStatusAsync(client, cancelled, "running");
            using var cancel = await client.DeleteAsync($"/v1/jobs/training/{cancelled}");
            Assert.Equal(204, (int)cancel.StatusCode);
            await StrataApp.WaitForStatusAsync(client, cancelled, "cancelled");
        }
        var adminToken = own.AdminToken;

        await own.RestartAsync();

        Assert.Equal(adminToken, own.AdminToken);
        using (var admin = own.ClientFor(adminToken))
        using (var tenants = await admin.GetAsync("/v1/tenants"))
        {
            Assert.Contains((await Http.ExpectAsync(tenants, 200)).EnumerateArray(), t => t.GetProperty("id").GetString() == tenant);
        }
        using (client = own.ClientFor(memberToken))
        {
            using (var list = await client.GetAsync("/v1/jobs/training"))
            {
                var jobs = (await Http.ExpectAsync(list, 200)).EnumerateArray().ToArray();
                Assert.Equal(new[] { cancelled, done }, jobs.Select(j => j.GetProperty("id").GetString()));
                Assert.Equal(["cancelled", "succeeded"], jobs.Select(j => j.GetProperty("status").GetString()));
            }
            using (var logs = await client.GetAsync($"/v1/jobs/training/{done}/logs"))
            {
                Assert.Equal("kept\n", await logs.Content.ReadAsStringAsync());
            }
            // The attempt cancelled just before the restart is stopped by the new server, not left to run.
            var deadline = DateTimeOffset.UtcNow.AddSeconds(20);
            string? status;
            do
            {
                await Task.Delay(200);
                using var attempts = await client.GetAsync($"/v1/jobs/training/{cancelled}/attempts");
                status = Assert.Single((await Http.ExpectAsync(attempts, 200)).EnumerateArray()).GetProperty("status").GetString();
            }
            while (status is "starting" or "running" && DateTimeOffset.UtcNow < deadline);
            Assert.Equal("cancelled", status);

            // The restarted scheduler runs new work, and a finished job's name is free.
            var after = (await StrataApp.SubmitAsync(client, new { name = "before", entrypoint = "true" })).GetProperty("id").GetString()!;
            await StrataApp.WaitForStatusAsync(client, after, "succeeded");
        }
    }
}

public sealed class SqliteStorageTests(SqliteApp app) : StorageTests<SqliteApp>(app);

public sealed class PostgresStorageTests(PostgresApp app) : StorageTests<PostgresApp>(app);
