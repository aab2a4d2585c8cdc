using System.Net.Http.Json;
using System.Text.Json;
using Strata.Contracts;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Deployments;

/// <summary>
/// <c>GET /v1/admin/prometheus/replicas</c>, Prometheus' HTTP service discovery of the replicas (admin only), and the
/// server's <c>ml_platform_deployment_replicas</c> gauge. That a real Prometheus scrapes the replicas through it is
/// Monitoring/PrometheusQueriesTests.
/// It reads the server's /metrics in process, so it runs with the other tests that do, one at a time
/// (OpenTelemetry's meter providers listen to meters by name across the process).
/// </summary>
[Collection(Process.ServerProcessCollection.Name)]
public sealed class ReplicaTargetsTests(DeploymentApp app) : IClassFixture<DeploymentApp>
{
    private const string Path = "/v1/admin/prometheus/replicas";

    [Fact]
    public async Task The_admin_finds_every_replica_as_a_target_labelled_with_its_tenant_deployment_and_version_and_the_server_counts_them()
    {
        var (tenant, client) = await app.TenantClientAsync("sd");
        using var _ = client;
        var version = await DeploymentTests.RegisterAsync(app, client, tenant);
        using (var created = await client.PostAsJsonAsync("/v1/deployments", new { name = "churn-sd", model = $"churn@{version}", min_replicas = 2, max_replicas = 2 }))
        {
            await Http.ExpectAsync(created, 201);
        }
        await DeploymentTests.WaitForAsync(client, "churn-sd", d => DeploymentTests.IsReadyAt(d, version, 2));

        using var admin = app.AdminClient();
        using var response = await admin.GetAsync(Path);
        var groups = await Http.ExpectAsync(response, 200);
        // Prometheus refuses any other media type.
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var ours = groups.EnumerateArray().Where(g => Label(g, "tenant") == tenant).ToList();
        Assert.Equal(2, ours.Count);
        foreach (var group in ours)
        {
            Assert.Equal("churn-sd", Label(group, "deployment"));
            Assert.Equal("churn", Label(group, "model_name"));
            Assert.Equal(version.ToString(System.Globalization.CultureInfo.InvariantCulture), Label(group, "version"));
            Assert.Equal("/metrics", Label(group, "__metrics_path__"));
            Assert.StartsWith("churn-sd-v", Label(group, "replica"), StringComparison.Ordinal);
            var target = Assert.Single(group.GetProperty("targets").EnumerateArray()).GetString()!;
            Assert.StartsWith("127.0.0.1:", target, StringComparison.Ordinal);
            // The target is the replica's own /metrics.
            using var replica = new HttpClient();
            var metrics = await replica.GetStringAsync(new Uri($"http://{target}/metrics"));
            Assert.Contains($"model_loaded{{model_name=\"churn\",version=\"{version}\"}} 1", metrics, StringComparison.Ordinal);
        }
        Assert.NotEqual(Label(ours[0], "replica"), Label(ours[1], "replica"));

        Assert.Equal([2, 2], [await GaugeAsync(tenant, "churn-sd", "desired"), await GaugeAsync(tenant, "churn-sd", "ready")]);

        using (var deleted = await client.DeleteAsync("/v1/deployments/churn-sd")) Assert.Equal(204, (int)deleted.StatusCode);
        using (var after = await admin.GetAsync(Path))
        {
            Assert.DoesNotContain((await Http.ExpectAsync(after, 200)).EnumerateArray(), g => Label(g, "tenant") == tenant);
        }
        Assert.Null(await GaugeAsync(tenant, "churn-sd", "ready"));
    }

    [Theory]
    [InlineData(Roles.Owner)]
    [InlineData(Roles.Member)]
    [InlineData(Roles.Viewer)]
    public async Task A_tenant_token_cannot_list_the_replicas_of_any_tenant(string role)
    {
        var (_, client) = await app.TenantClientAsync("sd-" + role, role);
        using var _ = client;

        using var response = await client.GetAsync(Path);

        await Http.ExpectProblemAsync(response, 403, ProblemTypes.Forbidden);
    }

    [Fact]
    public async Task Without_a_token_the_discovery_is_401()
    {
        using var anonymous = app.AnonymousClient();

        using var response = await anonymous.GetAsync(Path);

        await Http.ExpectProblemAsync(response, 401, ProblemTypes.Unauthenticated);
    }

    private static string? Label(JsonElement group, string name) =>
        group.GetProperty("labels").TryGetProperty(name, out var value) ? value.GetString() : null;

    /// <summary>The value of <c>ml_platform_deployment_replicas</c> for the deployment and state on the server's /metrics; null when absent.</summary>
    private async Task<int?> GaugeAsync(string tenant, string deployment, string state)
    {
        using var anonymous = app.AnonymousClient();
        var text = await anonymous.GetStringAsync("/metrics");
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith("ml_platform_deployment_replicas{", StringComparison.Ordinal)
                && line.Contains($"tenant=\"{tenant}\"", StringComparison.Ordinal)
                && line.Contains($"deployment=\"{deployment}\"", StringComparison.Ordinal)
                && line.Contains($"state=\"{state}\"", StringComparison.Ordinal))
            {
                return int.Parse(line.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        return null;
    }
}
