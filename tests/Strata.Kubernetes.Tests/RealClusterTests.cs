using k8s;
using Microsoft.Extensions.Logging.Abstractions;
using Strata.Core.Runtime;
using Strata.Server.Runtime.Kubernetes;

namespace Strata.Kubernetes.Tests;

/// <summary>
/// End to end on a real cluster, when one is given: <c>STRATA_TEST_KUBECONFIG</c> names a kubeconfig whose
/// user may do what deploy/kubernetes/clusterrole.yaml allows. Creates a namespace <c>ml-strata-e2e-*</c>, runs a
/// busybox Job through the runtime to success (reading its token from the attempt's Secret) and to failure, and
/// deletes the namespace. Skipped otherwise.
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

    private static JobLaunch Launch(AttemptRef attempt, string command) => new()
    {
        Attempt = attempt,
        Entrypoint = command,
        Environment = new Dictionary<string, string> { ["STRATA_JOB_ID"] = attempt.JobId, ["STRATA_JOB_TOKEN"] = "e2e-token" },
        Resources = ResourceRequest.FromGb(0.1, 0.125, 0),
        TimeoutSeconds = 240,
    };
}
