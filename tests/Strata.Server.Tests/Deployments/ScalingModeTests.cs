using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Strata.Contracts;
using Strata.Core.Deployments;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Deployments;

/// <summary>
/// A deployment runtime that runs both scaling modes, as the Kubernetes one does, and only remembers the last target
/// it was given per deployment: it stands in at the runtime's edge, where a cluster would be.
/// </summary>
public sealed class RecordingDeploymentRuntime : IDeploymentRuntime
{
    private readonly ConcurrentDictionary<DeploymentKey, DeploymentTarget> _targets = new();

    /// <summary>Both modes; a test may narrow it, as a server started again on another runtime would find.</summary>
    public IReadOnlyList<string> SupportedScalingModes { get; set; } = [ScalingModes.InFlight, ScalingModes.Cpu];

    /// <summary>The last target applied to the deployment; null when none was, or it was removed.</summary>
    public DeploymentTarget? Target(string tenant, string name) => _targets.GetValueOrDefault(new DeploymentKey(tenant, name));

    public Task ApplyAsync(DeploymentTarget target, CancellationToken cancellationToken)
    {
        _targets[target.Key] = target;
        return Task.CompletedTask;
    }

    public Task RemoveAsync(DeploymentKey key, CancellationToken cancellationToken)
    {
        _targets.TryRemove(key, out _);
        return Task.CompletedTask;
    }

    /// <summary>No replica ever runs: the API shows the stored deployment with none ready.</summary>
    public DeploymentObservation? Observe(DeploymentKey key) => null;

    public IReadOnlyList<DeploymentKey> Deployments() => [.. _targets.Keys];

    /// <summary>Every target this double holds was applied by the server it stands in for: none is left over from elsewhere.</summary>
    public Task RetainOnlyAsync(IReadOnlySet<DeploymentKey> stored, DateTimeOffset listedAt, CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>The app with <see cref="RecordingDeploymentRuntime"/> as its deployment runtime.</summary>
public class ScalingModeApp(StorageKind storage) : StrataApp(storage)
{
    public RecordingDeploymentRuntime Runtime { get; } = new();

    protected override void ConfigureServices(IServiceCollection services) => services.AddSingleton<IDeploymentRuntime>(Runtime);
}

public sealed class ScalingModeSqliteApp() : ScalingModeApp(StorageKind.Sqlite);

public sealed class ScalingModePostgresApp() : ScalingModeApp(StorageKind.Postgres);

/// <summary><c>scaling.mode</c> and <c>scaling.target_cpu_percent</c> on a runtime that runs both modes: stored, shown, changed, and given to the runtime.</summary>
public abstract class ScalingModeTests<TApp>(TApp app) : IClassFixture<TApp>
    where TApp : ScalingModeApp
{
    private static async Task<JsonElement> ScalingAsync(HttpClient client, string name)
    {
        using var response = await client.GetAsync($"/v1/deployments/{name}");
        return (await Http.ExpectAsync(response, 200)).GetProperty("scaling");
    }

    private static (string? Mode, double InFlight, int CpuPercent) Values(JsonElement scaling) =>
        (scaling.GetProperty("mode").GetString(), scaling.GetProperty("target_in_flight").GetDouble(), scaling.GetProperty("target_cpu_percent").GetInt32());

    [SkippableFact]
    public async Task A_deployment_scaled_on_cpu_reaches_the_runtime_and_a_patch_switches_it_back_to_requests_in_flight()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenant, client) = await app.TenantClientAsync("cpu");
        using var _ = client;
        await TestModels.RegisterAsync(app, client, tenant, "churn", TestModels.ModelBytes("churn 1"));

        using (var created = await client.PostAsJsonAsync("/v1/deployments", new { model = "churn@1", max_replicas = 5, scaling = new { mode = "cpu", target_cpu_percent = 55 } }))
        {
            Assert.Equal(("cpu", 8.0, 55), Values((await Http.ExpectAsync(created, 201)).GetProperty("scaling")));
        }
        Assert.Equal(("cpu", 8.0, 55), Values(await ScalingAsync(client, "churn")));
        var target = app.Runtime.Target(tenant, "churn")!;
        Assert.Equal((ScalingModes.Cpu, 55, 1, 5), (target.ScalingMode, target.TargetCpuPercent, target.MinReplicas, target.MaxReplicas));

        // Another field of scaling changes that field only: the mode stays.
        using (var patched = await client.PatchAsJsonAsync("/v1/deployments/churn", new { scaling = new { target_in_flight = 3 } }))
        {
            Assert.Equal(("cpu", 3.0, 55), Values((await Http.ExpectAsync(patched, 200)).GetProperty("scaling")));
        }
        Assert.Equal((ScalingModes.Cpu, 55), (app.Runtime.Target(tenant, "churn")!.ScalingMode, app.Runtime.Target(tenant, "churn")!.TargetCpuPercent));

        using (var switched = await client.PatchAsJsonAsync("/v1/deployments/churn", new { scaling = new { mode = "in_flight" } }))
        {
            var body = await Http.ExpectAsync(switched, 200);
            Assert.Equal(("in_flight", 3.0, 55), Values(body.GetProperty("scaling")));
            var updated = body.GetProperty("events").EnumerateArray().Last(e => e.GetProperty("reason").GetString() == "updated");
            Assert.Equal("updated: churn version 1, 1 to 5 replicas at 55% CPU → churn version 1, 1 to 5 replicas at 3 requests in flight each",
                updated.GetProperty("message").GetString());
        }
        target = app.Runtime.Target(tenant, "churn")!;
        Assert.Equal((ScalingModes.InFlight, 3.0, 55), (target.ScalingMode, target.TargetInFlight, target.TargetCpuPercent));

        using (var back = await client.PatchAsJsonAsync("/v1/deployments/churn", new { scaling = new { mode = "cpu", target_cpu_percent = 90 } }))
        {
            Assert.Equal(("cpu", 3.0, 90), Values((await Http.ExpectAsync(back, 200)).GetProperty("scaling")));
        }
        Assert.Equal((ScalingModes.Cpu, 90), (app.Runtime.Target(tenant, "churn")!.ScalingMode, app.Runtime.Target(tenant, "churn")!.TargetCpuPercent));
    }

    [SkippableFact]
    public async Task A_stored_cpu_deployment_on_a_runtime_without_cpu_runs_on_requests_in_flight_and_keeps_its_mode()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenant, client) = await app.TenantClientAsync("cpu-gone");
        using var _ = client;
        await TestModels.RegisterAsync(app, client, tenant, "churn", TestModels.ModelBytes("churn 1"));
        using (var created = await client.PostAsJsonAsync("/v1/deployments", new { model = "churn@1", scaling = new { mode = "cpu" } })) await Http.ExpectAsync(created, 201);

        var modes = app.Runtime.SupportedScalingModes;
        app.Runtime.SupportedScalingModes = [ScalingModes.InFlight];
        try
        {
            // A change that leaves the mode alone is accepted; the runtime is given a mode it runs.
            using (var patched = await client.PatchAsJsonAsync("/v1/deployments/churn", new { max_replicas = 2 }))
            {
                Assert.Equal(("cpu", 8.0, 70), Values((await Http.ExpectAsync(patched, 200)).GetProperty("scaling")));
            }
            var target = app.Runtime.Target(tenant, "churn")!;
            Assert.Equal((ScalingModes.InFlight, 2), (target.ScalingMode, target.MaxReplicas));
        }
        finally
        {
            app.Runtime.SupportedScalingModes = modes;
        }
    }

    [SkippableFact]
    public async Task Bad_scaling_values_are_400s_that_change_nothing_and_another_tenant_cannot_change_the_mode()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenant, client) = await app.TenantClientAsync("scaling-bad");
        var (_, other) = await app.TenantClientAsync("scaling-other");
        using var c1 = client;
        using var c2 = other;
        await TestModels.RegisterAsync(app, client, tenant, "churn", TestModels.ModelBytes("churn 1"));

        using (var r = await client.PostAsJsonAsync("/v1/deployments", new { model = "churn@1", scaling = new { mode = "memory" } })) await Http.ExpectValidationAsync(r, "scaling.mode");
        using (var r = await client.PostAsJsonAsync("/v1/deployments", new { model = "churn@1", scaling = new { mode = "cpu", target_cpu_percent = 101 } }))
        {
            await Http.ExpectValidationAsync(r, "scaling.target_cpu_percent");
        }
        using (var list = await client.GetAsync("/v1/deployments")) Assert.Empty((await Http.ExpectAsync(list, 200)).EnumerateArray());
        Assert.Null(app.Runtime.Target(tenant, "churn"));

        using (var created = await client.PostAsJsonAsync("/v1/deployments", new { model = "churn@1" })) await Http.ExpectAsync(created, 201);
        using (var r = await client.PatchAsJsonAsync("/v1/deployments/churn", new { scaling = new { mode = "Cpu" } })) await Http.ExpectValidationAsync(r, "scaling.mode");
        using (var r = await client.PatchAsJsonAsync("/v1/deployments/churn", new { scaling = new { target_cpu_percent = 0 } })) await Http.ExpectValidationAsync(r, "scaling.target_cpu_percent");
        using (var r = await other.PatchAsJsonAsync("/v1/deployments/churn", new { scaling = new { mode = "cpu" } })) await Http.ExpectProblemAsync(r, 404, ProblemTypes.NotFound);

        Assert.Equal(("in_flight", 8.0, 70), Values(await ScalingAsync(client, "churn")));
        Assert.Equal(ScalingModes.InFlight, app.Runtime.Target(tenant, "churn")!.ScalingMode);
    }
}

public sealed class SqliteScalingModeTests(ScalingModeSqliteApp app) : ScalingModeTests<ScalingModeSqliteApp>(app);

public sealed class PostgresScalingModeTests(ScalingModePostgresApp app) : ScalingModeTests<ScalingModePostgresApp>(app);
