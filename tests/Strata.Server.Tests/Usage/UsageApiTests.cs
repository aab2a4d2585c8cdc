using System.Globalization;
using System.Text.Json;
using Strata.Contracts;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Usage;

/// <summary>Usage settings that make the arithmetic visible: a core-second costs 1, and any run gets hints.</summary>
internal static class UsageSettings
{
    public static readonly Dictionary<string, string?> Values = new()
    {
        ["Usage:HintMinSeconds"] = "0",
        ["Usage:Prices:Currency"] = "EUR",
        ["Usage:Prices:CpuCoreHour"] = "3600",
        ["Usage:Prices:MemoryGbHour"] = "0",
        ["Usage:Prices:GpuHour"] = "0",
    };
}

public sealed class UsageSqliteApp() : StrataApp(StorageKind.Sqlite, UsageSettings.Values);

public sealed class UsagePostgresApp() : StrataApp(StorageKind.Postgres, UsageSettings.Values);

/// <summary><c>GET /v1/usage</c> and the usage recorded with attempts, on SQLite and on PostgreSQL.</summary>
public abstract class UsageApiTests<TApp>(TApp app) : IClassFixture<TApp>
    where TApp : StrataApp
{
    private static string Window()
    {
        var now = DateTimeOffset.UtcNow;
        return $"from={Stamp(now.AddHours(-1))}&to={Stamp(now.AddHours(1))}";
    }

    private static string Stamp(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static async Task<JsonElement> UsageAsync(HttpClient client, string query)
    {
        using var response = await client.GetAsync($"/v1/usage?{query}");
        return await Http.ExpectAsync(response, 200);
    }

    private static async Task<string> RunAsync(HttpClient client, object spec)
    {
        var id = (await StrataApp.SubmitAsync(client, spec)).GetProperty("id").GetString()!;
        Assert.Equal("succeeded", (await StrataApp.WaitForEndAsync(client, id)).GetProperty("status").GetString());
        return id;
    }

    [SkippableFact]
    public async Task A_job_that_burns_cpu_shows_used_core_seconds_within_what_it_reserved_and_a_hint()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenant, client) = await app.TenantClientAsync("burner");
        using var _ = client;
        var id = await RunAsync(client, new
        {
            name = "burn",
            // A moment of pure CPU in one process: it can use at most one of the four cores it asks for.
            entrypoint = "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done",
            compute = new { cpu_cores = 4, memory_gb = 4 },
        });

        using var attempts = await client.GetAsync($"/v1/jobs/training/{id}/attempts");
        var usage = Assert.Single((await Http.ExpectAsync(attempts, 200)).EnumerateArray()).GetProperty("usage");
        var wall = usage.GetProperty("wall_seconds").GetDouble();
        var reserved = usage.GetProperty("reserved");
        var used = usage.GetProperty("used");
        Assert.True(wall > 0, $"No wall time: {usage}");
        Assert.Equal(4 * wall, reserved.GetProperty("core_seconds").GetDouble(), 2);
        Assert.Equal(4 * wall, reserved.GetProperty("memory_gb_seconds").GetDouble(), 2);
        Assert.Equal(0, reserved.GetProperty("gpu_seconds").GetDouble());
        var usedCores = used.GetProperty("core_seconds").GetDouble();
        Assert.True(usedCores > 0, $"No CPU time measured: {usage}");
        Assert.True(usedCores <= reserved.GetProperty("core_seconds").GetDouble(), $"Used more than reserved: {usage}");
        Assert.True(used.GetProperty("memory_gb_seconds").GetDouble() > 0, $"No memory measured: {usage}");

        // One busy process cannot use half of four cores: the job resource says to ask for less.
        using (var get = await client.GetAsync($"/v1/jobs/training/{id}"))
        {
            var hints = (await Http.ExpectAsync(get, 200)).GetProperty("right_sizing").EnumerateArray().ToList();
            var cores = Assert.Single(hints, h => h.GetProperty("resource").GetString() == "cpu_cores");
            Assert.Equal(4, cores.GetProperty("requested").GetDouble());
            Assert.InRange(cores.GetProperty("suggested").GetInt32(), 1, 2);
            Assert.StartsWith("requested 4 cores, used ", cores.GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.Contains(hints, h => h.GetProperty("resource").GetString() == "memory_gb" && h.GetProperty("suggested").GetInt32() == 1);
        }

        // The usage report sums the same figures and prices them: a core-second costs 1 EUR here.
        var report = await UsageAsync(client, Window());
        Assert.Equal("EUR", report.GetProperty("prices").GetProperty("currency").GetString());
        var row = Assert.Single(report.GetProperty("tenants").EnumerateArray());
        Assert.Equal(tenant, row.GetProperty("tenant_id").GetString());
        Assert.Equal(1, row.GetProperty("attempts").GetInt32());
        Assert.Equal(reserved.GetProperty("core_seconds").GetDouble(), row.GetProperty("reserved").GetProperty("core_seconds").GetDouble(), 3);
        Assert.Equal(usedCores, row.GetProperty("used").GetProperty("core_seconds").GetDouble(), 3);
        Assert.Equal((decimal)reserved.GetProperty("core_seconds").GetDouble(), row.GetProperty("cost").GetProperty("reserved").GetDecimal(), 2);
        Assert.Equal((decimal)usedCores, row.GetProperty("cost").GetProperty("used").GetDecimal(), 2);
        var job = Assert.Single(report.GetProperty("jobs").EnumerateArray());
        Assert.Equal(id, job.GetProperty("job_id").GetString());
        Assert.Equal("burn", job.GetProperty("name").GetString());
        Assert.Contains(job.GetProperty("right_sizing").EnumerateArray(), h => h.GetProperty("resource").GetString() == "cpu_cores");
    }

    [SkippableFact]
    public async Task A_tenant_sees_its_own_usage_only_and_an_admin_sees_every_tenant()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenantA, clientA) = await app.TenantClientAsync("usage-a");
        var (tenantB, clientB) = await app.TenantClientAsync("usage-b", Roles.Viewer);
        using var _a = clientA;
        using var _b = clientB;
        var jobA = await RunAsync(clientA, new { name = "a", entrypoint = "true" });
        using var memberB = app.ClientFor(await app.TokenForAsync(tenantB, Roles.Member));
        var jobB = await RunAsync(memberB, new { name = "b", entrypoint = "true" });

        var seenByA = await UsageAsync(clientA, Window());
        Assert.Equal([tenantA], seenByA.GetProperty("tenants").EnumerateArray().Select(t => t.GetProperty("tenant_id").GetString()));
        Assert.Equal([jobA], seenByA.GetProperty("jobs").EnumerateArray().Select(j => j.GetProperty("job_id").GetString()));
        var seenByB = await UsageAsync(clientB, Window()); // a viewer may read usage
        Assert.Equal([tenantB], seenByB.GetProperty("tenants").EnumerateArray().Select(t => t.GetProperty("tenant_id").GetString()));
        Assert.Equal([jobB], seenByB.GetProperty("jobs").EnumerateArray().Select(j => j.GetProperty("job_id").GetString()));

        // Asking for another tenant is refused, whether it exists or not.
        foreach (var other in new[] { tenantB, "no-such-tenant" })
        {
            using var response = await clientA.GetAsync($"/v1/usage?tenant={other}&{Window()}");
            await Http.ExpectProblemAsync(response, 403, ProblemTypes.Forbidden);
        }
        Assert.Single((await UsageAsync(clientA, $"tenant={tenantA}&{Window()}")).GetProperty("tenants").EnumerateArray());

        using var admin = app.AdminClient();
        var all = await UsageAsync(admin, $"{Window()}&limit=200");
        var tenants = all.GetProperty("tenants").EnumerateArray().Select(t => t.GetProperty("tenant_id").GetString()).ToList();
        Assert.Contains(tenantA, tenants);
        Assert.Contains(tenantB, tenants);
        var jobs = all.GetProperty("jobs").EnumerateArray().Select(j => j.GetProperty("job_id").GetString()).ToList();
        Assert.Contains(jobA, jobs);
        Assert.Contains(jobB, jobs);
        var onlyB = await UsageAsync(admin, $"tenant={tenantB}&{Window()}");
        Assert.Equal([tenantB], onlyB.GetProperty("tenants").EnumerateArray().Select(t => t.GetProperty("tenant_id").GetString()));
        Assert.Equal([jobB], onlyB.GetProperty("jobs").EnumerateArray().Select(j => j.GetProperty("job_id").GetString()));
    }

    [SkippableFact]
    public async Task Attempts_that_ended_outside_the_window_are_not_counted()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenant, client) = await app.TenantClientAsync("window");
        using var _ = client;
        await RunAsync(client, new { name = "now", entrypoint = "true" });

        var past = await UsageAsync(client, "from=2020-01-01&to=2020-02-01");
        var row = Assert.Single(past.GetProperty("tenants").EnumerateArray());
        Assert.Equal(tenant, row.GetProperty("tenant_id").GetString());
        Assert.Equal(0, row.GetProperty("attempts").GetInt32());
        Assert.Equal(0m, row.GetProperty("cost").GetProperty("reserved").GetDecimal());
        Assert.Empty(past.GetProperty("jobs").EnumerateArray());
        Assert.Equal(new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero), past.GetProperty("from").GetDateTimeOffset());

        // The default window (this month so far) includes it.
        Assert.Equal(1, Assert.Single((await UsageAsync(client, "")).GetProperty("tenants").EnumerateArray()).GetProperty("attempts").GetInt32());
    }

    [SkippableTheory]
    [InlineData("from=yesterday", "from")]
    [InlineData("to=2026-13-01", "to")]
    [InlineData("from=2026-02-01&to=2026-01-01", "from")]
    [InlineData("from=2026-01-01&to=2026-01-01", "from")]
    [InlineData("from=2024-01-01&to=2026-01-01", "to")]
    [InlineData("limit=201", "limit")]
    [InlineData("limit=-1", "limit")]
    [InlineData("limit=ten", "limit")]
    [InlineData("tenant=Not_A_Tenant", "tenant")]
    public async Task A_bad_window_or_parameter_is_a_400_naming_it(string query, string field)
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (_, client) = await app.TenantClientAsync("bad-usage");
        using var _ = client;
        using var response = await client.GetAsync($"/v1/usage?{query}");
        await Http.ExpectValidationAsync(response, field);
    }
}

public sealed class SqliteUsageApiTests(UsageSqliteApp app) : UsageApiTests<UsageSqliteApp>(app);

public sealed class PostgresUsageApiTests(UsagePostgresApp app) : UsageApiTests<UsagePostgresApp>(app);
