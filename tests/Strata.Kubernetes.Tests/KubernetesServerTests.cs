using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Strata.Server.Tests.Support;

namespace Strata.Kubernetes.Tests;

/// <summary>
/// The whole server on <c>Runtime:Kind = kubernetes</c> against the fake API server, driven through its
/// HTTP API as a user would: the domain does not know which runtime it is on.
/// </summary>
public sealed class KubernetesServerTests : IAsyncLifetime
{
    private static readonly int[] RetryCodes = [75];
    private static readonly string[] PandasOnly = ["pandas==99"];
    private FakeKubernetesApi _api = null!;
    private StrataApp _app = null!;

    public async Task InitializeAsync()
    {
        _api = await FakeKubernetesApi.StartAsync();
        var kubeconfig = _api.WriteKubeconfig(Path.Combine(Path.GetTempPath(), "strata-k8s-tests", Guid.NewGuid().ToString("N")[..12]));
        _app = new StrataApp(settings: new Dictionary<string, string?>
        {
            ["Runtime:Kind"] = "kubernetes",
            ["Runtime:Kubernetes:KubeconfigPath"] = kubeconfig,
            ["Runtime:Kubernetes:DefaultImage"] = "strata:test",
            // The fake cluster has no nodes: these tests schedule within the configured capacity (KubernetesCapacityTests read it from nodes).
            ["Runtime:Kubernetes:CapacityFromCluster"] = "false",
            ["Runtime:Kubernetes:ProvisionSeconds"] = "1",
            ["Strata:DiskSweepSeconds"] = "1",
            ["Jobs:Retention"] = "00:00:02",
            ["Runtime:Kubernetes:TtlSecondsAfterFinished"] = "2",
        });
        await _app.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        await _api.DisposeAsync();
    }

    private JsonObject OnlyJob(string ns) => Assert.Single(_api.List(FakeKubernetesApi.Jobs, ns));

    [Fact]
    public async Task A_submitted_job_runs_as_a_kubernetes_job_and_succeeds()
    {
        var (tenant, client) = await _app.TenantClientAsync("k8s");
        var ns = "ml-" + tenant;
        var job = await StrataApp.SubmitAsync(client, new { name = "train", entrypoint = "python train.py", compute = new { cpu_cores = 2, memory_gb = 4 } });
        var id = job.GetProperty("id").GetString()!;

        var running = await StrataApp.WaitForStatusAsync(client, id, "running");
        await ClusterHarness.EventuallyAsync(() => _api.List(FakeKubernetesApi.Jobs, ns).Count == 1, "the Job created");
        var name = OnlyJob(ns)["metadata"]!["name"]!.GetValue<string>();
        running = await StrataApp.WaitForAsync(client, id, j => j.GetProperty("kubernetes_job_name").ValueKind != System.Text.Json.JsonValueKind.Null);
        Assert.Equal(name, running.GetProperty("kubernetes_job_name").GetString());
        Assert.Equal("kubernetes", running.GetProperty("runtime").GetProperty("kind").GetString());
        Assert.Equal(ns, running.GetProperty("runtime").GetProperty("namespace").GetString());
        // The seed's defaults are not the local runtime's: the spec's compute is what the Job asks for.
        Assert.Equal("2", OnlyJob(ns)["spec"]!["template"]!["spec"]!["containers"]![0]!["resources"]!["limits"]!["cpu"]!.GetValue<string>());

        _api.StartJob(ns, name);
        _api.FinishJob(ns, name, succeeded: true);

        var done = await StrataApp.WaitForStatusAsync(client, id, "succeeded");
        Assert.Equal(1, done.GetProperty("attempts").GetInt32());
        // Recorded, so collected: the Job stays (its logs with it) but is no longer watched.
        await ClusterHarness.EventuallyAsync(() => OnlyJob(ns)["metadata"]!["labels"]!["strata.dev/collected"] is not null, "the Job collected");
    }

    [Fact]
    public async Task A_share_of_a_gpu_is_refused_until_a_time_slicing_device_plugin_is_supported()
    {
        var (tenant, client) = await _app.TenantClientAsync("k8s-share");
        using var _ = client;
        using var response = await client.PostAsJsonAsync("/v1/jobs/training",
            new { name = "share", entrypoint = "python train.py", compute = new { gpu_fraction = 0.25 } }, Http.Json);
        var problem = await Http.ExpectValidationAsync(response, "compute.gpu_fraction");
        Assert.Contains("time-slicing device plugin", problem.GetProperty("errors").GetProperty("compute.gpu_fraction")[0].GetString(), StringComparison.Ordinal);
        Assert.Empty(_api.List(FakeKubernetesApi.Jobs, "ml-" + tenant));
    }

    [Fact]
    public async Task A_job_whose_container_fails_fails_with_its_exit_code_and_is_not_retried()
    {
        var (tenant, client) = await _app.TenantClientAsync("k8s");
        var ns = "ml-" + tenant;
        var id = (await StrataApp.SubmitAsync(client, new { name = "bad", compute = new { cpu_cores = 1, memory_gb = 1 } })).GetProperty("id").GetString()!;
        await ClusterHarness.EventuallyAsync(() => _api.List(FakeKubernetesApi.Jobs, ns).Count == 1, "the Job created");
        var name = OnlyJob(ns)["metadata"]!["name"]!.GetValue<string>();

        _api.AddPod(ns, name, 0, new JsonObject { ["terminated"] = new JsonObject { ["exitCode"] = 2, ["reason"] = "Error" } });
        _api.FinishJob(ns, name, succeeded: false, reason: "PodFailurePolicy");

        var failed = await StrataApp.WaitForStatusAsync(client, id, "failed");
        Assert.Equal("exited_with_error", failed.GetProperty("status_reason").GetString());
        Assert.Equal(1, failed.GetProperty("attempts").GetInt32());
    }

    [Fact]
    public async Task Requirements_pip_cannot_install_end_the_job_with_an_environment_error_quoting_pip_not_retried()
    {
        var (tenant, client) = await _app.TenantClientAsync("k8s-env");
        var ns = "ml-" + tenant;
        var id = (await StrataApp.SubmitAsync(client, new
        {
            name = "needs-pandas", compute = new { cpu_cores = 1, memory_gb = 1 }, retry = new { max_attempts = 3 },
            environment = new { requirements = PandasOnly },
        })).GetProperty("id").GetString()!;
        await ClusterHarness.EventuallyAsync(() => _api.List(FakeKubernetesApi.Jobs, ns).Count == 1, "the Job created");
        var job = OnlyJob(ns);
        var name = job["metadata"]!["name"]!.GetValue<string>();
        Assert.Equal("environment", job["spec"]!["template"]!["spec"]!["initContainers"]![0]!["name"]!.GetValue<string>());

        // The init container fails; the training container never starts.
        var pod = _api.AddPod(ns, name, 0, null);
        _api.Update(FakeKubernetesApi.Pods, ns, pod["metadata"]!["name"]!.GetValue<string>(), item =>
        {
            item["status"]!["phase"] = "Failed";
            item["status"]!["initContainerStatuses"] = new JsonArray(new JsonObject
            {
                ["name"] = "environment", ["ready"] = false, ["restartCount"] = 0, ["image"] = "x", ["imageID"] = "",
                ["state"] = new JsonObject { ["terminated"] = new JsonObject { ["exitCode"] = 1, ["reason"] = "Error", ["message"] = "ERROR: No matching distribution found for pandas==99" } },
            });
        });
        _api.FinishJob(ns, name, succeeded: false, reason: "BackoffLimitExceeded");

        var failed = await StrataApp.WaitForStatusAsync(client, id, "failed");
        Assert.Equal("environment_error", failed.GetProperty("status_reason").GetString());
        Assert.Equal(1, failed.GetProperty("attempts").GetInt32());
        Assert.Contains("No matching distribution found for pandas==99", failed.GetProperty("error_message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_interpreter_or_the_servers_path_is_refused_on_kubernetes_where_the_image_is_the_environment()
    {
        var (tenant, client) = await _app.TenantClientAsync("k8s-python");
        using var _ = client;
        using var response = await client.PostAsJsonAsync("/v1/jobs/training",
            new { name = "own-python", environment = new { python = "/data/conda/bin/python", inherit_path = true } }, Http.Json);

        var problem = await Http.ExpectValidationAsync(response, "environment.inherit_path", "environment.python");
        Assert.Contains("docker_image", problem.GetProperty("errors").GetProperty("environment.python")[0].GetString(), StringComparison.Ordinal);
        Assert.Contains("its image's", problem.GetProperty("errors").GetProperty("environment.inherit_path")[0].GetString(), StringComparison.Ordinal);
        Assert.Empty(_api.List(FakeKubernetesApi.Jobs, "ml-" + tenant));
    }

    [Fact]
    public async Task A_lost_job_is_retried_as_a_new_attempt_with_a_new_kubernetes_job()
    {
        var (tenant, client) = await _app.TenantClientAsync("k8s");
        var ns = "ml-" + tenant;
        var id = (await StrataApp.SubmitAsync(client, new { name = "lost", compute = new { cpu_cores = 1, memory_gb = 1 }, retry = new { max_attempts = 2, backoff = 1 } })).GetProperty("id").GetString()!;
        await ClusterHarness.EventuallyAsync(() => _api.List(FakeKubernetesApi.Jobs, ns).Count == 1, "the first Job");
        var first = OnlyJob(ns)["metadata"]!["name"]!.GetValue<string>();

        _api.FinishJob(ns, first, succeeded: false, reason: "BackoffLimitExceeded", message: "pod evicted");

        await ClusterHarness.EventuallyAsync(() => _api.List(FakeKubernetesApi.Jobs, ns).Count == 2, "a second Job");
        var second = _api.List(FakeKubernetesApi.Jobs, ns).Select(j => j["metadata"]!["name"]!.GetValue<string>()).Single(n => n != first);
        Assert.EndsWith("-2", second, StringComparison.Ordinal);
        _api.FinishJob(ns, second, succeeded: true);
        var done = await StrataApp.WaitForStatusAsync(client, id, "succeeded");
        Assert.Equal(2, done.GetProperty("attempts").GetInt32());
    }

    private string JobNamed(string ns, int attempt) =>
        _api.List(FakeKubernetesApi.Jobs, ns).Select(j => j["metadata"]!["name"]!.GetValue<string>()).Single(n => n.EndsWith($"-{attempt}", StringComparison.Ordinal));

    private static string PodName(JsonObject pod) => pod["metadata"]!["name"]!.GetValue<string>();

    private static async Task<JsonElement[]> AttemptsAsync(HttpClient client, string id)
    {
        using var response = await client.GetAsync($"/v1/jobs/training/{id}/attempts");
        return [.. (await Http.ExpectAsync(response, 200)).EnumerateArray().OrderBy(a => a.GetProperty("number").GetInt32())];
    }

    [Fact]
    public async Task An_oom_killed_pod_is_retried_by_a_new_job_asking_for_one_and_a_half_times_the_memory()
    {
        var (tenant, client) = await _app.TenantClientAsync("k8s");
        var ns = "ml-" + tenant;
        var id = (await StrataApp.SubmitAsync(client, new { name = "grows", compute = new { cpu_cores = 1, memory_gb = 3 }, retry = new { max_attempts = 2, backoff_seconds = 0 } })).GetProperty("id").GetString()!;
        await ClusterHarness.EventuallyAsync(() => _api.List(FakeKubernetesApi.Jobs, ns).Count == 1, "the first Job");
        var first = JobNamed(ns, 1);
        Assert.Equal("3Gi", Limits(ns, first)["memory"]!.GetValue<string>());

        _api.AddPod(ns, first, 0, new JsonObject { ["terminated"] = new JsonObject { ["exitCode"] = 137, ["reason"] = "OOMKilled" } });
        _api.FinishJob(ns, first, succeeded: false, reason: "PodFailurePolicy");

        await ClusterHarness.EventuallyAsync(() => _api.List(FakeKubernetesApi.Jobs, ns).Count == 2, "a second Job");
        // 3 GB × 1.5 = 4.5, rounded up to a whole GB.
        Assert.Equal("5Gi", Limits(ns, JobNamed(ns, 2))["memory"]!.GetValue<string>());
        _api.FinishJob(ns, JobNamed(ns, 2), succeeded: true);
        var done = await StrataApp.WaitForStatusAsync(client, id, "succeeded");
        Assert.Equal(3, done.GetProperty("spec").GetProperty("compute").GetProperty("memory_gb").GetInt32());
        var attempts = await AttemptsAsync(client, id);
        Assert.Equal(("out_of_memory", "out_of_memory", "retry"), (attempts[0].GetProperty("outcome").GetString(), attempts[0].GetProperty("classification").GetString(), attempts[0].GetProperty("decision").GetString()));
        Assert.Equal(5, attempts[1].GetProperty("effective_compute").GetProperty("memory_gb").GetDouble());
    }

    private JsonObject Limits(string ns, string job) =>
        _api.Get(FakeKubernetesApi.Jobs, ns, job)!["spec"]!["template"]!["spec"]!["containers"]![0]!["resources"]!["limits"]!.AsObject();

    [Fact]
    public async Task A_disrupted_pod_is_retried_as_an_evicted_infrastructure_failure_on_the_same_checkpoint_claim()
    {
        var (tenant, client) = await _app.TenantClientAsync("k8s");
        var ns = "ml-" + tenant;
        var id = (await StrataApp.SubmitAsync(client, new { name = "spot", compute = new { cpu_cores = 1, memory_gb = 1 }, retry = new { max_attempts = 2, backoff_seconds = 1 } })).GetProperty("id").GetString()!;
        await ClusterHarness.EventuallyAsync(() => _api.List(FakeKubernetesApi.Jobs, ns).Count == 1, "the first Job");
        var first = JobNamed(ns, 1);
        var claim = Assert.Single(_api.List(FakeKubernetesApi.PersistentVolumeClaims, ns));

        var pod = _api.AddPod(ns, first, 0, new JsonObject { ["terminated"] = new JsonObject { ["exitCode"] = 143, ["reason"] = "Error" } });
        _api.DisruptPod(ns, PodName(pod), "PreemptionByScheduler");
        _api.FinishJob(ns, first, succeeded: false, reason: "PodFailurePolicy", message: $"Pod {ns}/{PodName(pod)} has condition DisruptionTarget matching FailJob rule at index 0");

        await ClusterHarness.EventuallyAsync(() => _api.List(FakeKubernetesApi.Jobs, ns).Count == 2, "a second Job");
        var attempts = await AttemptsAsync(client, id);
        Assert.Equal("evicted", attempts[0].GetProperty("outcome").GetString());
        Assert.Equal("infrastructure", attempts[0].GetProperty("classification").GetString());
        Assert.Equal("retry", attempts[0].GetProperty("decision").GetString());
        Assert.Contains("PreemptionByScheduler", attempts[0].GetProperty("error_message").GetString(), StringComparison.Ordinal);
        // The retry resumes from the same checkpoints.
        Assert.Equal(claim["metadata"]!["uid"]!.GetValue<string>(), Assert.Single(_api.List(FakeKubernetesApi.PersistentVolumeClaims, ns))["metadata"]!["uid"]!.GetValue<string>());

        _api.FinishJob(ns, JobNamed(ns, 2), succeeded: true);
        await StrataApp.WaitForStatusAsync(client, id, "succeeded");
    }

    [Fact]
    public async Task A_gang_whose_rank_1_fails_with_a_retry_code_restarts_whole_as_a_new_indexed_job()
    {
        var (tenant, client) = await _app.TenantClientAsync("k8s");
        var ns = "ml-" + tenant;
        var id = (await StrataApp.SubmitAsync(client, new
        {
            name = "gang",
            compute = new { cpu_cores = 1, memory_gb = 1 },
            distributed = new { num_workers = 2 },
            retry = new { max_attempts = 2, backoff_seconds = 0, retry_on_exit_codes = RetryCodes },
        })).GetProperty("id").GetString()!;
        await ClusterHarness.EventuallyAsync(() => _api.List(FakeKubernetesApi.Jobs, ns).Count == 1, "the first Job");
        var first = JobNamed(ns, 1);

        // Rank 1 exits 75; the pod failure policy fails the Job, whose controller then stops rank 0.
        var now = DateTime.UtcNow;
        _api.AddPod(ns, first, 1, new JsonObject { ["terminated"] = new JsonObject { ["exitCode"] = 75, ["reason"] = "Error", ["finishedAt"] = now.AddSeconds(-2).ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture) } });
        _api.AddPod(ns, first, 0, new JsonObject { ["terminated"] = new JsonObject { ["exitCode"] = 143, ["reason"] = "Error", ["finishedAt"] = now.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture) } });
        _api.FinishJob(ns, first, succeeded: false, reason: "PodFailurePolicy");

        await ClusterHarness.EventuallyAsync(() => _api.List(FakeKubernetesApi.Jobs, ns).Count == 2, "a second Job");
        var second = _api.Get(FakeKubernetesApi.Jobs, ns, JobNamed(ns, 2))!;
        Assert.Equal("Indexed", second["spec"]!["completionMode"]!.GetValue<string>());
        Assert.Equal((2, 2), (second["spec"]!["completions"]!.GetValue<int>(), second["spec"]!["parallelism"]!.GetValue<int>()));
        var attempts = await AttemptsAsync(client, id);
        Assert.Equal("infrastructure", attempts[0].GetProperty("classification").GetString());
        Assert.Equal("retry", attempts[0].GetProperty("decision").GetString());
        Assert.Contains("exited with code 75", attempts[0].GetProperty("error_message").GetString(), StringComparison.Ordinal);

        _api.FinishJob(ns, JobNamed(ns, 2), succeeded: true);
        await StrataApp.WaitForStatusAsync(client, id, "succeeded");
    }

    [Fact]
    public async Task The_checkpoint_claim_of_a_job_ended_longer_ago_than_its_ttl_is_deleted()
    {
        var (tenant, client) = await _app.TenantClientAsync("k8s");
        var ns = "ml-" + tenant;
        var id = (await StrataApp.SubmitAsync(client, new { name = "gone", compute = new { cpu_cores = 1, memory_gb = 1 } })).GetProperty("id").GetString()!;
        await ClusterHarness.EventuallyAsync(() => _api.List(FakeKubernetesApi.Jobs, ns).Count == 1, "the Job");
        Assert.Single(_api.List(FakeKubernetesApi.PersistentVolumeClaims, ns));

        _api.FinishJob(ns, JobNamed(ns, 1), succeeded: true);
        await StrataApp.WaitForStatusAsync(client, id, "succeeded");
        // The Jobs' TTL is 2 s here, swept every second.
        await ClusterHarness.EventuallyAsync(() => _api.List(FakeKubernetesApi.PersistentVolumeClaims, ns).Count == 0, "the claim deleted");
    }

    [Fact]
    public async Task Cancelling_deletes_the_kubernetes_job_and_the_job_is_cancelled()
    {
        var (tenant, client) = await _app.TenantClientAsync("k8s");
        var ns = "ml-" + tenant;
        var id = (await StrataApp.SubmitAsync(client, new { name = "cancel-me", compute = new { cpu_cores = 1, memory_gb = 1 } })).GetProperty("id").GetString()!;
        await StrataApp.WaitForStatusAsync(client, id, "running");
        await ClusterHarness.EventuallyAsync(() => _api.List(FakeKubernetesApi.Jobs, ns).Count == 1, "the Job created");

        using var response = await client.DeleteAsync($"/v1/jobs/training/{id}");
        Assert.Equal(204, (int)response.StatusCode);

        await ClusterHarness.EventuallyAsync(() => _api.List(FakeKubernetesApi.Jobs, ns).Count == 0, "the Job deleted");
        Assert.Contains(_api.Requests, r => r.StartsWith("DELETE ", StringComparison.Ordinal) && r.Contains("propagationPolicy=Background", StringComparison.Ordinal));
        await StrataApp.WaitForStatusAsync(client, id, "cancelled");
        // The attempt's end is recorded when the watch reports the Job gone.
        var attemptStatus = "";
        await ClusterHarness.EventuallyAsync(() =>
        {
            using var response = client.GetAsync($"/v1/jobs/training/{id}/attempts").GetAwaiter().GetResult();
            attemptStatus = Http.ExpectAsync(response, 200).GetAwaiter().GetResult()[0].GetProperty("status").GetString()!;
            return attemptStatus != "running";
        }, "the attempt recorded");
        Assert.Equal("cancelled", attemptStatus);
    }

    [Fact]
    public async Task A_restarted_server_finds_its_running_job_and_starts_nothing_twice()
    {
        var (tenant, client) = await _app.TenantClientAsync("k8s");
        var ns = "ml-" + tenant;
        var id = (await StrataApp.SubmitAsync(client, new { name = "survivor", compute = new { cpu_cores = 1, memory_gb = 1 } })).GetProperty("id").GetString()!;
        await StrataApp.WaitForStatusAsync(client, id, "running");
        await ClusterHarness.EventuallyAsync(() => _api.List(FakeKubernetesApi.Jobs, ns).Count == 1, "the Job created");
        var name = OnlyJob(ns)["metadata"]!["name"]!.GetValue<string>();
        var creates = _api.CountApplies("/jobs");

        await _app.RestartAsync();
        var lists = _api.CountRequests("GET", "/apis/batch/v1/jobs");
        client = _app.ClientFor(await _app.TokenForAsync(tenant, "member"));
        await ClusterHarness.EventuallyAsync(() => _api.CountRequests("GET", "/apis/batch/v1/jobs") > lists, "the new server re-listed");
        Assert.Equal("running", (await StrataApp.WaitForStatusAsync(client, id, "running")).GetProperty("status").GetString());

        _api.FinishJob(ns, name, succeeded: true);
        await StrataApp.WaitForStatusAsync(client, id, "succeeded");
        Assert.Equal(creates, _api.CountApplies("/jobs"));
        Assert.Single(_api.List(FakeKubernetesApi.Jobs, ns));
    }

    [Fact]
    public async Task A_new_tenant_is_provisioned_and_a_deleted_one_loses_its_namespace()
    {
        var tenant = await _app.CreateTenantAsync(StrataApp.UniqueId("prov"));
        await ClusterHarness.EventuallyAsync(() => _api.Get(FakeKubernetesApi.ResourceQuotas, "ml-" + tenant, "strata-quota") is not null, "the namespace provisioned");

        // The deletion waits for the namespace to be gone before the tenant is (404).
        await _app.DeleteTenantAsync(tenant);
        Assert.Null(_api.Get(FakeKubernetesApi.Namespaces, null, "ml-" + tenant));
    }
}
