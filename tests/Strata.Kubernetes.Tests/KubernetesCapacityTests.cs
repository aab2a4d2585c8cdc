using System.Text.Json.Nodes;
using k8s;
using Strata.Contracts;
using Strata.Core.Runtime;
using Strata.Core.Scheduling;
using Strata.Server.Queue;
using Strata.Server.Runtime.Kubernetes;

namespace Strata.Kubernetes.Tests;

/// <summary>
/// The runtime's capacity read from the fake cluster's nodes and pods (<see cref="ClusterCapacity"/>), and the
/// placeholder pods of jobs waiting for capacity (<see cref="PlaceholderPods"/>).
/// </summary>
public sealed class KubernetesCapacityTests
{
    private static readonly Dictionary<string, string> TrainingPool = new() { ["strata.dev/pool"] = "training" };
    private static readonly string[] QueuedJobs = ["gang", "retrying", "second-gang", "single"];
    private static readonly string[] PlaceheldJobs = ["gang", "gang", "single"];

    [Fact]
    public async Task The_capacity_follows_the_matching_nodes_less_what_other_pods_request()
    {
        await using var cluster = await ClusterHarness.StartAsync();
        cluster.Options.CapacityNodeSelector = "strata.dev/pool=training";
        cluster.Api.AddNode("train-1", cpu: 8, memoryGi: 32, labels: TrainingPool);
        cluster.Api.AddNode("web-1", cpu: 16, memoryGi: 64, labels: new Dictionary<string, string> { ["strata.dev/pool"] = "web" });
        var (runtime, _) = cluster.NewRuntime();

        await CapacityIsAsync(runtime, cores: 8, memoryGb: 32, gpus: 0, "the training node only");
        Assert.Equal(CapacitySources.Cluster, runtime.Capacity.Source);

        // A node joins the pool.
        cluster.Api.AddNode("train-2", cpu: 4, memoryGi: 16, gpus: 2, labels: TrainingPool);
        await CapacityIsAsync(runtime, cores: 12, memoryGb: 48, gpus: 2, "the new node added");
        // At submission, jobs are checked against the larger of the settings (64 cores, 256 GB, no GPUs) and the nodes.
        Assert.Equal(ResourceRequest.FromGb(64, 256, 2), runtime.Capacity.Largest);

        // Strata's own attempt and a placeholder are not subtracted (the scheduler counts its attempts itself); a foreign pod is.
        cluster.Api.AddRunningPod("ml-t", "strata-job-1-1-0-abcde", "train-1", cpu: 2, memoryGi: 2, KubernetesNames.AttemptLabels(new AttemptRef("t", "job-1", 1)));
        cluster.Api.AddRunningPod("strata-system", "strata-placeholder-job-2-0", "train-1", cpu: 2, memoryGi: 2,
            new Dictionary<string, string> { ["managed-by"] = "strata", [KubernetesNames.PlaceholderLabel] = "true" });
        cluster.Api.AddRunningPod("monitoring", "prometheus-0", "train-1", cpu: 3, memoryGi: 4);
        // On a node outside the pool: nothing changes.
        cluster.Api.AddRunningPod("web", "frontend", "web-1", cpu: 10, memoryGi: 10);
        await CapacityIsAsync(runtime, cores: 9, memoryGb: 44, gpus: 2, "a foreign pod took 3 cores and 4 GB");

        // A cordoned node takes no new pods.
        cluster.Api.CordonNode("train-2");
        await CapacityIsAsync(runtime, cores: 5, memoryGb: 28, gpus: 0, "train-2 cordoned");

        // The foreign pod ends; then the last usable node goes.
        cluster.Api.Update(FakeKubernetesApi.Pods, "monitoring", "prometheus-0", pod => pod["status"]!["phase"] = "Succeeded");
        await CapacityIsAsync(runtime, cores: 8, memoryGb: 32, gpus: 0, "the foreign pod finished");
        cluster.Api.Remove(FakeKubernetesApi.Nodes, null, "train-1");
        await CapacityIsAsync(runtime, cores: 0, memoryGb: 0, gpus: 0, "train-1 removed");
        Assert.Equal(CapacitySources.Cluster, runtime.Capacity.Source);
    }

    [Fact]
    public async Task The_capacity_follows_the_nodes_after_the_watch_expires()
    {
        await using var cluster = await ClusterHarness.StartAsync();
        cluster.Api.AddNode("node-1", cpu: 8, memoryGi: 32);
        var (runtime, _) = cluster.NewRuntime();
        await CapacityIsAsync(runtime, cores: 8, memoryGb: 32, gpus: 0, "the first node");
        await ClusterHarness.EventuallyAsync(() => cluster.Api.OpenWatches >= 2, "the node and pod watches open");

        // A node joins while the watches are down, and the history is compacted: the watcher re-lists.
        cluster.Api.CompactWhileWatchesAreDown(() => cluster.Api.AddNode("node-2", cpu: 4, memoryGi: 16));
        await CapacityIsAsync(runtime, cores: 12, memoryGb: 48, gpus: 0, "the node added while the watch was down");
    }

    [Fact]
    public async Task Nodes_that_may_not_be_listed_leave_the_configured_capacity()
    {
        await using var cluster = await ClusterHarness.StartAsync();
        cluster.Api.AddNode("node-1", cpu: 8, memoryGi: 32);
        cluster.Api.FailNext("GET", "/api/v1/nodes", 403);
        var (runtime, _) = cluster.NewRuntime();

        _ = runtime.Capacity;
        await ClusterHarness.EventuallyAsync(() => cluster.Api.CountRequests("GET", "/api/v1/pods") >= 1 && cluster.Api.CountRequests("GET", "/api/v1/nodes") >= 1, "the lists tried");
        Assert.Equal(CapacitySources.Configuration, runtime.Capacity.Source);
        Assert.Equal(ResourceRequest.FromGb(64, 256, 0), runtime.Capacity.Total);
        // Refused is refused: no retry, so nothing else asks (the log says it once).
        Assert.Equal(1, cluster.Api.CountRequests("GET", "/api/v1/nodes"));
    }

    [Fact]
    public async Task Turned_off_the_cluster_is_not_asked_and_the_configured_capacity_is_used()
    {
        await using var cluster = await ClusterHarness.StartAsync();
        cluster.Options.CapacityFromCluster = false;
        cluster.Options.CapacityCpuCores = 10;
        cluster.Api.AddNode("node-1", cpu: 8, memoryGi: 32);
        var (runtime, _) = cluster.NewRuntime();

        Assert.Equal(ResourceRequest.FromGb(10, 256, 0), runtime.Capacity.Total);
        Assert.Equal(CapacitySources.Configuration, runtime.Capacity.Source);
        Assert.Equal(0, cluster.Api.CountRequests("GET", "/api/v1/nodes"));
    }

    [Fact]
    public async Task Placeholders_are_kept_for_whole_waiting_gangs_within_the_cap_and_a_restart_adopts_them_and_removes_stale_ones()
    {
        await using var cluster = await ClusterHarness.StartAsync();
        cluster.Options.MaxPlaceholders = 3;
        cluster.Api.Put(FakeKubernetesApi.Namespaces, new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Namespace", ["metadata"] = new JsonObject { ["name"] = "strata-system" } });
        var queue = new JobQueue(TimeProvider.System);
        var perWorker = ResourceRequest.FromGb(2, 4, 1);
        var gang = new PendingJob("gang", "t", 0, 1, perWorker * 2, Workers: 2) { GpuType = "a100" };
        Queue(queue, gang);
        // Waits for its retry's backoff, not for capacity: no placeholder.
        Queue(queue, new PendingJob("retrying", "t", 0, 2, perWorker, NotBefore: DateTimeOffset.UtcNow.AddHours(1)));
        // A second gang would pass the cap of 3: none of it; a single worker after it fits.
        Queue(queue, new PendingJob("second-gang", "t", 0, 3, perWorker * 2, Workers: 2));
        Queue(queue, new PendingJob("single", "u", 0, 4, ResourceRequest.FromGb(1, 2, 0)));

        // What a server that stopped left: the gang's first placeholder (still wanted) and one of a job that has started since.
        var kept = cluster.Api.Put(FakeKubernetesApi.Pods, ToJson(PlaceholderPods.Pod(gang, perWorker, 0, cluster.Options)), ClusterApi.FieldManager);
        var stale = ToJson(PlaceholderPods.Pod(new PendingJob("started", "t", 0, 0, perWorker), perWorker, 0, cluster.Options));
        cluster.Api.Put(FakeKubernetesApi.Pods, stale, ClusterApi.FieldManager);

        var placeholders = cluster.NewPlaceholders(queue);
        var pass = await placeholders.ConvergeAsync(CancellationToken.None);

        Assert.Equal(new PlaceholderPass(Wanted: 3, Created: 2, Deleted: 1), pass);
        var pods = cluster.Api.List(FakeKubernetesApi.Pods, "strata-system");
        Assert.Equal(PlaceheldJobs, pods.Select(p => p["metadata"]!["labels"]![KubernetesNames.JobIdLabel]!.GetValue<string>()).Order());
        Assert.Equal(kept["metadata"]!["uid"]!.GetValue<string>(),
            cluster.Api.Get(FakeKubernetesApi.Pods, "strata-system", kept["metadata"]!["name"]!.GetValue<string>())!["metadata"]!["uid"]!.GetValue<string>());
        Assert.Equal(2, cluster.Api.CountApplies("/namespaces/strata-system/pods/"));

        // Sized like one worker of the gang, in its GPU node pool, at the placeholders' priority, doing nothing.
        var worker = pods.Single(p => p["metadata"]!["name"]!.GetValue<string>().StartsWith("strata-placeholder-gang-", StringComparison.Ordinal)
                                      && p["metadata"]!["name"]!.GetValue<string>().EndsWith("-1", StringComparison.Ordinal));
        var spec = worker["spec"]!;
        Assert.Equal("strata-placeholder", spec["priorityClassName"]!.GetValue<string>());
        var container = spec["containers"]![0]!;
        Assert.Equal("registry.k8s.io/pause:3.10", container["image"]!.GetValue<string>());
        var requests = container["resources"]!["requests"]!;
        Assert.Equal(("2", "4Gi", "1"), (requests["cpu"]!.GetValue<string>(), requests["memory"]!.GetValue<string>(), requests["nvidia.com/gpu"]!.GetValue<string>()));
        Assert.Equal("a100", spec["nodeSelector"]!["strata.dev/gpu-type"]!.GetValue<string>());
        Assert.Equal("nvidia.com/gpu", spec["tolerations"]![0]!["key"]!.GetValue<string>());

        // Level-triggered: nothing to do the next time; once the queue is empty, none is left.
        Assert.Equal(new PlaceholderPass(3, 0, 0), await placeholders.ConvergeAsync(CancellationToken.None));
        foreach (var id in QueuedJobs) queue.Remove(id);
        Assert.Equal(new PlaceholderPass(0, 0, 3), await placeholders.ConvergeAsync(CancellationToken.None));
        Assert.Empty(cluster.Api.List(FakeKubernetesApi.Pods, "strata-system"));
    }

    /// <summary>Queues a job within its tenant's quota, as an accepted submission is.</summary>
    private static void Queue(JobQueue queue, PendingJob job)
    {
        queue.TryHold(job.TenantId, job.JobId, job.Request, limits: null);
        queue.Enqueue(job);
    }

    private static JsonObject ToJson(k8s.Models.V1Pod pod) => JsonNode.Parse(KubernetesJson.Serialize(pod))!.AsObject();

    private static Task CapacityIsAsync(KubernetesJobRuntime runtime, double cores, double memoryGb, int gpus, string what) =>
        ClusterHarness.EventuallyAsync(() => runtime.Capacity.Total == ResourceRequest.FromGb(cores, memoryGb, gpus), $"{what}: capacity {ResourceRequest.FromGb(cores, memoryGb, gpus)}");
}
