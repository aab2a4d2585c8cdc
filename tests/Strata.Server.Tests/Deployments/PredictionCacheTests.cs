using System.Net.Http.Json;
using System.Text;
using StackExchange.Redis;
using Strata.Server.Deployments;
using Strata.Server.Tests.Observability;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Deployments;

/// <summary>The deployment app with the prediction cache on Redis (the redis-server that scripts/test starts, named by STRATA_TEST_REDIS).</summary>
public sealed class RedisCacheApp : DeploymentApp
{
    public const string Variable = "STRATA_TEST_REDIS";

    public RedisCacheApp() : base(new Dictionary<string, string?> { ["Serving:Cache:Redis"] = Redis })
    {
    }

    /// <summary>host:port of a throwaway redis-server; null when none (the test is skipped).</summary>
    public static string? Redis => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } redis ? redis : null;
}

/// <summary>
/// The prediction cache. Run alone (in the collection without parallelization): the hit and miss
/// counters are read from /metrics, which another app alive at the same time could take over.
/// </summary>
[Collection(Process.ServerProcessCollection.Name)]
public sealed class PredictionCacheTests
{
    [Fact]
    public void The_same_instance_written_differently_is_one_entry()
    {
        static string? Key(string json) => PredictionCache.Key("t1", "churn", 3, Encoding.UTF8.GetBytes(json));

        var key = Key("""{"b": 1, "a": {"y": 2.0, "x": "s"}, "c": [1, 2]}""");
        Assert.NotNull(key);
        Assert.StartsWith("predict:t1:churn:3:", key, StringComparison.Ordinal);
        Assert.Equal(key, Key("""{"c": [1.0, 2], "a": {"x": "s", "y": 2}, "b": 1e0}"""));
        Assert.NotEqual(key, Key("""{"b": 1, "a": {"y": 2.0, "x": "s"}, "c": [2, 1]}"""));
        Assert.NotEqual(key, PredictionCache.Key("t1", "churn", 4, Encoding.UTF8.GetBytes("""{"b": 1, "a": {"y": 2.0, "x": "s"}, "c": [1, 2]}""")));
        Assert.NotEqual(key, PredictionCache.Key("t2", "churn", 3, Encoding.UTF8.GetBytes("""{"b": 1, "a": {"y": 2.0, "x": "s"}, "c": [1, 2]}""")));
        // Not an object, or not JSON: not cached (the replica says what is wrong).
        Assert.Null(Key("[1, 2]"));
        Assert.Null(Key("{\"a\": "));
    }

    [SkippableFact]
    public async Task Predictions_are_kept_in_redis_by_tenant_version_and_input_and_counted()
    {
        Skip.If(RedisCacheApp.Redis is null, $"{RedisCacheApp.Variable} is not set: scripts/test starts a redis-server and sets it");
        await using var app = new RedisCacheApp();
        await app.InitializeAsync();
        var (tenant, client) = await app.TenantClientAsync("cached");
        using var _ = client;
        await DeploymentTests.RegisterAsync(app, client, tenant);
        using (var created = await client.PostAsJsonAsync("/v1/deployments", new { model = "churn@1", min_replicas = 1, max_replicas = 1 }))
        {
            await Http.ExpectAsync(created, 201);
        }
        await DeploymentTests.WaitForAsync(client, "churn", d => DeploymentTests.IsReadyAt(d, 1, 1));

        var (first, firstBody) = await PredictAsync(client, """
            {"tenure_months": 3, "plan": "basic", "contract": "month-to-month", "monthly_charges": 70.5, "total_charges": 211.5,
             "support_calls": 4, "region": "west", "paperless_billing": "yes"}
            """);
        Assert.Equal(("200", "miss", "1"), first);
        // The same instance, its keys in another order and its numbers written otherwise.
        var (second, secondBody) = await PredictAsync(client, """
            {"support_calls": 4.0, "region": "west", "paperless_billing": "yes", "plan": "basic", "contract": "month-to-month",
             "monthly_charges": 70.50, "total_charges": 211.5, "tenure_months": 3}
            """);
        Assert.Equal(("200", "hit", "1"), second);
        Assert.Equal(firstBody, secondBody);

        // A refused input is passed through as the replica gave it, and never kept.
        for (var i = 0; i < 2; i++)
        {
            var (bad, badBody) = await PredictAsync(client, """{"tenure_months": "x"}""");
            Assert.Equal(("400", "miss", "1"), bad);
            Assert.Contains("tenure_months", badBody, StringComparison.Ordinal);
        }

        // The entry is in Redis, under the tenant (and its incarnation: a tenant created again under the id numbers its versions from 1 again), the model and its version.
        await using (var redis = await ConnectionMultiplexer.ConnectAsync(RedisCacheApp.Redis!))
        {
            var server = redis.GetServers().Single();
            var keys = server.Keys(pattern: $"strata:predict:{tenant}:*:churn:1:*").ToList();
            Assert.Single(keys);
        }

        using var anonymous = app.AnonymousClient();
        var metrics = PrometheusText.Parse(await anonymous.GetStringAsync("/metrics"));
        Assert.Equal(1, metrics.Value("ml_platform_prediction_cache_hits_total", ("tenant", tenant)));
        Assert.Equal(3, metrics.Value("ml_platform_prediction_cache_misses_total", ("tenant", tenant)));
    }

    /// <summary>Predicts; returns the status, the Strata-Cache and Strata-Model-Version headers, and the body.</summary>
    private static async Task<((string Status, string? Cache, string? Version) Answer, string Body)> PredictAsync(HttpClient client, string json)
    {
        using var response = await client.PostRawAsync("/v1/deployments/churn/predict", json);
        var cache = response.Headers.TryGetValues("Strata-Cache", out var caches) ? caches.Single() : null;
        var version = response.Headers.TryGetValues("Strata-Model-Version", out var versions) ? versions.Single() : null;
        return ((((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture), cache, version), await response.Content.ReadAsStringAsync());
    }
}
