using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Strata.Server.Storage;
using Strata.Server.Tests.Deployments;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Usage;

/// <summary>Deployments that checkpoint their replicas' usage every second, priced as in <see cref="UsageSettings"/>: a core-second costs 1.</summary>
public class ServingUsageApp(StorageKind storage) : DeploymentApp(storage, new Dictionary<string, string?>(UsageSettings.Values) { ["Usage:ReplicaCheckpointSeconds"] = "1" });

public sealed class ServingUsageSqliteApp() : ServingUsageApp(StorageKind.Sqlite);

public sealed class ServingUsagePostgresApp() : ServingUsageApp(StorageKind.Postgres);

/// <summary>Deployments' replicas in <c>GET /v1/usage</c>: per tenant, per deployment and per day, on SQLite and on PostgreSQL.</summary>
public abstract class ServingUsageTests<TApp>(TApp app) : IClassFixture<TApp>
    where TApp : ServingUsageApp
{
    private static string Stamp(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static async Task<JsonElement> UsageAsync(HttpClient client, string query)
    {
        using var response = await client.GetAsync($"/v1/usage?{query}");
        return await Http.ExpectAsync(response, 200);
    }

    /// <summary>Asks for the usage until <paramref name="until"/> holds (replicas' usage is stored at each checkpoint).</summary>
    private static async Task<JsonElement> UsageUntilAsync(HttpClient client, string query, Func<JsonElement, bool> until)
    {
        var deadline = DateTimeOffset.UtcNow.AddSeconds(60);
        JsonElement report;
        do
        {
            report = await UsageAsync(client, query);
            if (until(report)) return report;
            await Task.Delay(200);
        }
        while (DateTimeOffset.UtcNow < deadline);
        Assert.Fail($"The usage did not show what was expected in time; last seen: {report}");
        return report;
    }

    private static JsonElement Serving(JsonElement report) => Assert.Single(report.GetProperty("tenants").EnumerateArray()).GetProperty("serving");

    private static double Core(JsonElement part, string kind) => part.GetProperty(kind).GetProperty("core_seconds").GetDouble();

    [SkippableFact]
    public async Task A_running_deployment_counts_reserved_and_used_replica_seconds_for_its_tenant_only_and_keeps_them_once_deleted()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenant, client) = await app.TenantClientAsync("serving");
        var (other, otherClient) = await app.TenantClientAsync("serving-other");
        using var _ = client;
        using var _other = otherClient;
        var started = DateTimeOffset.UtcNow;
        await DeploymentTests.RegisterAsync(app, client, tenant);
        using (var created = await client.PostAsJsonAsync("/v1/deployments",
            new { name = "scorer", model = "churn@1", min_replicas = 1, max_replicas = 1, compute = new { cpu_cores = 2, memory_gb = 1 } }))
        {
            await Http.ExpectAsync(created, 201);
        }
        await DeploymentTests.WaitForAsync(client, "scorer", d => DeploymentTests.IsReadyAt(d, 1, 1));
        for (var i = 0; i < 20; i++)
        {
            using var predicted = await client.PostAsJsonAsync("/v1/deployments/scorer/predict", DeploymentTests.Instance);
            await Http.ExpectAsync(predicted, 200);
        }
        var window = $"from={Stamp(started.AddMinutes(-1))}&to={Stamp(started.AddHours(1))}";

        var report = await UsageUntilAsync(client, window, r => Serving(r).GetProperty("replica_seconds").GetDouble() >= 3);
        var serving = Serving(report);
        var replicaSeconds = serving.GetProperty("replica_seconds").GetDouble();
        // Reserved: the deployment's compute for the replica's wall time; used: what its process measured.
        Assert.Equal(2 * replicaSeconds, Core(serving, "reserved"), 3);
        Assert.Equal(replicaSeconds, serving.GetProperty("reserved").GetProperty("memory_gb_seconds").GetDouble(), 3);
        Assert.InRange(Core(serving, "used"), double.Epsilon, Core(serving, "reserved"));
        Assert.True(serving.GetProperty("used").GetProperty("memory_gb_seconds").GetDouble() > 0, $"No memory measured: {serving}");
        Assert.Equal((decimal)Core(serving, "reserved"), serving.GetProperty("cost").GetProperty("reserved").GetDecimal(), 2);
        // The tenant's totals are its jobs' (none) plus its serving.
        var row = Assert.Single(report.GetProperty("tenants").EnumerateArray());
        Assert.Equal(0, row.GetProperty("attempts").GetInt32());
        Assert.Equal(0, Core(row.GetProperty("jobs"), "reserved"));
        Assert.Equal(Core(serving, "reserved"), Core(row, "reserved"), 6);
        Assert.Equal(serving.GetProperty("cost").GetProperty("reserved").GetDecimal(), row.GetProperty("cost").GetProperty("reserved").GetDecimal());
        var deployment = Assert.Single(report.GetProperty("deployments").EnumerateArray());
        Assert.Equal(tenant, deployment.GetProperty("tenant_id").GetString());
        Assert.Equal("scorer", deployment.GetProperty("name").GetString());
        Assert.Equal(replicaSeconds, deployment.GetProperty("replica_seconds").GetDouble(), 6);

        // Another tenant sees none of it; an admin sees it.
        var seenByOther = await UsageAsync(otherClient, window);
        Assert.Equal(other, Assert.Single(seenByOther.GetProperty("tenants").EnumerateArray()).GetProperty("tenant_id").GetString());
        Assert.Equal(0, Serving(seenByOther).GetProperty("replica_seconds").GetDouble());
        Assert.Empty(seenByOther.GetProperty("deployments").EnumerateArray());
        Assert.Equal(0m, seenByOther.GetProperty("days").EnumerateArray().Sum(d => d.GetProperty("cost").GetProperty("reserved").GetDecimal()));
        using var admin = app.AdminClient();
        var all = await UsageAsync(admin, $"{window}&limit=200");
        Assert.Contains(all.GetProperty("deployments").EnumerateArray(), d => d.GetProperty("tenant_id").GetString() == tenant && d.GetProperty("name").GetString() == "scorer");

        // Deleting it stops its replica and stores the replica's last interval before it answers: the usage stays, and stops growing.
        using (var deleted = await client.DeleteAsync("/v1/deployments/scorer"))
        {
            Assert.True(deleted.IsSuccessStatusCode, await deleted.Content.ReadAsStringAsync());
        }
        var afterDelete = await UsageAsync(client, window);
        var final = Serving(afterDelete).GetProperty("replica_seconds").GetDouble();
        Assert.True(final >= replicaSeconds, $"{final} < {replicaSeconds}");
        Assert.Equal("scorer", Assert.Single(afterDelete.GetProperty("deployments").EnumerateArray()).GetProperty("name").GetString());
        Assert.Equal(final, Serving(await UsageAsync(client, window)).GetProperty("replica_seconds").GetDouble());
    }

    [SkippableFact]
    public async Task A_window_counts_the_part_of_a_replicas_interval_inside_it_and_each_day_its_own()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenant, client) = await app.TenantClientAsync("serving-window");
        using var _ = client;
        // Two stored intervals of a replica with 2 cores and 1 GB: 10 minutes on the evening of 1 March, 10 on the morning of 2 March.
        var evening = new DateTimeOffset(2026, 3, 1, 23, 50, 0, TimeSpan.Zero);
        var morning = new DateTimeOffset(2026, 3, 2, 0, 0, 0, TimeSpan.Zero);
        await using (var db = app.Services.GetRequiredService<Store>().CreateContext())
        {
            db.ReplicaUsage.AddRange(Interval(tenant, evening, usedCore: 60), Interval(tenant, morning, usedCore: 120));
            await db.SaveChangesAsync();
        }

        // A window from 23:55 to 00:05 holds half of each interval.
        var edges = await UsageAsync(client, "from=2026-03-01T23:55:00Z&to=2026-03-02T00:05:00Z");
        var serving = Serving(edges);
        Assert.Equal(600, serving.GetProperty("replica_seconds").GetDouble(), 6);
        Assert.Equal(1200, Core(serving, "reserved"), 6);
        Assert.Equal(90, Core(serving, "used"), 6);
        Assert.Equal(["2026-03-01", "2026-03-02"], edges.GetProperty("days").EnumerateArray().Select(d => d.GetProperty("date").GetString()));
        Assert.Equal([600m, 600m], edges.GetProperty("days").EnumerateArray().Select(d => d.GetProperty("serving").GetProperty("reserved").GetDecimal()));

        // A window that ends where an interval starts counts none of it.
        var before = Serving(await UsageAsync(client, "from=2026-03-01T00:00:00Z&to=2026-03-01T23:50:00Z"));
        Assert.Equal(0, before.GetProperty("replica_seconds").GetDouble());

        // Days: every UTC day of the window, in order, zero where nothing ran; each day its own cost, jobs and serving apart.
        var days = (await UsageAsync(client, "from=2026-02-28&to=2026-03-03")).GetProperty("days").EnumerateArray().ToList();
        Assert.Equal(["2026-02-28", "2026-03-01", "2026-03-02"], days.Select(d => d.GetProperty("date").GetString()));
        Assert.Equal([0m, 1200m, 1200m], days.Select(d => d.GetProperty("cost").GetProperty("reserved").GetDecimal()));
        Assert.Equal([0m, 60m, 120m], days.Select(d => d.GetProperty("cost").GetProperty("used").GetDecimal()));
        Assert.All(days, d => Assert.Equal(0m, d.GetProperty("jobs").GetProperty("reserved").GetDecimal()));
    }

    [SkippableFact]
    public async Task An_attempt_counts_on_the_day_it_ended_beside_serving()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (_, client) = await app.TenantClientAsync("serving-days");
        using var _ = client;
        var id = (await StrataApp.SubmitAsync(client, new { name = "today", entrypoint = "true" })).GetProperty("id").GetString()!;
        Assert.Equal("succeeded", (await StrataApp.WaitForEndAsync(client, id)).GetProperty("status").GetString());
        var today = DateTimeOffset.UtcNow.UtcDateTime.Date;

        var report = await UsageAsync(client, $"from={today.AddDays(-2):yyyy-MM-dd}&to={today.AddDays(1):yyyy-MM-dd}");

        var days = report.GetProperty("days").EnumerateArray().ToList();
        Assert.Equal(3, days.Count);
        var last = days[^1];
        Assert.Equal(today.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), last.GetProperty("date").GetString());
        var row = Assert.Single(report.GetProperty("tenants").EnumerateArray());
        Assert.Equal(row.GetProperty("jobs").GetProperty("cost").GetProperty("reserved").GetDecimal(), last.GetProperty("jobs").GetProperty("reserved").GetDecimal());
        Assert.Equal(last.GetProperty("jobs").GetProperty("reserved").GetDecimal(), last.GetProperty("cost").GetProperty("reserved").GetDecimal());
        Assert.All(days[..^1], d => Assert.Equal(0m, d.GetProperty("cost").GetProperty("reserved").GetDecimal()));
    }

    /// <summary>Ten minutes of a replica with 2 cores and 1 GB from <paramref name="start"/>.</summary>
    private static ReplicaUsageRecord Interval(string tenant, DateTimeOffset start, double usedCore) => new()
    {
        TenantId = tenant,
        DeploymentName = "scorer",
        ReplicaId = "scorer-v1-1",
        ModelVersion = 1,
        StartedAtUnixMs = start.ToUnixTimeMilliseconds(),
        EndedAtUnixMs = start.AddMinutes(10).ToUnixTimeMilliseconds(),
        ReservedCoreSeconds = 1200,
        ReservedMemoryGbSeconds = 600,
        UsedCoreSeconds = usedCore,
        UsedMemoryGbSeconds = 60,
    };
}

public sealed class SqliteServingUsageTests(ServingUsageSqliteApp app) : ServingUsageTests<ServingUsageSqliteApp>(app);

public sealed class PostgresServingUsageTests(ServingUsagePostgresApp app) : ServingUsageTests<ServingUsagePostgresApp>(app);
