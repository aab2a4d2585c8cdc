using k8s;
using k8s.Models;
using Strata.Core.Runtime;

namespace Strata.Server.Runtime.Kubernetes;

/// <summary>What the cluster offers Strata: the matching nodes' allocatable, and what of it others' pods leave free.</summary>
/// <param name="Allocatable">The allocatable of the Ready, schedulable nodes that match the selector.</param>
/// <param name="Free">That, less what pods other than Strata's attempts and placeholders request on those nodes.</param>
public sealed record ClusterFigure(ResourceRequest Allocatable, ResourceRequest Free);

/// <summary>
/// Follows the nodes that match <see cref="KubernetesRuntimeOptions.CapacityNodeSelector"/> and the pods on them the
/// way an informer does (list, then watch from the list's resourceVersion; re-list on 410 Gone and every
/// <see cref="KubernetesRuntimeOptions.ResyncSeconds"/>; back off with jitter on errors), and sums what they offer
/// (<see cref="Current"/>). Pods of Strata's attempts are not subtracted: the scheduler subtracts what it admitted
/// itself, and counting them here too would count them twice. They are told apart by their labels (<c>managed-by:
/// strata</c> and an attempt's tenant, job id and attempt number); placeholder pods are not subtracted either (the real
/// pods preempt them). Starts on first use; never when <see cref="KubernetesRuntimeOptions.CapacityFromCluster"/> is false.
/// </summary>
public sealed class ClusterCapacity(ClusterApi api, KubernetesRuntimeOptions options, TimeProvider time, ILogger<ClusterCapacity> logger) : IDisposable
{
    /// <summary>Pods that hold nothing any more; the API server filters them out of the pod list and watch.</summary>
    private const string LivePodsFieldSelector = "status.phase!=Succeeded,status.phase!=Failed";

    private readonly Lock _lock = new();
    /// <summary>Matching nodes by name: what each offers, and whether pods may be placed on it now.</summary>
    private readonly Dictionary<string, (bool Usable, ResourceRequest Allocatable)> _nodes = new(StringComparer.Ordinal);
    /// <summary>Others' live pods bound to a node, by namespace/name: the node and what the pod requests.</summary>
    private readonly Dictionary<string, (string Node, ResourceRequest Requests)> _pods = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private readonly HashSet<string> _gpuResources = [JobManifests.GpuResource, .. options.GpuTypes.Values.Select(t => t.Resource).OfType<string>()];
    private bool _nodesListed;
    private bool _podsListed;
    private bool _forbidden;
    private ClusterFigure? _figure;
    private Task? _loops;

    /// <summary>
    /// The cluster's figure; null when capacity is not read from the cluster: turned off, before both the nodes and the
    /// pods were first listed, or when they may not be listed (403).
    /// </summary>
    public ClusterFigure? Current
    {
        get
        {
            if (!options.CapacityFromCluster) return null;
            lock (_lock)
            {
                _loops ??= Task.WhenAll(
                    Task.Run(() => FollowNodesAsync(_stopping.Token)),
                    Task.Run(() => FollowPodsAsync(_stopping.Token)));
                if (!_nodesListed || !_podsListed || _forbidden) return null;
                return _figure ??= Sum();
            }
        }
    }

    public void Dispose()
    {
        if (_stopping.IsCancellationRequested) return;
        _stopping.Cancel();
    }

    private Task FollowNodesAsync(CancellationToken stoppingToken) => FollowAsync<V1Node>(
        "nodes",
        async c =>
        {
            var list = await api.CallAsync(t => api.Client.CoreV1.ListNodeAsync(labelSelector: options.CapacityNodeSelector, cancellationToken: t), c);
            lock (_lock)
            {
                _nodes.Clear();
                foreach (var node in list.Items) Set(WatchEventType.Added, node);
                _nodesListed = true;
            }
            return list.Metadata.ResourceVersion;
        },
        (version, seconds, onError, c) => api.Client.CoreV1.WatchListNodeAsync(
            allowWatchBookmarks: true, labelSelector: options.CapacityNodeSelector, resourceVersion: version, timeoutSeconds: seconds, onError: onError, cancellationToken: c),
        Change,
        stoppingToken);

    private Task FollowPodsAsync(CancellationToken stoppingToken) => FollowAsync<V1Pod>(
        "pods",
        async c =>
        {
            var list = await api.CallAsync(t => api.Client.CoreV1.ListPodForAllNamespacesAsync(fieldSelector: LivePodsFieldSelector, cancellationToken: t), c);
            lock (_lock)
            {
                _pods.Clear();
                foreach (var pod in list.Items) Set(WatchEventType.Added, pod);
                _podsListed = true;
            }
            return list.Metadata.ResourceVersion;
        },
        (version, seconds, onError, c) => api.Client.CoreV1.WatchListPodForAllNamespacesAsync(
            allowWatchBookmarks: true, fieldSelector: LivePodsFieldSelector, resourceVersion: version, timeoutSeconds: seconds, onError: onError, cancellationToken: c),
        Change,
        stoppingToken);

    private void Change(WatchEventType type, V1Node node)
    {
        lock (_lock) Set(type, node);
    }

    private void Change(WatchEventType type, V1Pod pod)
    {
        lock (_lock) Set(type, pod);
    }

    /// <summary>Records a node's change; the caller holds the lock.</summary>
    private void Set(WatchEventType type, V1Node node)
    {
        _figure = null;
        if (type == WatchEventType.Deleted) _nodes.Remove(node.Metadata.Name);
        else _nodes[node.Metadata.Name] = (Usable(node), Resources(node.Status?.Allocatable));
    }

    /// <summary>Records a pod's change (one that holds nothing Strata does not count already is forgotten); the caller holds the lock.</summary>
    private void Set(WatchEventType type, V1Pod pod)
    {
        _figure = null;
        var key = pod.Metadata.NamespaceProperty + "/" + pod.Metadata.Name;
        if (type != WatchEventType.Deleted && Holds(pod)) _pods[key] = (pod.Spec.NodeName, Requests(pod.Spec));
        else _pods.Remove(key);
    }

    /// <summary>The matching nodes' allocatable, and that less others' pods on the usable ones (never below zero).</summary>
    private ClusterFigure Sum()
    {
        var allocatable = default(ResourceRequest);
        var used = default(ResourceRequest);
        foreach (var (_, node) in _nodes)
        {
            if (node.Usable) allocatable += node.Allocatable;
        }
        foreach (var (_, pod) in _pods)
        {
            if (_nodes.TryGetValue(pod.Node, out var node) && node.Usable) used += pod.Requests;
        }
        var free = ResourceRequest.WithMilliGpus(
            Math.Max(0, allocatable.CpuCores - used.CpuCores), Math.Max(0, allocatable.MemoryBytes - used.MemoryBytes), Math.Max(0, allocatable.MilliGpus - used.MilliGpus));
        return new ClusterFigure(allocatable, free);
    }

    /// <summary>Ready and not cordoned: the scheduler may place new pods there.</summary>
    private static bool Usable(V1Node node) =>
        node.Spec?.Unschedulable != true
        && node.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true;

    /// <summary>
    /// Whether a pod holds part of a node that Strata's scheduler does not already count: bound to a node, not finished,
    /// and neither an attempt of Strata's (the scheduler counts those) nor a placeholder (preempted by real pods).
    /// </summary>
    private static bool Holds(V1Pod pod)
    {
        if (string.IsNullOrEmpty(pod.Spec?.NodeName) || pod.Status?.Phase is "Succeeded" or "Failed") return false;
        var labels = pod.Metadata.Labels;
        var strata = labels?.TryGetValue(KubernetesNames.ManagedByLabel, out var manager) == true && manager == KubernetesNames.ManagedByValue;
        return !(strata && (KubernetesNames.AttemptOf(pod.Metadata) is not null || labels!.ContainsKey(KubernetesNames.PlaceholderLabel)));
    }

    /// <summary>What the scheduler reserves for a pod: its containers' requests together, or its largest init container's when more, plus its overhead.</summary>
    private ResourceRequest Requests(V1PodSpec spec)
    {
        var requests = default(ResourceRequest);
        foreach (var container in spec.Containers ?? []) requests += Resources(container.Resources?.Requests);
        foreach (var init in spec.InitContainers ?? [])
        {
            var one = Resources(init.Resources?.Requests);
            requests = ResourceRequest.WithMilliGpus(
                Math.Max(requests.CpuCores, one.CpuCores), Math.Max(requests.MemoryBytes, one.MemoryBytes), Math.Max(requests.MilliGpus, one.MilliGpus));
        }
        return requests + Resources(spec.Overhead);
    }

    /// <summary>Cores, memory and GPUs (<c>nvidia.com/gpu</c> and the resources of <see cref="KubernetesRuntimeOptions.GpuTypes"/>) of a resource list.</summary>
    private ResourceRequest Resources(IDictionary<string, ResourceQuantity>? quantities)
    {
        if (quantities is null) return default;
        double cores = 0;
        long memory = 0, milliGpus = 0;
        foreach (var (name, quantity) in quantities)
        {
            if (name == "cpu") cores = (double)quantity.ToDecimal();
            else if (name == "memory") memory = (long)quantity.ToDecimal();
            else if (_gpuResources.Contains(name)) milliGpus += (long)quantity.ToDecimal() * ResourceRequest.MilliPerGpu;
        }
        return ResourceRequest.WithMilliGpus(cores, memory, milliGpus);
    }

    private Task FollowAsync<T>(
        string what,
        Func<CancellationToken, Task<string>> relist,
        ListWatch.Watch<T> watch,
        Action<WatchEventType, T> change,
        CancellationToken stoppingToken)
        where T : IKubernetesObject<V1ObjectMeta> =>
        ListWatch.RunAsync(what, relist, watch, change, TimeSpan.FromSeconds(options.ResyncSeconds), time, logger, stoppingToken, forbidden: e =>
        {
            // A 403 ends it for good: logged once, and the configured capacity stays in use.
            lock (_lock) _forbidden = true;
            logger.LogWarning(
                "Strata may not list or watch {What} ({Message}): until it restarts, the scheduler uses the configured capacity (Runtime:Kubernetes:Capacity*). " +
                "Grant get, list and watch on nodes and list and watch on pods cluster-wide to read it from the cluster, or set Runtime:Kubernetes:CapacityFromCluster to false",
                what, ClusterApi.StatusMessage(e));
        });
}
