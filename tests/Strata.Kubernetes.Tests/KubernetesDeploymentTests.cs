using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Strata.Contracts;
using Strata.Core.Deployments;
using Strata.Server.Runtime.Kubernetes;
using Strata.Server.Runtime.Local;
using Strata.Server.Tests.Support;

namespace Strata.Kubernetes.Tests;

/// <summary>The server on Kestrel (its pods' fetch reaches the API over TCP), with <c>Runtime:Kind = kubernetes</c>.</summary>
public sealed class KubernetesKestrelApp : StrataApp
{
    public KubernetesKestrelApp(IReadOnlyDictionary<string, string?> settings) : base(StorageKind.Sqlite, settings) => OnKestrel = true;
}

/// <summary>
/// Model deployments on the Kubernetes runtime, through the API as a user drives them, against the fake API server, with
/// <see cref="ModelPods"/> playing the controllers and the kubelet: the pods' own commands fetch the model with the
/// Secret's token from the real API and serve it on the Service's address, where the platform's predict route forwards.
/// </summary>
public sealed class KubernetesDeploymentTests : IAsyncLifetime
{
    // The serving tests' ONNX fixture (this project links the server tests' support files, not their tests).
    private static readonly string IrisModel = Path.Combine(Repository(), "tests", "Strata.Worker.Serving.Tests", "Onnx", "iris_zipmap.onnx");
    private FakeKubernetesApi _api = null!;
    private KubernetesKestrelApp _app = null!;
    private ModelPods _pods = null!;

    public async Task InitializeAsync()
    {
        _api = await FakeKubernetesApi.StartAsync();
        _pods = new ModelPods(_api);
        var kubeconfig = _api.WriteKubeconfig(Path.Combine(Path.GetTempPath(), "strata-k8s-tests", Guid.NewGuid().ToString("N")[..12]));
        _app = new KubernetesKestrelApp(new Dictionary<string, string?>
        {
            ["Runtime:Kind"] = "kubernetes",
            ["Runtime:Kubernetes:KubeconfigPath"] = kubeconfig,
            ["Runtime:Kubernetes:DefaultImage"] = "strata:test",
            ["Runtime:Kubernetes:CapacityFromCluster"] = "false",
            ["Runtime:Kubernetes:ProvisionSeconds"] = "1",
            // Each Service's own loopback address, on a port no other test uses.
            ["Runtime:Kubernetes:ReplicaServicePort"] = FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Deployments:ScaleUpStabilizationSeconds"] = "0",
        });
        await _app.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await _pods.DisposeAsync();
        await _app.DisposeAsync();
        await _api.DisposeAsync();
    }

    [Fact]
    public async Task A_deployment_is_a_deployment_service_and_budget_that_serves_its_version_from_a_pod_rolls_out_canaries_rolls_back_and_is_deleted_whole()
    {
        var (tenant, client) = await _app.TenantClientAsync("k8s-serve");
        var (_, other) = await _app.TenantClientAsync("k8s-other");
        using var c1 = client;
        using var c2 = other;
        var ns = "ml-" + tenant;
        await RegisterIrisAsync(client, tenant, times: 2);

        await CreateAsync(client, new { model = "iris@1", min_replicas = 2, max_replicas = 4 });
        await ClusterHarness.EventuallyAsync(() => Replicas(ns, "model-iris") == 2, "the Deployment scaled to its minimum");
        var deployment = _api.Get(FakeKubernetesApi.Deployments, ns, "model-iris")!;
        var uid = deployment["metadata"]!["uid"]!.GetValue<string>();
        Assert.Equal("1", deployment["spec"]!["template"]!["metadata"]!["labels"]!["strata.dev/model-version"]!.GetValue<string>());
        Assert.NotNull(_api.Get(FakeKubernetesApi.Services, ns, "model-iris"));
        Assert.NotNull(_api.Get(FakeKubernetesApi.DisruptionBudgets, ns, "model-iris"));
        // Mode in_flight: the platform's autoscaler sizes it, so there is no HPA.
        Assert.Null(_api.Get(FakeKubernetesApi.Autoscalers, ns, "model-iris"));
        var secret = _api.Get(FakeKubernetesApi.Secrets, ns, "model-iris-fetch")!;
        Assert.Equal(uid, secret["metadata"]!["ownerReferences"]![0]!["uid"]!.GetValue<string>());
        var token = Convert.FromBase64String(secret["data"]!["token"]!.GetValue<string>());
        AssertNoSpecHolds(token);
        Assert.Equal("pending", (await GetAsync(client, "iris")).GetProperty("status").GetString());

        await _pods.RollOutAsync(ns, "model-iris");
        var ready = await WaitForAsync(client, "iris", d => d.GetProperty("status").GetString() == "ready" && d.GetProperty("ready_replicas").GetInt32() == 2);
        Assert.Contains(ready.GetProperty("events").EnumerateArray(), e => e.GetProperty("reason").GetString() == "replica_ready");
        AssertNoSpecHolds(token); // the pods, made from the template, hold none either
        Assert.Equal("1", (await PredictAsync(client, 1)).Version);
        using (var predict = await other.PostAsJsonAsync("/v1/deployments/iris/predict", Instance(1))) await Http.ExpectProblemAsync(predict, 404, ProblemTypes.NotFound);

        // A new version rolls out in place: the same Deployment, a new pod template, replica by replica.
        await PatchAsync(client, "iris", new { model = "iris@2" });
        await ClusterHarness.EventuallyAsync(() => TemplateVersion(ns, "model-iris") == "2", "the template at version 2");
        Assert.Equal(uid, _api.Get(FakeKubernetesApi.Deployments, ns, "model-iris")!["metadata"]!["uid"]!.GetValue<string>());
        var strategy = _api.Get(FakeKubernetesApi.Deployments, ns, "model-iris")!["spec"]!["strategy"]!["rollingUpdate"]!;
        Assert.Equal((1, 0), (strategy["maxSurge"]!.GetValue<int>(), strategy["maxUnavailable"]!.GetValue<int>()));
        await _pods.RollOutAsync(ns, "model-iris");
        await WaitForAsync(client, "iris", d => d.GetProperty("status").GetString() == "ready" && d.GetProperty("model_version").GetInt32() == 2);
        Assert.Equal("2", (await PredictAsync(client, 2)).Version);

        // A canary is a second Deployment, owned by the first, with its share of the replicas; the router splits exactly.
        await PatchAsync(client, "iris", new { canary = new { model = "iris@1", weight = 0.5 } });
        await ClusterHarness.EventuallyAsync(() => Replicas(ns, "model-iris-canary") == 1, "the canary's Deployment at its share");
        Assert.Equal(uid, _api.Get(FakeKubernetesApi.Deployments, ns, "model-iris-canary")!["metadata"]!["ownerReferences"]![0]!["uid"]!.GetValue<string>());
        Assert.Equal("1", TemplateVersion(ns, "model-iris-canary"));
        await _pods.RollOutAsync(ns, "model-iris-canary");
        await WaitForAsync(client, "iris", d => d.GetProperty("canary").ValueKind == JsonValueKind.Object && d.GetProperty("canary").GetProperty("ready_replicas").GetInt32() == 1);
        var versions = new List<string>();
        for (var i = 0; i < 10; i++) versions.Add((await PredictAsync(client, i % 3)).Version);
        Assert.Equal(5, versions.Count(v => v == "1"));
        Assert.Equal(5, versions.Count(v => v == "2"));

        // Removing the canary deletes its objects; a rollback is a change back to the earlier version.
        await PatchAsync(client, "iris", new { canary = new { weight = 0 } });
        await ClusterHarness.EventuallyAsync(() => _api.Get(FakeKubernetesApi.Deployments, ns, "model-iris-canary") is null, "the canary's Deployment deleted");
        Assert.Null(_api.Get(FakeKubernetesApi.Services, ns, "model-iris-canary"));
        await PatchAsync(client, "iris", new { model = "iris@1" });
        await ClusterHarness.EventuallyAsync(() => TemplateVersion(ns, "model-iris") == "1", "rolled back to version 1");
        await _pods.RollOutAsync(ns, "model-iris");
        await WaitForAsync(client, "iris", d => d.GetProperty("status").GetString() == "ready" && d.GetProperty("model_version").GetInt32() == 1);
        Assert.Equal("1", (await PredictAsync(client, 0)).Version);

        // Another tenant cannot delete it; its owner deletes everything through the main Deployment.
        using (var refused = await other.DeleteAsync("/v1/deployments/iris")) await Http.ExpectProblemAsync(refused, 404, ProblemTypes.NotFound);
        Assert.NotNull(_api.Get(FakeKubernetesApi.Deployments, ns, "model-iris"));
        using (var deleted = await client.DeleteAsync("/v1/deployments/iris")) Assert.Equal(204, (int)deleted.StatusCode);
        Assert.DoesNotContain(_api.Everything(), o => o.Item["metadata"]?["labels"]?["strata.dev/deployment"] is not null);
        Assert.Null(_api.Get(FakeKubernetesApi.Secrets, ns, "model-iris-fetch"));
    }

    [Fact]
    public async Task Cpu_mode_hands_scaling_to_an_hpa_and_in_flight_mode_takes_it_back_without_both_at_once()
    {
        var (tenant, client) = await _app.TenantClientAsync("k8s-hpa");
        using var _ = client;
        var ns = "ml-" + tenant;
        await RegisterIrisAsync(client, tenant, times: 1);
        await CreateAsync(client, new { model = "iris@1", min_replicas = 2, max_replicas = 5, scaling = new { mode = "cpu", target_cpu_percent = 55 } });
        await ClusterHarness.EventuallyAsync(() => _api.Get(FakeKubernetesApi.Autoscalers, ns, "model-iris") is not null, "the HPA");
        var hpa = _api.Get(FakeKubernetesApi.Autoscalers, ns, "model-iris")!;
        Assert.Equal(55, hpa["spec"]!["metrics"]![0]!["resource"]!["target"]!["averageUtilization"]!.GetValue<int>());
        Assert.Equal((2, 5), (hpa["spec"]!["minReplicas"]!.GetValue<int>(), hpa["spec"]!["maxReplicas"]!.GetValue<int>()));
        Assert.Equal("model-iris", hpa["spec"]!["scaleTargetRef"]!["name"]!.GetValue<string>());

        // The HPA's controller writes the count; Strata's apply and autoscaler leave it alone.
        _api.Update(FakeKubernetesApi.Deployments, ns, "model-iris", d => d["spec"]!["replicas"] = 4, manager: "kube-controller-manager");
        var runtime = _app.Services.GetRequiredService<KubernetesDeploymentRuntime>();
        await ClusterHarness.EventuallyAsync(() => runtime.Observe(new DeploymentKey(tenant, "iris"))?.DesiredReplicas == 4, "the watch saw the HPA's scale");
        await PatchAsync(client, "iris", new { max_replicas = 6 });
        await NewAutoscaler(runtime, inFlight: 0).PassAsync(CancellationToken.None);
        Assert.Equal(4, Replicas(ns, "model-iris"));
        Assert.Equal(6, _api.Get(FakeKubernetesApi.Autoscalers, ns, "model-iris")!["spec"]!["maxReplicas"]!.GetValue<int>());

        // Back to the platform's autoscaler: the HPA goes, and the count is brought within the new limits.
        await PatchAsync(client, "iris", new { max_replicas = 3, scaling = new { mode = "in_flight" } });
        Assert.Null(_api.Get(FakeKubernetesApi.Autoscalers, ns, "model-iris"));
        Assert.Equal(3, Replicas(ns, "model-iris"));
        Assert.Equal("in_flight", (await GetAsync(client, "iris")).GetProperty("scaling").GetProperty("mode").GetString());
    }

    [Fact]
    public async Task The_in_flight_autoscaler_writes_the_scale_subresource_from_the_requests_on_ready_replicas()
    {
        var (tenant, client) = await _app.TenantClientAsync("k8s-scale");
        using var _ = client;
        var ns = "ml-" + tenant;
        await RegisterIrisAsync(client, tenant, times: 1);
        await CreateAsync(client, new { model = "iris@1", min_replicas = 1, max_replicas = 4, scaling = new { target_in_flight = 2 } });
        await ClusterHarness.EventuallyAsync(() => _api.Get(FakeKubernetesApi.Deployments, ns, "model-iris") is not null, "the Deployment");
        await _pods.RollOutAsync(ns, "model-iris", run: false);
        var runtime = _app.Services.GetRequiredService<KubernetesDeploymentRuntime>();
        await ClusterHarness.EventuallyAsync(() => runtime.Observe(new DeploymentKey(tenant, "iris"))?.Ready.Count == 1, "the replica ready");

        // 5 requests in flight on the one replica, 2 per replica wanted: 3 replicas.
        await NewAutoscaler(runtime, inFlight: 5).PassAsync(CancellationToken.None);
        Assert.Equal(3, Replicas(ns, "model-iris"));
        Assert.Contains(_api.FieldsOwnedBy(FakeKubernetesApi.Deployments, ns, "model-iris", "strata"), f => f.Contains("replicas", StringComparison.Ordinal));
        await ClusterHarness.EventuallyAsync(() => runtime.Observe(new DeploymentKey(tenant, "iris"))?.DesiredReplicas == 3, "the watch saw the new scale");
        var scaled = await WaitForAsync(client, "iris", d => d.GetProperty("desired_replicas").GetInt32() == 3);
        Assert.Contains(scaled.GetProperty("events").EnumerateArray(), e => e.GetProperty("reason").GetString() == "scaled");
    }

    [Fact]
    public async Task A_restarted_server_adopts_the_running_pods_repairs_drift_and_deletes_what_is_stored_no_more()
    {
        var (tenant, client) = await _app.TenantClientAsync("k8s-restart");
        using var _ = client;
        var ns = "ml-" + tenant;
        await RegisterIrisAsync(client, tenant, times: 1);
        await CreateAsync(client, new { model = "iris@1", min_replicas = 1, max_replicas = 2 });
        await ClusterHarness.EventuallyAsync(() => _api.Get(FakeKubernetesApi.Services, ns, "model-iris") is not null, "the Service");
        await _pods.RollOutAsync(ns, "model-iris");
        await WaitForAsync(client, "iris", d => d.GetProperty("status").GetString() == "ready");
        var pods = PodNames(ns);
        var uid = _api.Get(FakeKubernetesApi.Deployments, ns, "model-iris")!["metadata"]!["uid"]!.GetValue<string>();

        // While the server is down: someone deletes the budget and edits the probe; a deployment's record is gone but its objects stayed.
        var orphan = (JsonObject)_api.Get(FakeKubernetesApi.Deployments, ns, "model-iris")!.DeepClone();
        await _app.RestartAsync(async _ =>
        {
            _api.Remove(FakeKubernetesApi.DisruptionBudgets, ns, "model-iris");
            orphan["metadata"] = new JsonObject
            {
                ["name"] = "model-gone",
                ["namespace"] = ns,
                ["labels"] = new JsonObject { ["managed-by"] = "strata", ["tenant"] = tenant, ["strata.dev/deployment"] = "gone", ["strata.dev/track"] = "main" },
            };
            _api.Put(FakeKubernetesApi.Deployments, orphan, manager: "strata");
            await Task.Delay(1100); // created before the restarted server reads its store, to the second
        });

        await ClusterHarness.EventuallyAsync(() => _api.Get(FakeKubernetesApi.DisruptionBudgets, ns, "model-iris") is not null, "the budget applied again");
        await ClusterHarness.EventuallyAsync(() => _api.Get(FakeKubernetesApi.Deployments, ns, "model-gone") is null, "the orphan deleted");
        // Adopted: the same Deployment and pods, ready, serving at once.
        using var again = _app.ClientFor(await _app.TokenForAsync(tenant, Roles.Member));
        await WaitForAsync(again, "iris", d => d.GetProperty("status").GetString() == "ready");
        Assert.Equal(uid, _api.Get(FakeKubernetesApi.Deployments, ns, "model-iris")!["metadata"]!["uid"]!.GetValue<string>());
        Assert.Equal(pods, PodNames(ns));
        Assert.Equal("1", (await PredictAsync(again, 0)).Version);
    }

    [Fact]
    public async Task A_pod_that_cannot_fetch_its_model_shows_why_in_the_deployments_events()
    {
        var (tenant, client) = await _app.TenantClientAsync("k8s-fetch");
        using var _ = client;
        var ns = "ml-" + tenant;
        await RegisterIrisAsync(client, tenant, times: 1);
        await CreateAsync(client, new { model = "iris@1", min_replicas = 1, max_replicas = 1 });
        await ClusterHarness.EventuallyAsync(() => _api.Get(FakeKubernetesApi.Deployments, ns, "model-iris") is not null, "the Deployment");
        var deployment = _api.Get(FakeKubernetesApi.Deployments, ns, "model-iris")!;
        _api.Put(FakeKubernetesApi.Pods, new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Pod",
            ["metadata"] = new JsonObject { ["name"] = "model-iris-abc-0", ["namespace"] = ns, ["labels"] = deployment["spec"]!["template"]!["metadata"]!["labels"]!.DeepClone() },
            ["spec"] = deployment["spec"]!["template"]!["spec"]!.DeepClone(),
            ["status"] = new JsonObject { ["phase"] = "Pending", ["initContainerStatuses"] = new JsonArray(InitStatus(0, null)) },
        }, manager: "kubelet");
        _api.Update(FakeKubernetesApi.Pods, ns, "model-iris-abc-0", p => p["status"]!["initContainerStatuses"] = new JsonArray(InitStatus(1, new JsonObject
        {
            ["exitCode"] = 77,
            ["reason"] = "Error",
            ["message"] = "error: the API answered 401: the token has expired",
        })), manager: "kubelet");

        var seen = await WaitForAsync(client, "iris", d => d.GetProperty("events").EnumerateArray().Any(e => e.GetProperty("reason").GetString() == "model_fetch_failed"));
        var failed = seen.GetProperty("events").EnumerateArray().Single(e => e.GetProperty("reason").GetString() == "model_fetch_failed");
        Assert.Contains("exit status 77", failed.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("the token has expired", failed.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal("pending", seen.GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_deployment_the_cluster_refuses_is_kept_says_why_and_is_applied_by_its_next_change()
    {
        var (tenant, client) = await _app.TenantClientAsync("k8s-refused");
        using var _ = client;
        var ns = "ml-" + tenant;
        await RegisterIrisAsync(client, tenant, times: 1);
        await ClusterHarness.EventuallyAsync(() => _api.Get(FakeKubernetesApi.Namespaces, null, ns) is not null, "the tenant's namespace");
        _api.FailNext("PATCH", "/deployments/model-iris", 422);

        await CreateAsync(client, new { model = "iris@1", min_replicas = 1, max_replicas = 1 });
        var refused = await GetAsync(client, "iris");
        Assert.Contains(refused.GetProperty("events").EnumerateArray(), e => e.GetProperty("reason").GetString() == "apply_failed");
        Assert.Null(_api.Get(FakeKubernetesApi.Deployments, ns, "model-iris"));

        await PatchAsync(client, "iris", new { max_replicas = 2 });
        Assert.NotNull(_api.Get(FakeKubernetesApi.Deployments, ns, "model-iris"));
    }

    private static JsonObject InitStatus(int restarts, JsonObject? lastEnd) => new()
    {
        ["name"] = DeploymentManifests.FetchContainer,
        ["ready"] = false,
        ["restartCount"] = restarts,
        ["image"] = "x",
        ["imageID"] = "",
        ["state"] = new JsonObject { ["waiting"] = new JsonObject { ["reason"] = restarts == 0 ? "PodInitializing" : "CrashLoopBackOff" } },
        ["lastState"] = lastEnd is null ? new JsonObject() : new JsonObject { ["terminated"] = lastEnd },
    };

    private static DeploymentAutoscaler NewAutoscaler(KubernetesDeploymentRuntime runtime, int inFlight) =>
        new(runtime, new FixedLoad(inFlight), Options.Create(new LocalDeploymentOptions { ScaleUpStabilizationSeconds = 0, ScaleDownStabilizationSeconds = 0 }),
            TimeProvider.System, NullLogger<DeploymentAutoscaler>.Instance);

    private sealed class FixedLoad(int inFlight) : IReplicaLoad
    {
        public int InFlight(string replicaId) => inFlight;

        public void Forget(string replicaId)
        {
        }
    }

    /// <summary>No object in the cluster but Secrets holds the token, in any form the API server keeps.</summary>
    private void AssertNoSpecHolds(byte[] token)
    {
        var text = System.Text.Encoding.UTF8.GetString(token);
        var encoded = Convert.ToBase64String(token);
        foreach (var (collection, item) in _api.Everything().Where(o => o.Collection != FakeKubernetesApi.Secrets))
        {
            var json = item.ToJsonString();
            Assert.False(json.Contains(text, StringComparison.Ordinal) || json.Contains(encoded, StringComparison.Ordinal), $"{collection} {item["metadata"]?["name"]} holds the token");
        }
    }

    private async Task RegisterIrisAsync(HttpClient client, string tenant, int times)
    {
        var folder = Path.Combine(_app.DataPath, "artifacts", tenant, "out");
        Directory.CreateDirectory(folder);
        File.Copy(IrisModel, Path.Combine(folder, "model.onnx"), overwrite: true);
        for (var i = 0; i < times; i++)
        {
            using var response = await client.PostAsJsonAsync("/v1/models/iris/versions", new { path = "out/model.onnx" });
            await Http.ExpectAsync(response, 201);
        }
    }

    private static readonly JsonElement Expected =
        JsonDocument.Parse(File.ReadAllText(Path.Combine(Path.GetDirectoryName(IrisModel)!, "expected.json"))).RootElement.GetProperty("iris_zipmap");

    private static JsonElement Instance(int index) => Expected.GetProperty("instances")[index];

    /// <summary>Predicts one instance through the platform: the answer is the model's own, and says which version gave it.</summary>
    private static async Task<(string Version, string Label)> PredictAsync(HttpClient client, int instance)
    {
        using var response = await client.PostAsJsonAsync("/v1/deployments/iris/predict", Instance(instance));
        var body = await Http.ExpectAsync(response, 200);
        var label = body.GetProperty("prediction").GetProperty("predicted_label").GetString()!;
        Assert.Equal(Expected.GetProperty("predictions")[instance].GetProperty("predicted_label").GetString(), label);
        return (response.Headers.GetValues("Strata-Model-Version").Single(), label);
    }

    private static async Task CreateAsync(HttpClient client, object deployment)
    {
        using var response = await client.PostAsJsonAsync("/v1/deployments", deployment, Http.Json);
        await Http.ExpectAsync(response, 201);
    }

    private static async Task PatchAsync(HttpClient client, string name, object change)
    {
        using var response = await client.PatchAsJsonAsync($"/v1/deployments/{name}", change, Http.Json);
        await Http.ExpectAsync(response, 200);
    }

    private static async Task<JsonElement> GetAsync(HttpClient client, string name)
    {
        using var response = await client.GetAsync($"/v1/deployments/{name}");
        return await Http.ExpectAsync(response, 200);
    }

    private static async Task<JsonElement> WaitForAsync(HttpClient client, string name, Func<JsonElement, bool> until)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        JsonElement deployment;
        do
        {
            deployment = await GetAsync(client, name);
            if (until(deployment)) return deployment;
            await Task.Delay(50);
        }
        while (DateTime.UtcNow < deadline);
        Assert.Fail($"Deployment {name} did not reach the expected state; last seen: {deployment}");
        return deployment;
    }

    private int? Replicas(string ns, string name) => _api.Get(FakeKubernetesApi.Deployments, ns, name)?["spec"]?["replicas"]?.GetValue<int>();

    private string? TemplateVersion(string ns, string name) =>
        _api.Get(FakeKubernetesApi.Deployments, ns, name)?["spec"]?["template"]?["metadata"]?["labels"]?["strata.dev/model-version"]?.GetValue<string>();

    private List<string> PodNames(string ns) =>
        [.. _api.List(FakeKubernetesApi.Pods, ns).Select(p => p["metadata"]!["name"]!.GetValue<string>()).Order(StringComparer.Ordinal)];

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string Repository()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Strata.slnx"))) directory = directory.Parent;
        return directory!.FullName;
    }
}
