using System.Text.Json;
using System.Text.Json.Nodes;
using Strata.Server.Tests.Support;

namespace Strata.Kubernetes.Tests;

/// <summary>
/// The whole server reading its capacity from the fake cluster's nodes: a gang that does not fit waits for capacity
/// with placeholder pods that ask the cluster autoscaler for its nodes, and starts once a node joins.
/// </summary>
public sealed class KubernetesCapacityServerTests : IAsyncLifetime
{
    private const string PlatformNamespace = "strata-system";
    private FakeKubernetesApi _api = null!;
    private StrataApp _app = null!;

    public async Task InitializeAsync()
    {
        _api = await FakeKubernetesApi.StartAsync();
        _api.Put(FakeKubernetesApi.Namespaces, new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Namespace", ["metadata"] = new JsonObject { ["name"] = PlatformNamespace } });
        _api.AddNode("small-1", cpu: 2, memoryGi: 8);
        var kubeconfig = _api.WriteKubeconfig(Path.Combine(Path.GetTempPath(), "strata-k8s-tests", Guid.NewGuid().ToString("N")[..12]));
        _app = new StrataApp(settings: new Dictionary<string, string?>
        {
            ["Runtime:Kind"] = "kubernetes",
            ["Runtime:Kubernetes:KubeconfigPath"] = kubeconfig,
            ["Runtime:Kubernetes:DefaultImage"] = "strata:test",
            ["Runtime:Kubernetes:ProvisionSeconds"] = "1",
            ["Runtime:Kubernetes:PlaceholderSeconds"] = "1",
            ["Scheduler:CycleSeconds"] = "1",
        });
        await _app.InitializeAsync();
        // Read from the nodes before any job is submitted (until then the configured 64 cores would admit it).
        using var admin = _app.AdminClient();
        await ClusterHarness.EventuallyAsync(() => Capacity(admin).GetProperty("source").GetString() == "cluster", "the capacity read from the cluster");
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        await _api.DisposeAsync();
    }

    [Fact]
    public async Task A_gang_that_does_not_fit_waits_with_placeholders_until_a_node_joins_then_starts_and_they_go()
    {
        using var admin = _app.AdminClient();
        Assert.Equal(2, Capacity(admin).GetProperty("total").GetProperty("cpu_cores").GetDouble());
        var (tenant, client) = await _app.TenantClientAsync("k8s-cap");
        using var _ = client;
        var id = (await StrataApp.SubmitAsync(client, new
        {
            name = "gang", entrypoint = "python train.py", compute = new { cpu_cores = 2, memory_gb = 4 }, distributed = new { num_workers = 2 },
        })).GetProperty("id").GetString()!;

        await StrataApp.WaitForAsync(client, id, j => j.GetProperty("status_reason").GetString() == "waiting_for_capacity");
        await ClusterHarness.EventuallyAsync(() => Placeholders().Count == 2, "a placeholder per worker");
        Assert.All(Placeholders(), pod =>
        {
            Assert.Equal("strata-placeholder", pod["spec"]!["priorityClassName"]!.GetValue<string>());
            Assert.Equal("2", pod["spec"]!["containers"]![0]!["resources"]!["requests"]!["cpu"]!.GetValue<string>());
        });
        Assert.Empty(_api.List(FakeKubernetesApi.Jobs, "ml-" + tenant));

        // The autoscaler adds a node for the placeholders: the gang fits, starts, and its placeholders go.
        _api.AddNode("big-1", cpu: 8, memoryGi: 32);
        await ClusterHarness.EventuallyAsync(() => _api.List(FakeKubernetesApi.Jobs, "ml-" + tenant).Count == 1, "the gang's Job created");
        await ClusterHarness.EventuallyAsync(() => Placeholders().Count == 0, "the placeholders deleted");
    }

    [Fact]
    public async Task A_cancelled_waiting_job_takes_its_placeholders_with_it()
    {
        var (_, client) = await _app.TenantClientAsync("k8s-cap");
        using var _ = client;
        var id = (await StrataApp.SubmitAsync(client, new
        {
            name = "gang", entrypoint = "python train.py", compute = new { cpu_cores = 2, memory_gb = 4 }, distributed = new { num_workers = 2 },
        })).GetProperty("id").GetString()!;
        await ClusterHarness.EventuallyAsync(() => Placeholders().Count == 2, "a placeholder per worker");

        using var response = await client.DeleteAsync($"/v1/jobs/training/{id}");
        Assert.Equal(204, (int)response.StatusCode);
        await StrataApp.WaitForStatusAsync(client, id, "cancelled");
        await ClusterHarness.EventuallyAsync(() => Placeholders().Count == 0, "the placeholders deleted");
    }

    private List<JsonObject> Placeholders() => _api.List(FakeKubernetesApi.Pods, PlatformNamespace);

    private static JsonElement Capacity(HttpClient admin)
    {
        using var response = admin.GetAsync("/v1/admin/capacity").GetAwaiter().GetResult();
        response.EnsureSuccessStatusCode();
        using var body = JsonDocument.Parse(response.Content.ReadAsStringAsync().GetAwaiter().GetResult());
        return body.RootElement.Clone();
    }
}
