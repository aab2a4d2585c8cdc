using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Strata.Contracts;
using Strata.Core.Deployments;
using Strata.Server.Tests.Support;
using Strata.Worker.Training;

namespace Strata.Server.Tests.Deployments;

/// <summary>The app with fast autoscaling windows, and a churn model trained once for all its tests.</summary>
public class DeploymentApp : StrataApp
{
    public DeploymentApp() : this(new Dictionary<string, string?>())
    {
    }

    /// <param name="settings">More configuration, over the fast windows.</param>
    protected DeploymentApp(Dictionary<string, string?> settings) : this(StorageKind.Sqlite, settings)
    {
    }

    /// <param name="storage">The store it keeps its state in.</param>
    /// <param name="settings">More configuration, over the fast windows.</param>
    protected DeploymentApp(StorageKind storage, Dictionary<string, string?> settings) : base(storage, new Dictionary<string, string?>(settings)
    {
        ["Deployments:ScaleUpStabilizationSeconds"] = "0.5",
        ["Deployments:ScaleDownStabilizationSeconds"] = "2",
        ["Deployments:DrainSeconds"] = "10",
    })
    {
        ModelFolder = Directory.CreateTempSubdirectory("strata-deploy-model-").FullName;
        var csv = Path.Combine(FindRepository(), "examples", "churn", "churn.csv");
        var error = new StringWriter();
        var exit = TrainCommand.Run(["--model", "lightgbm", "--label", "churned", "--data", csv, "--output", ModelFolder, "--hp", "num_iterations=20"],
            new Dictionary<string, string>(), TextWriter.Null, error);
        if (exit != 0) throw new InvalidOperationException($"training the churn model failed: {error}");
    }

    /// <summary>model.zip and schema.json of a churn classifier.</summary>
    public string ModelFolder { get; }

    private static string FindRepository()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Strata.slnx"))) directory = directory.Parent;
        return directory!.FullName;
    }
}

public sealed partial class DeploymentTests(DeploymentApp app) : IClassFixture<DeploymentApp>
{
    internal static readonly object Instance = new
    {
        tenure_months = 3, plan = "basic", contract = "month-to-month", monthly_charges = 70.5, total_charges = 211.5,
        support_calls = 4, region = "west", paperless_billing = "yes",
    };

    /// <summary>Registers the churn model (one more version of it) in the tenant, through the API.</summary>
    private Task<int> RegisterAsync(HttpClient client, string tenant) => RegisterAsync(app, client, tenant);

    /// <summary>Registers the churn model of <paramref name="app"/> (one more version of it) in the tenant, through the API.</summary>
    internal static async Task<int> RegisterAsync(DeploymentApp app, HttpClient client, string tenant)
    {
        var folder = Path.Combine(app.DataPath, "artifacts", tenant, "out");
        Directory.CreateDirectory(folder);
        File.Copy(Path.Combine(app.ModelFolder, "model.zip"), Path.Combine(folder, "model.zip"), overwrite: true);
        var schema = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(app.ModelFolder, "schema.json"))).RootElement;
        using var response = await client.PostAsJsonAsync("/v1/models/churn/versions", new { path = "out/model.zip", input_schema = schema });
        return (await Http.ExpectAsync(response, 201)).GetProperty("version").GetInt32();
    }

    internal static async Task<JsonElement> WaitForAsync(HttpClient client, string name, Func<JsonElement, bool> until, int seconds = 60)
    {
        var deadline = DateTimeOffset.UtcNow.AddSeconds(seconds);
        JsonElement deployment;
        do
        {
            using var response = await client.GetAsync($"/v1/deployments/{name}");
            deployment = await Http.ExpectAsync(response, 200);
            if (until(deployment)) return deployment;
            await Task.Delay(100);
        }
        while (DateTimeOffset.UtcNow < deadline);
        Assert.Fail($"Deployment {name} did not reach the expected state in time; last seen: {deployment}");
        return deployment;
    }

    internal static bool IsReadyAt(JsonElement deployment, int version, int replicas) =>
        deployment.GetProperty("status").GetString() == DeploymentStatuses.Ready
        && deployment.GetProperty("model_version").GetInt32() == version
        && deployment.GetProperty("ready_replicas").GetInt32() == replicas;

    /// <summary>Predicts continuously until stopped, counting answers by status and by the version that gave them.</summary>
    private sealed class Load(HttpClient client, string name, int connections) : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly List<Task> _loops = [];
        public ConcurrentDictionary<int, int> ByStatus { get; } = new();
        public ConcurrentDictionary<string, int> ByVersion { get; } = new();
        public ConcurrentQueue<string> Failures { get; } = new();

        public Load Start()
        {
            for (var i = 0; i < connections; i++) _loops.Add(Task.Run(LoopAsync));
            return this;
        }

        public int Total => ByStatus.Values.Sum();

        private async Task LoopAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    using var response = await client.PostAsJsonAsync($"/v1/deployments/{name}/predict", Instance);
                    ByStatus.AddOrUpdate((int)response.StatusCode, 1, (_, n) => n + 1);
                    var version = response.Headers.TryGetValues("Strata-Model-Version", out var values) ? values.First() : "?";
                    ByVersion.AddOrUpdate(version, 1, (_, n) => n + 1);
                    if ((int)response.StatusCode != 200) Failures.Enqueue($"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
                }
                catch (HttpRequestException e)
                {
                    Failures.Enqueue(e.Message);
                }
            }
        }

        /// <summary>Stops the load and waits for the requests in flight; safe to call again.</summary>
        public async ValueTask DisposeAsync()
        {
            if (!_stop.IsCancellationRequested) await _stop.CancelAsync();
            await Task.WhenAll(_loops);
        }
    }

    [Fact]
    public async Task A_deployment_serves_predictions_and_rolls_out_and_back_under_load_with_no_failed_request()
    {
        var (tenant, client) = await app.TenantClientAsync("deploy");
        using var _ = client;
        await RegisterAsync(client, tenant);
        await RegisterAsync(client, tenant);

        using (var created = await client.PostAsJsonAsync("/v1/deployments", new { model = "churn@1", min_replicas = 2, max_replicas = 2 }))
        {
            var body = await Http.ExpectAsync(created, 201);
            Assert.Equal("churn", body.GetProperty("name").GetString());
            Assert.Equal("/v1/deployments/churn/predict", body.GetProperty("endpoint_url").GetString());
        }
        await WaitForAsync(client, "churn", d => IsReadyAt(d, 1, 2));
        using (var predicted = await client.PostAsJsonAsync("/v1/deployments/churn/predict", Instance))
        {
            var body = await Http.ExpectAsync(predicted, 200);
            Assert.InRange(body.GetProperty("prediction").GetProperty("probability").GetDouble(), 0, 1);
            Assert.Equal("1", body.GetProperty("version").GetString());
        }
        // Local replicas take predictions over a socket in the deployment's folder (their port stays for health and metrics).
        var replicas = app.Services.GetRequiredService<IDeploymentRuntime>().Observe(new DeploymentKey(tenant, "churn"))!.Ready;
        Assert.All(replicas, r => Assert.True(r.Socket is { } socket && File.Exists(socket), $"replica {r.Id} has no socket"));

        await using (var load = new Load(client, "churn", connections: 4).Start())
        {
            using (var patched = await client.PatchAsJsonAsync("/v1/deployments/churn", new { model = "churn@2" }))
            {
                var body = await Http.ExpectAsync(patched, 200);
                Assert.Equal(2, body.GetProperty("model_version").GetInt32());
                Assert.Equal(1, body.GetProperty("previous_model_version").GetInt32());
            }
            var rolled = await WaitForAsync(client, "churn", d => IsReadyAt(d, 2, 2) && ReadyVersions(d).All(v => v == 2), seconds: 90);
            Assert.Contains(rolled.GetProperty("events").EnumerateArray(), e => e.GetProperty("reason").GetString() == "replica_draining");

            using (var back = await client.PatchAsJsonAsync("/v1/deployments/churn", new { model = "churn@1" }))
            {
                await Http.ExpectAsync(back, 200);
            }
            await WaitForAsync(client, "churn", d => IsReadyAt(d, 1, 2), seconds: 90);
            // Let the last old replica finish draining under load.
            await Task.Delay(500);
            await load.DisposeAsync();

            Assert.Empty(load.Failures);
            Assert.True(load.Total > 100, $"only {load.Total} requests were made");
            Assert.True(load.ByVersion.GetValueOrDefault("2") > 0, "no request was answered by version 2 during the rollout");
        }
    }

    /// <summary>The model versions of the replicas that became ready and were not retired since, from the events.</summary>
    private static List<int> ReadyVersions(JsonElement deployment)
    {
        var ready = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var e in deployment.GetProperty("events").EnumerateArray())
        {
            var match = ReplicaEvent().Match(e.GetProperty("message").GetString()!);
            if (!match.Success) continue;
            var reason = e.GetProperty("reason").GetString();
            if (reason == "replica_ready") ready[match.Groups[1].Value] = int.Parse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
            else if (reason is "replica_draining" or "replica_exited" or "replica_stopped") ready.Remove(match.Groups[1].Value);
        }
        return [.. ready.Values];
    }

    [Fact]
    public async Task A_killed_replica_is_replaced_while_the_endpoint_keeps_answering()
    {
        var (tenant, client) = await app.TenantClientAsync("kill");
        using var _ = client;
        await RegisterAsync(client, tenant);
        using (var created = await client.PostAsJsonAsync("/v1/deployments", new { name = "churn-kill", model = "churn@latest", min_replicas = 2, max_replicas = 2 }))
        {
            await Http.ExpectAsync(created, 201);
        }
        var ready = await WaitForAsync(client, "churn-kill", d => IsReadyAt(d, 1, 2));
        var pid = ready.GetProperty("events").EnumerateArray()
            .Select(e => StartedProcess().Match(e.GetProperty("message").GetString()!))
            .First(m => m.Success).Groups[1].Value;

        await using (var load = new Load(client, "churn-kill", connections: 4).Start())
        {
            await Task.Delay(300);
            System.Diagnostics.Process.GetProcessById(int.Parse(pid, System.Globalization.CultureInfo.InvariantCulture)).Kill();
            var replaced = await WaitForAsync(client, "churn-kill", d =>
                d.GetProperty("events").EnumerateArray().Any(e => e.GetProperty("reason").GetString() == "replica_exited") && IsReadyAt(d, 1, 2));
            await load.DisposeAsync();

            Assert.Empty(load.Failures);
            Assert.True(load.Total > 50, $"only {load.Total} requests were made");
            Assert.True(3 <= replaced.GetProperty("events").EnumerateArray().Count(e => e.GetProperty("reason").GetString() == "replica_started"), replaced.ToString());
        }
    }

    [Fact]
    public async Task Another_tenants_deployment_is_404_for_every_call_and_quota_limits_deployments_and_replicas()
    {
        var (tenant, client) = await app.TenantClientAsync("owner");
        var (_, other) = await app.TenantClientAsync("other");
        using var c1 = client;
        using var c2 = other;
        await RegisterAsync(client, tenant);
        using (var admin = app.AdminClient())
        using (var quota = await admin.PutAsJsonAsync($"/v1/tenants/{tenant}/quota", new { max_deployments = 1, max_replicas = 3 }))
        {
            await Http.ExpectAsync(quota, 200);
        }

        using (var tooMany = await client.PostAsJsonAsync("/v1/deployments", new { model = "churn@1", min_replicas = 1, max_replicas = 4 }))
        {
            var problem = await Http.ExpectProblemAsync(tooMany, 429, ProblemTypes.QuotaExceeded);
            Assert.Equal("max_replicas", problem.GetProperty("resource").GetString());
        }
        using (var created = await client.PostAsJsonAsync("/v1/deployments", new { name = "private", model = "churn@1", min_replicas = 1, max_replicas = 3 }))
        {
            await Http.ExpectAsync(created, 201);
        }
        using (var second = await client.PostAsJsonAsync("/v1/deployments", new { name = "second", model = "churn@1", max_replicas = 1 }))
        {
            var problem = await Http.ExpectProblemAsync(second, 429, ProblemTypes.QuotaExceeded);
            Assert.Equal("max_deployments", problem.GetProperty("resource").GetString());
        }
        await WaitForAsync(client, "private", d => d.GetProperty("ready_replicas").GetInt32() >= 1);

        using (var get = await other.GetAsync("/v1/deployments/private")) await Http.ExpectProblemAsync(get, 404, ProblemTypes.NotFound);
        using (var health = await other.GetAsync("/v1/deployments/private/health")) await Http.ExpectProblemAsync(health, 404, ProblemTypes.NotFound);
        using (var predict = await other.PostAsJsonAsync("/v1/deployments/private/predict", Instance)) await Http.ExpectProblemAsync(predict, 404, ProblemTypes.NotFound);
        using (var patch = await other.PatchAsJsonAsync("/v1/deployments/private", new { max_replicas = 2 })) await Http.ExpectProblemAsync(patch, 404, ProblemTypes.NotFound);
        using (var delete = await other.DeleteAsync("/v1/deployments/private")) await Http.ExpectProblemAsync(delete, 404, ProblemTypes.NotFound);
        using (var list = await other.GetAsync("/v1/deployments")) Assert.Empty((await Http.ExpectAsync(list, 200)).EnumerateArray());
        // The other tenant's model references resolve in its own registry only.
        using (var stolen = await other.PostAsJsonAsync("/v1/deployments", new { model = "churn@1" })) await Http.ExpectValidationAsync(stolen, "model");

        using (var health = await client.GetAsync("/v1/deployments/private/health")) await Http.ExpectAsync(health, 200);
        using (var predict = await client.PostAsJsonAsync("/v1/deployments/private/predict", new { tenure_months = "x" }))
        {
            // The replica's own 400, naming the field, reaches the caller.
            var problem = await Http.ExpectProblemAsync(predict, 400, ProblemTypes.Validation);
            Assert.True(problem.GetProperty("errors").TryGetProperty("tenure_months", out JsonElement _));
        }
        using (var deleted = await client.DeleteAsync("/v1/deployments/private")) Assert.Equal(204, (int)deleted.StatusCode);
        using (var gone = await client.PostAsJsonAsync("/v1/deployments/private/predict", Instance)) await Http.ExpectProblemAsync(gone, 404, ProblemTypes.NotFound);
    }

    [Fact]
    public async Task Deployments_and_jobs_share_the_compute_quota()
    {
        var (tenant, client) = await app.TenantClientAsync("compute");
        using var _ = client;
        await RegisterAsync(client, tenant);
        using (var admin = app.AdminClient())
        using (var quota = await admin.PutAsJsonAsync($"/v1/tenants/{tenant}/quota", new { cpu_cores = 2, memory_gb = 4 }))
        {
            await Http.ExpectAsync(quota, 200);
        }
        static object Sleeper(int memoryGb) => new { name = "sleeper", entrypoint = "sleep 300", compute = new { cpu_cores = 1, memory_gb = memoryGb } };

        // Two replicas at most, half a core each: one core reserved, whether or not they run.
        using (var created = await client.PostAsJsonAsync("/v1/deployments", new { name = "half", model = "churn@1", min_replicas = 1, max_replicas = 2, compute = new { cpu_cores = 0.5, memory_gb = 1 } }))
        {
            await Http.ExpectAsync(created, 201);
        }
        using (var quota = await client.GetAsync("/v1/quota"))
        {
            var resources = (await Http.ExpectAsync(quota, 200)).GetProperty("resources");
            Assert.Equal(1, resources.GetProperty("cpu_cores").GetProperty("used").GetDouble());
            Assert.Equal(1, resources.GetProperty("cpu_cores").GetProperty("deployments").GetDouble());
            Assert.Equal(2, resources.GetProperty("memory_gb").GetProperty("used").GetDouble());
            Assert.Equal(2, resources.GetProperty("memory_gb").GetProperty("deployments").GetDouble());
            Assert.Equal(1, resources.GetProperty("max_deployments").GetProperty("used").GetDouble());
            Assert.Equal(2, resources.GetProperty("max_replicas").GetProperty("used").GetDouble());
        }

        // A deployment, a change of one and a job each get what is left, and a 429 naming it beyond.
        using (var second = await client.PostAsJsonAsync("/v1/deployments", new { name = "more", model = "churn@1", max_replicas = 3, compute = new { cpu_cores = 0.5 } }))
        {
            var problem = await Http.ExpectProblemAsync(second, 429, ProblemTypes.QuotaExceeded);
            Assert.Equal("cpu_cores", problem.GetProperty("resource").GetString());
            Assert.Equal(1, problem.GetProperty("used").GetDouble());
            Assert.Equal(1.5, problem.GetProperty("requested").GetDouble());
        }
        using (var bigger = await client.PatchAsJsonAsync("/v1/deployments/half", new { compute = new { cpu_cores = 1.5 } }))
        {
            var problem = await Http.ExpectProblemAsync(bigger, 429, ProblemTypes.QuotaExceeded);
            Assert.Equal("cpu_cores", problem.GetProperty("resource").GetString());
            Assert.Equal(0, problem.GetProperty("used").GetDouble());
            Assert.Equal(3, problem.GetProperty("requested").GetDouble());
        }
        using (var job = await client.PostAsJsonAsync("/v1/jobs/training", Sleeper(memoryGb: 3)))
        {
            // No job runs: the refusal says the deployment holds the quota, and what to do about that.
            var problem = await Http.ExpectProblemAsync(job, 429, ProblemTypes.QuotaExceeded);
            Assert.Equal("memory_gb", problem.GetProperty("resource").GetString());
            Assert.Equal(2, problem.GetProperty("used").GetDouble());
            Assert.Equal(0, problem.GetProperty("used_by_jobs").GetDouble());
            var holder = Assert.Single(problem.GetProperty("used_by_deployments").EnumerateArray());
            Assert.Equal(("half", 2.0), (holder.GetProperty("name").GetString(), holder.GetProperty("amount").GetDouble()));
            var detail = problem.GetProperty("detail").GetString()!;
            Assert.Contains("2 in use (2 by deployment half)", detail, StringComparison.Ordinal);
            Assert.Contains("Scale down or delete a deployment", detail, StringComparison.Ordinal);
            Assert.DoesNotContain("running jobs", detail, StringComparison.Ordinal);
        }
        // Queued instead, it waits for quota, and says what holds it.
        var queued = (await StrataApp.SubmitAsync(client, new
        {
            name = "queued", entrypoint = "sleep 300", on_quota_exceeded = "queue", compute = new { cpu_cores = 1, memory_gb = 3 },
        })).GetProperty("id").GetString()!;
        using (var get = await client.GetAsync($"/v1/jobs/training/{queued}"))
        {
            var waiting = await Http.ExpectAsync(get, 200);
            Assert.Equal("waiting_for_quota", waiting.GetProperty("status_reason").GetString());
            Assert.Equal("waiting for quota: memory_gb: the quota is 4, 2 in use (2 by deployment half), and 3 more was asked for",
                waiting.GetProperty("status_message").GetString());
        }
        using (var cancelled = await client.DeleteAsync($"/v1/jobs/training/{queued}")) Assert.True(cancelled.IsSuccessStatusCode);
        var sleeper = (await StrataApp.SubmitAsync(client, Sleeper(memoryGb: 2))).GetProperty("id").GetString()!;
        try
        {
            // Now the job holds the other core: the deployment cannot grow, the refused change stored nothing.
            using (var grow = await client.PatchAsJsonAsync("/v1/deployments/half", new { max_replicas = 3 }))
            {
                var problem = await Http.ExpectProblemAsync(grow, 429, ProblemTypes.QuotaExceeded);
                Assert.Equal(1, problem.GetProperty("used").GetDouble());
            }
            using (var get = await client.GetAsync("/v1/deployments/half"))
            {
                var deployment = await Http.ExpectAsync(get, 200);
                Assert.Equal(2, deployment.GetProperty("max_replicas").GetInt32());
                Assert.Equal(0.5, deployment.GetProperty("compute").GetProperty("cpu_cores").GetDouble());
            }

            // A deleted deployment gives its reservation back.
            using (var deleted = await client.DeleteAsync("/v1/deployments/half")) Assert.Equal(204, (int)deleted.StatusCode);
            using var quota = await client.GetAsync("/v1/quota");
            var resources = (await Http.ExpectAsync(quota, 200)).GetProperty("resources");
            Assert.Equal(1, resources.GetProperty("cpu_cores").GetProperty("used").GetDouble());
            Assert.Equal(0, resources.GetProperty("max_deployments").GetProperty("used").GetDouble());
            Assert.Equal(0, resources.GetProperty("max_replicas").GetProperty("used").GetDouble());
        }
        finally
        {
            using var cancel = await client.DeleteAsync($"/v1/jobs/training/{sleeper}");
        }
    }

    [Fact]
    public async Task Bad_deployments_are_refused_naming_the_field()
    {
        var (tenant, client) = await app.TenantClientAsync("bad");
        using var _ = client;
        await RegisterAsync(client, tenant);

        using (var r = await client.PostAsJsonAsync("/v1/deployments", new { min_replicas = 1 })) await Http.ExpectValidationAsync(r, "model");
        using (var r = await client.PostAsJsonAsync("/v1/deployments", new { model = "churn@7" })) await Http.ExpectValidationAsync(r, "model");
        using (var r = await client.PostAsJsonAsync("/v1/deployments", new { model = "churn@1", min_replicas = 3, max_replicas = 2 })) await Http.ExpectValidationAsync(r, "max_replicas");
        using (var r = await client.PostAsJsonAsync("/v1/deployments", new { model = "churn@1", name = "Not_A_Label" })) await Http.ExpectValidationAsync(r, "name");
        using (var r = await client.PostAsJsonAsync("/v1/deployments", new { model = "churn@1", scaling = new { target_in_flight = 0 } })) await Http.ExpectValidationAsync(r, "scaling.target_in_flight");
        using (var list = await client.GetAsync("/v1/deployments")) Assert.Empty((await Http.ExpectAsync(list, 200)).EnumerateArray());
    }

    [Fact]
    public async Task The_local_runtime_refuses_cpu_scaling_and_a_deployment_shows_its_scaling_defaults()
    {
        var (tenant, client) = await app.TenantClientAsync("scaling");
        using var _ = client;
        await RegisterAsync(client, tenant);
        static (string?, double, int) Scaling(JsonElement deployment)
        {
            var scaling = deployment.GetProperty("scaling");
            return (scaling.GetProperty("mode").GetString(), scaling.GetProperty("target_in_flight").GetDouble(), scaling.GetProperty("target_cpu_percent").GetInt32());
        }

        using (var cpu = await client.PostAsJsonAsync("/v1/deployments", new { model = "churn@1", scaling = new { mode = "cpu" } }))
        {
            var problem = await Http.ExpectValidationAsync(cpu, "scaling.mode");
            Assert.Contains("scales on requests in flight only", problem.GetProperty("errors").GetProperty("scaling.mode")[0].GetString(), StringComparison.Ordinal);
        }
        using (var list = await client.GetAsync("/v1/deployments")) Assert.Empty((await Http.ExpectAsync(list, 200)).EnumerateArray());

        using (var created = await client.PostAsJsonAsync("/v1/deployments", new { model = "churn@1", max_replicas = 1 }))
        {
            Assert.Equal(("in_flight", 8.0, 70), Scaling(await Http.ExpectAsync(created, 201)));
        }
        using (var patched = await client.PatchAsJsonAsync("/v1/deployments/churn", new { scaling = new { target_in_flight = 4 } }))
        {
            Assert.Equal(("in_flight", 4.0, 70), Scaling(await Http.ExpectAsync(patched, 200)));
        }
        using (var cpu = await client.PatchAsJsonAsync("/v1/deployments/churn", new { scaling = new { mode = "cpu", target_cpu_percent = 50 } }))
        {
            await Http.ExpectValidationAsync(cpu, "scaling.mode");
        }
        using (var get = await client.GetAsync("/v1/deployments/churn")) Assert.Equal(("in_flight", 4.0, 70), Scaling(await Http.ExpectAsync(get, 200)));
        using (var deleted = await client.DeleteAsync("/v1/deployments/churn")) Assert.Equal(204, (int)deleted.StatusCode);
    }

    [Fact]
    public async Task A_canary_takes_its_share_of_2000_predictions_and_is_promoted_by_deploying_its_version()
    {
        var (tenant, client) = await app.TenantClientAsync("canary");
        using var _ = client;
        await RegisterAsync(client, tenant);
        await RegisterAsync(client, tenant);
        using (var created = await client.PostAsJsonAsync("/v1/deployments", new { model = "churn@1", min_replicas = 1, max_replicas = 1, canary = new { model = "churn@2", weight = 0.2 } }))
        {
            var body = await Http.ExpectAsync(created, 201);
            Assert.Equal(2, body.GetProperty("canary").GetProperty("model_version").GetInt32());
        }
        var ready = await WaitForAsync(client, "churn", d => IsReadyAt(d, 1, 1) && d.GetProperty("canary").GetProperty("ready_replicas").GetInt32() == 1);
        Assert.Equal(1, ready.GetProperty("canary").GetProperty("desired_replicas").GetInt32());

        var byVersion = new ConcurrentDictionary<string, int>();
        var failures = new ConcurrentQueue<string>();
        await Parallel.ForEachAsync(Enumerable.Range(0, 2000), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (_, ct) =>
        {
            using var response = await client.PostAsJsonAsync("/v1/deployments/churn/predict", Instance, ct);
            if (!response.IsSuccessStatusCode) failures.Enqueue($"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}");
            // The header and the replica's own answer agree on the version.
            var version = response.Headers.GetValues("Strata-Model-Version").Single();
            using var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
            Assert.Equal(version, answer.RootElement.GetProperty("version").GetString());
            byVersion.AddOrUpdate(version, 1, (_, n) => n + 1);
        });
        Assert.Empty(failures);
        Assert.Equal(2000, byVersion.Values.Sum());
        Assert.InRange(byVersion.GetValueOrDefault("2") / 2000.0, 0.15, 0.25);

        using (var promoted = await client.PatchAsJsonAsync("/v1/deployments/churn", new { model = "churn@2" }))
        {
            var body = await Http.ExpectAsync(promoted, 200);
            Assert.Equal(JsonValueKind.Null, body.GetProperty("canary").ValueKind);
            Assert.Equal(1, body.GetProperty("previous_model_version").GetInt32());
        }
        await WaitForAsync(client, "churn", d => IsReadyAt(d, 2, 1) && ReadyVersions(d).All(v => v == 2) && ReadyVersions(d).Count == 1, seconds: 90);
    }

    [Fact]
    public async Task Canary_changes_are_checked_and_weight_0_removes_the_canary()
    {
        var (tenant, client) = await app.TenantClientAsync("canary-bad");
        using var _ = client;
        await RegisterAsync(client, tenant);
        await RegisterAsync(client, tenant);

        using (var r = await client.PostAsJsonAsync("/v1/deployments", new { model = "churn@1", canary = new { model = "churn@2", weight = 1 } })) await Http.ExpectValidationAsync(r, "canary.weight");
        using (var r = await client.PostAsJsonAsync("/v1/deployments", new { model = "churn@1", canary = new { model = "churn@2" } })) await Http.ExpectValidationAsync(r, "canary.weight");
        using (var r = await client.PostAsJsonAsync("/v1/deployments", new { model = "churn@1", canary = new { model = "churn@1", weight = 0.1 } })) await Http.ExpectValidationAsync(r, "canary.model");
        using (var r = await client.PostAsJsonAsync("/v1/deployments", new { model = "churn@1", canary = new { model = "churn@9", weight = 0.1 } })) await Http.ExpectValidationAsync(r, "canary.model");
        using (var list = await client.GetAsync("/v1/deployments")) Assert.Empty((await Http.ExpectAsync(list, 200)).EnumerateArray());

        using (var created = await client.PostAsJsonAsync("/v1/deployments", new { model = "churn@1", max_replicas = 1 })) await Http.ExpectAsync(created, 201);
        using (var r = await client.PatchAsJsonAsync("/v1/deployments/churn", new { canary = new { weight = 0.5 } })) await Http.ExpectValidationAsync(r, "canary.model");
        using (var r = await client.PatchAsJsonAsync("/v1/deployments/churn", new { canary = new { model = "churn@2", weight = -0.1 } })) await Http.ExpectValidationAsync(r, "canary.weight");
        using (var set = await client.PatchAsJsonAsync("/v1/deployments/churn", new { canary = new { model = "churn@2", weight = 0.3 } }))
        {
            var canary = (await Http.ExpectAsync(set, 200)).GetProperty("canary");
            Assert.Equal(0.3, canary.GetProperty("weight").GetDouble());
            Assert.Equal("churn@2", canary.GetProperty("model").GetString());
        }
        using (var reweighed = await client.PatchAsJsonAsync("/v1/deployments/churn", new { canary = new { weight = 0.1 } }))
        {
            Assert.Equal(0.1, (await Http.ExpectAsync(reweighed, 200)).GetProperty("canary").GetProperty("weight").GetDouble());
        }
        using (var removed = await client.PatchAsJsonAsync("/v1/deployments/churn", new { canary = new { weight = 0 } }))
        {
            var body = await Http.ExpectAsync(removed, 200);
            Assert.Equal(JsonValueKind.Null, body.GetProperty("canary").ValueKind);
            Assert.Equal(1, body.GetProperty("model_version").GetInt32());
            // A canary is not a change of the served version: nothing to roll back to.
            Assert.Equal(JsonValueKind.Null, body.GetProperty("previous_model_version").ValueKind);
        }
        await WaitForAsync(client, "churn", d => IsReadyAt(d, 1, 1) && ReadyVersions(d).All(v => v == 1));
    }

    [Fact]
    public async Task The_autoscaler_adds_replicas_under_load_and_removes_them_when_idle()
    {
        var (tenant, client) = await app.TenantClientAsync("scale");
        using var _ = client;
        await RegisterAsync(client, tenant);
        using (var created = await client.PostAsJsonAsync("/v1/deployments", new { name = "churn-scale", model = "churn@1", min_replicas = 1, max_replicas = 3, scaling = new { target_in_flight = 1 } }))
        {
            await Http.ExpectAsync(created, 201);
        }
        await WaitForAsync(client, "churn-scale", d => IsReadyAt(d, 1, 1));

        await using (var load = new Load(client, "churn-scale", connections: 24).Start())
        {
            // Many requests in flight against a target of 1 each: the autoscaler asks for more, up to the maximum.
            var scaled = await WaitForAsync(client, "churn-scale", d => d.GetProperty("ready_replicas").GetInt32() >= 2, seconds: 120);
            Assert.Contains(scaled.GetProperty("events").EnumerateArray(), e => e.GetProperty("reason").GetString() == "scaled");
            Assert.True(scaled.GetProperty("desired_replicas").GetInt32() <= 3, scaled.ToString());
            await load.DisposeAsync();
            Assert.Empty(load.Failures);
        }

        // Idle: after the scale-down window, back to the minimum, and the extra replicas are stopped.
        var idle = await WaitForAsync(client, "churn-scale", d => d.GetProperty("desired_replicas").GetInt32() == 1 && d.GetProperty("ready_replicas").GetInt32() == 1, seconds: 120);
        Assert.Contains(idle.GetProperty("events").EnumerateArray(), e => e.GetProperty("reason").GetString() == "replica_draining"
            && e.GetProperty("message").GetString()!.Contains("scaled down", StringComparison.Ordinal));
    }

    [GeneratedRegex(@"replica (\S+) \(version (\d+)\)")]
    private static partial Regex ReplicaEvent();

    [GeneratedRegex(@"started as process (\d+)")]
    private static partial Regex StartedProcess();
}
