using k8s;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging.Abstractions;
using Strata.Contracts;
using Strata.Core.Deployments;
using Strata.Core.Runtime;
using Strata.Server.Auth;
using Strata.Server.Hosting;
using Strata.Server.Runtime.Kubernetes;
using MsOptions = Microsoft.Extensions.Options.Options;

namespace Strata.Kubernetes.Tests;

/// <summary>
/// End to end on a real cluster, when one is given: <c>STRATA_TEST_KUBECONFIG</c> names a kubeconfig whose
/// user may do what deploy/kubernetes/clusterrole.yaml allows. Creates a namespace <c>ml-strata-e2e-*</c>, runs a
/// busybox Job through the runtime to success (reading its token from the attempt's Secret) and to failure, has a
/// model deployment's objects accepted by the real API server (its validation and admission), watched, rescaled and
/// deleted whole, and deletes the namespace. Skipped otherwise.
/// </summary>
public sealed class RealClusterTests
{
    public const string Variable = "STRATA_TEST_KUBECONFIG";
    private static readonly string? Kubeconfig = Environment.GetEnvironmentVariable(Variable);
    private static readonly string SkipReason = $"no Kubernetes cluster: set {Variable} to a kubeconfig to run the real-cluster suite";

    [SkippableFact]
    public async Task A_job_runs_to_success_and_another_to_failure_on_a_real_cluster()
    {
        Skip.If(string.IsNullOrEmpty(Kubeconfig), SkipReason);
        var options = new KubernetesRuntimeOptions { KubeconfigPath = Kubeconfig, DefaultImage = "busybox:1.36", ResyncSeconds = 60 };
        using var client = new k8s.Kubernetes(KubernetesSetup.ClientConfiguration(options));
        var api = new ClusterApi(client, TimeProvider.System, NullLogger<ClusterApi>.Instance);
        var tenant = "strata-e2e-" + Guid.NewGuid().ToString("N")[..6];
        foreach (var item in TenantManifests.Build(new TenantNamespace(tenant, null, new TenantQuotaLimits()), options))
        {
            await api.ApplyAsync(item, CancellationToken.None);
        }
        try
        {
            using var watcher = new JobWatcher(api, options, TimeProvider.System, NullLogger<JobWatcher>.Instance);
            await using var harness = await ClusterHarness.StartAsync();
            using var runtime = new KubernetesJobRuntime(api, watcher, new ClusterCapacity(api, options, TimeProvider.System, NullLogger<ClusterCapacity>.Instance), harness.NewProvisioner(api), Microsoft.Extensions.Options.Options.Create(options), TimeProvider.System, NullLogger<KubernetesJobRuntime>.Instance);
            var ok = new AttemptRef(tenant, Guid.CreateVersion7().ToString(), 1);
            var bad = new AttemptRef(tenant, Guid.CreateVersion7().ToString(), 1);
            // The token reaches the container from its Secret (secretKeyRef), though no spec carries it.
            await runtime.StartAsync(Launch(ok, "test \"$STRATA_JOB_TOKEN\" = e2e-token && echo hello"), CancellationToken.None);
            await runtime.StartAsync(Launch(bad, "exit 3"), CancellationToken.None);

            var ended = new Dictionary<string, AttemptObservation>();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
            await foreach (var observation in runtime.WatchAsync(timeout.Token))
            {
                if (observation.IsFinished) ended[observation.Attempt.JobId] = observation;
                if (ended.Count == 2) break;
            }
            Assert.IsType<AttemptOutcome.Succeeded>(ended[ok.JobId].Outcome);
            Assert.IsType<AttemptOutcome.ExitedWithError>(ended[bad.JobId].Outcome);
            Assert.Equal(3, ended[bad.JobId].Outcome!.ExitCode);
        }
        finally
        {
            await api.DeleteNamespaceAsync(KubernetesNames.Namespace(tenant), CancellationToken.None);
        }
    }

    /// <summary>
    /// A deployment with a canary in mode cpu, then without it in mode in_flight, then deleted. Its pods cannot fetch a
    /// model (no Strata API runs in the cluster), so this checks what the cluster does with the objects, not serving:
    /// the fake API server's tests cover that.
    /// </summary>
    [SkippableFact]
    public async Task A_model_deployment_is_accepted_watched_rescaled_and_deleted_whole_on_a_real_cluster()
    {
        Skip.If(string.IsNullOrEmpty(Kubeconfig), SkipReason);
        var options = new KubernetesRuntimeOptions { KubeconfigPath = Kubeconfig, DefaultImage = "busybox:1.36", ResyncSeconds = 60 };
        using var client = new k8s.Kubernetes(KubernetesSetup.ClientConfiguration(options));
        var api = new ClusterApi(client, TimeProvider.System, NullLogger<ClusterApi>.Instance);
        await using var harness = await ClusterHarness.StartAsync();
        var tenant = "strata-e2e-" + Guid.NewGuid().ToString("N")[..6];
        await harness.AddTenantAsync(tenant);
        var data = Directory.CreateTempSubdirectory("strata-e2e-").FullName;
        try
        {
            var tokens = new ModelFetchTokens(new TokenIssuer(new DataFolder(data), MsOptions.Create(new AuthOptions()), TimeProvider.System));
            var url = new PlatformUrl(new NoServer(), MsOptions.Create(new StrataOptions { PublicUrl = "http://strata.strata-system.svc:8080" }));
            using var runtime = new KubernetesDeploymentRuntime(api, options, tokens, new TenantDirectory(harness.Store, TimeProvider.System), harness.NewProvisioner(api),
                url, new Strata.Server.Deployments.ReplicaRouter(), TimeProvider.System, NullLogger<KubernetesDeploymentRuntime>.Instance);
            await runtime.StartAsync(CancellationToken.None);
            var key = new DeploymentKey(tenant, "iris");
            var target = new DeploymentTarget(key, "iris", 1, "", null, 1, 2, 8, 0.1, 0.125, new CanaryTarget(2, "", null, 0.5), ScalingModes.Cpu);

            await runtime.ApplyAsync(target, CancellationToken.None);
            await ClusterHarness.EventuallyAsync(() => runtime.Observe(key) is { Canary.ModelVersion: 2 }, "the Deployments watched");
            await runtime.ApplyAsync(target with { Canary = null, ScalingMode = ScalingModes.InFlight, MinReplicas = 2 }, CancellationToken.None);
            await ClusterHarness.EventuallyAsync(() => runtime.Observe(key) is { Canary: null, DesiredReplicas: 2 }, "the canary gone and the scale written");

            await runtime.RemoveAsync(key, CancellationToken.None);
            await ClusterHarness.EventuallyAsync(() => runtime.Observe(key) is null, "the deployment deleted");
            await runtime.StopAsync(CancellationToken.None);
        }
        finally
        {
            await api.DeleteNamespaceAsync(KubernetesNames.Namespace(tenant), CancellationToken.None);
            Directory.Delete(data, recursive: true);
        }
    }

    /// <summary>No server: the platform's URL is configured (<see cref="StrataOptions.PublicUrl"/>).</summary>
    private sealed class NoServer : IServer
    {
        public IFeatureCollection Features { get; } = new FeatureCollection();

        public Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken)
            where TContext : notnull => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public void Dispose()
        {
        }
    }

    private static JobLaunch Launch(AttemptRef attempt, string command) => new()
    {
        Attempt = attempt,
        Entrypoint = command,
        Environment = new Dictionary<string, string> { ["STRATA_JOB_ID"] = attempt.JobId, ["STRATA_JOB_TOKEN"] = "e2e-token" },
        Resources = ResourceRequest.FromGb(0.1, 0.125, 0),
        TimeoutSeconds = 240,
    };
}
