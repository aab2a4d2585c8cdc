using System.Collections.Concurrent;
using System.Globalization;
using k8s;
using k8s.Models;
using Strata.Contracts;
using Strata.Core.Deployments;
using Strata.Server.Auth;
using Strata.Server.Hosting;

namespace Strata.Server.Runtime.Kubernetes;

/// <summary>
/// Model deployments as Kubernetes objects in their tenant's namespace (<see cref="DeploymentManifests"/>; docs/kubernetes.md,
/// "Model deployments"). <see cref="ApplyAsync"/> applies them (server-side apply: idempotent, and what another manager
/// changed is repaired or reported); what runs is learned from watches of Strata's Deployments, Services and pods in
/// every namespace, never by polling: a replica is a pod, ready when Kubernetes says so, and the platform's predict route
/// forwards to its track's Service. A restarted server lists what exists and adopts it; the deployments' resync
/// re-applies every stored deployment and removes what has none (<see cref="RetainOnlyAsync"/>).
/// </summary>
public sealed class KubernetesDeploymentRuntime(
    ClusterApi api, KubernetesRuntimeOptions options, ModelFetchTokens tokens, TenantDirectory tenants, TenantProvisioner provisioner, PlatformUrl platformUrl,
    IReplicaLoad load, TimeProvider time, ILogger<KubernetesDeploymentRuntime> logger) : IDeploymentRuntime, IHostedService, IDisposable
{
    private const int MaxEvents = 50;
    private readonly Lock _lock = new();
    // The watched objects by "namespace/name", as the last list and the watch since have them.
    private readonly Dictionary<string, V1Deployment> _deployments = new(StringComparer.Ordinal);
    private readonly Dictionary<string, V1Service> _services = new(StringComparer.Ordinal);
    private readonly Dictionary<string, V1Pod> _pods = new(StringComparer.Ordinal);
    private readonly HashSet<string> _listed = new(StringComparer.Ordinal);
    private readonly Dictionary<DeploymentKey, List<RuntimeEvent>> _events = [];
    // Rebuilt on every change to a deployment's objects: every prediction reads it, without a lock.
    private readonly ConcurrentDictionary<DeploymentKey, DeploymentObservation> _observed = new();
    private readonly CancellationTokenSource _stopping = new();
    private Task[] _loops = [];

    public IReadOnlyList<string> SupportedScalingModes { get; } = [ScalingModes.InFlight, ScalingModes.Cpu];

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var resync = TimeSpan.FromSeconds(options.ResyncSeconds);
        var token = _stopping.Token;
        _loops =
        [
            Task.Run(() => ListWatch.RunAsync<V1Deployment>("model Deployments",
                c => RelistAsync("deployments", _deployments, api.CallAsync(k => api.Client.AppsV1.ListDeploymentForAllNamespacesAsync(labelSelector: DeploymentManifests.Selector, cancellationToken: k), c)),
                (version, seconds, onError, c) => api.Client.AppsV1.WatchListDeploymentForAllNamespacesAsync(
                    allowWatchBookmarks: true, labelSelector: DeploymentManifests.Selector, resourceVersion: version, timeoutSeconds: seconds, onError: onError, cancellationToken: c),
                (type, item) => Change(_deployments, type, item), resync, time, logger, token), CancellationToken.None),
            Task.Run(() => ListWatch.RunAsync<V1Service>("model Services",
                c => RelistAsync("services", _services, api.CallAsync(k => api.Client.CoreV1.ListServiceForAllNamespacesAsync(labelSelector: DeploymentManifests.Selector, cancellationToken: k), c)),
                (version, seconds, onError, c) => api.Client.CoreV1.WatchListServiceForAllNamespacesAsync(
                    allowWatchBookmarks: true, labelSelector: DeploymentManifests.Selector, resourceVersion: version, timeoutSeconds: seconds, onError: onError, cancellationToken: c),
                (type, item) => Change(_services, type, item), resync, time, logger, token), CancellationToken.None),
            Task.Run(() => ListWatch.RunAsync<V1Pod>("model pods",
                c => RelistAsync("pods", _pods, api.CallAsync(k => api.Client.CoreV1.ListPodForAllNamespacesAsync(labelSelector: DeploymentManifests.Selector, cancellationToken: k), c)),
                (version, seconds, onError, c) => api.Client.CoreV1.WatchListPodForAllNamespacesAsync(
                    allowWatchBookmarks: true, labelSelector: DeploymentManifests.Selector, resourceVersion: version, timeoutSeconds: seconds, onError: onError, cancellationToken: c),
                (type, item) => Change(_pods, type, item), resync, time, logger, token), CancellationToken.None),
        ];
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await Task.WhenAll(_loops).WaitAsync(cancellationToken);
    }

    public void Dispose()
    {
        if (!_stopping.IsCancellationRequested) _stopping.Cancel();
    }

    public DeploymentObservation? Observe(DeploymentKey key) => _observed.GetValueOrDefault(key);

    public IReadOnlyList<DeploymentKey> Deployments() => [.. _observed.Keys];

    /// <summary>
    /// Applies the deployment's objects: the fetch token's Secret (a new token when there is none or half its life is
    /// gone), the main Deployment (the owner of the rest), its Service and PodDisruptionBudget, the HPA in mode <c>cpu</c>
    /// (deleted in mode <c>in_flight</c>: never both), and the canary's Deployment, Service and budget, or their
    /// deletion. Replicas are set through the scale subresource: to the limits in mode <c>in_flight</c> (the platform's
    /// autoscaler moves them from there), and the canary's to its share of the main ones.
    /// </summary>
    public async Task ApplyAsync(DeploymentTarget target, CancellationToken cancellationToken)
    {
        var key = target.Key;
        var ns = KubernetesNames.Namespace(key.TenantId);
        if (await tenants.FindAsync(key.TenantId, cancellationToken) is not { Deleting: false } tenant)
        {
            logger.LogInformation("Deployment {Deployment}: its tenant is gone or being deleted; nothing applied", key);
            return;
        }
        var mainName = DeploymentManifests.ObjectName(key.Name, ReplicaTrack.Main);
        var existing = await api.CallAsync(c => ReadDeploymentAsync(mainName, ns, c), cancellationToken);

        var lifetime = TimeSpan.FromDays(options.ModelFetchTokenDays);
        var now = time.GetUtcNow();
        string? token = null;
        if (!(TokenExpiry(existing) is { } expiresAt && expiresAt - now > lifetime / 2))
        {
            (token, expiresAt) = tokens.Issue(tenant.Incarnation, target.ModelName, lifetime);
        }
        // A new deployment's Secret exists before its Deployment, so that no pod waits for it; then the Deployment owns it.
        if (token is not null && existing is null
            && await ApplyInTenantAsync(DeploymentManifests.FetchSecret(key, target.ModelName, token, owner: null), key.TenantId, cancellationToken) is null)
        {
            return;
        }
        var main = await ApplyInTenantAsync(DeploymentManifests.MainDeployment(target, platformUrl.Value, expiresAt, options), key.TenantId, cancellationToken);
        if (main is null) return;
        var owner = DeploymentManifests.OwnerOf(main.Item);
        if (token is not null) await api.ApplyAsync(DeploymentManifests.FetchSecret(key, target.ModelName, token, owner), cancellationToken);
        await api.ApplyAsync(DeploymentManifests.Service(key, ReplicaTrack.Main, target.ModelName, options, owner), cancellationToken);
        await api.ApplyAsync(DeploymentManifests.DisruptionBudget(key, ReplicaTrack.Main, target.ModelName, owner), cancellationToken);
        if (target.ScalingMode == ScalingModes.Cpu) await api.ApplyAsync(DeploymentManifests.Autoscaler(target, owner), cancellationToken);
        else await api.DeleteModelObjectAsync("HorizontalPodAutoscaler", mainName, ns, cancellationToken);

        var replicas = main.Item.Spec.Replicas ?? 1;
        if (target.ScalingMode == ScalingModes.InFlight)
        {
            var wanted = main.Created ? target.MinReplicas : Math.Clamp(replicas, target.MinReplicas, target.MaxReplicas);
            if (wanted != replicas) await api.ScaleDeploymentAsync(mainName, ns, wanted, cancellationToken);
            replicas = wanted;
        }

        var canaryName = DeploymentManifests.ObjectName(key.Name, ReplicaTrack.Canary);
        if (target.Canary is { } canary)
        {
            var applied = await api.ApplyAsync(DeploymentManifests.CanaryDeployment(target, canary, platformUrl.Value, options, owner), cancellationToken);
            await api.ApplyAsync(DeploymentManifests.Service(key, ReplicaTrack.Canary, target.ModelName, options, owner), cancellationToken);
            await api.ApplyAsync(DeploymentManifests.DisruptionBudget(key, ReplicaTrack.Canary, target.ModelName, owner), cancellationToken);
            var canaryReplicas = CanaryTarget.ReplicasFor(replicas, canary.Weight);
            if (applied is not null && applied.Item.Spec.Replicas != canaryReplicas) await api.ScaleDeploymentAsync(canaryName, ns, canaryReplicas, cancellationToken);
        }
        else
        {
            foreach (var kind in new[] { "Deployment", "Service", "PodDisruptionBudget" }) await api.DeleteModelObjectAsync(kind, canaryName, ns, cancellationToken);
        }
    }

    /// <summary>
    /// Applies an object in the tenant's namespace; when the namespace is not there yet (a new tenant the provisioner's
    /// last pass has not reached), provisions the tenant first. Null when it still cannot be (logged; the next resync tries again).
    /// </summary>
    private async Task<Applied<T>?> ApplyInTenantAsync<T>(T item, string tenantId, CancellationToken cancellationToken)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        if (await api.ApplyAsync(item, cancellationToken) is { } applied) return applied;
        await provisioner.ProvisionAsync(tenantId, cancellationToken);
        if (await api.ApplyAsync(item, cancellationToken) is { } second) return second;
        logger.LogWarning("Deployment objects of tenant {Tenant}: namespace {Namespace} does not exist; applied at the next resync", tenantId, KubernetesNames.Namespace(tenantId));
        return null;
    }

    /// <summary>Deletes the main Deployment: the garbage collector deletes everything it owns (canary, Services, budgets, HPA, Secret) and their pods.</summary>
    public async Task RemoveAsync(DeploymentKey key, CancellationToken cancellationToken)
    {
        await api.DeleteModelObjectAsync("Deployment", DeploymentManifests.ObjectName(key.Name, ReplicaTrack.Main), KubernetesNames.Namespace(key.TenantId), cancellationToken);
        lock (_lock) _events.Remove(key);
    }

    /// <summary>Lists the cluster's model Deployments (not the watch's cache, which a just-started server may not have filled) and deletes the orphans.</summary>
    public async Task RetainOnlyAsync(IReadOnlySet<DeploymentKey> stored, DateTimeOffset listedAt, CancellationToken cancellationToken)
    {
        var list = await api.CallAsync(c => api.Client.AppsV1.ListDeploymentForAllNamespacesAsync(labelSelector: DeploymentManifests.Selector, cancellationToken: c), cancellationToken);
        var orphans = list.Items
            .Where(d => d.Metadata.CreationTimestamp is { } created && created < listedAt.UtcDateTime)
            .Select(d => DeploymentManifests.Identify(d.Metadata))
            .Where(id => id is { Track: ReplicaTrack.Main } && !stored.Contains(id.Value.Key))
            .Select(id => id!.Value.Key)
            .ToList();
        foreach (var key in orphans)
        {
            logger.LogInformation("Deployment {Deployment} runs in the cluster but is stored no more; deleting it", key);
            await RemoveAsync(key, cancellationToken);
        }
    }

    /// <summary>
    /// What the platform's in-flight autoscaler needs of each deployment in mode <c>in_flight</c>, and of each canary
    /// (whose replicas follow the main ones in both modes), from the watched objects.
    /// </summary>
    internal List<ScalingView> ScalingViews()
    {
        lock (_lock)
        {
            var views = new List<ScalingView>();
            foreach (var deployment in _deployments.Values)
            {
                if (DeploymentManifests.Identify(deployment.Metadata) is not { Track: ReplicaTrack.Main, Key: var key }) continue;
                var annotations = deployment.Metadata.Annotations;
                var canary = _deployments.GetValueOrDefault(Id(deployment.Metadata.NamespaceProperty, DeploymentManifests.ObjectName(key.Name, ReplicaTrack.Canary)));
                var ready = PodsOf(key).Where(p => IsServing(p) && DeploymentManifests.Identify(p.Metadata)?.Track == ReplicaTrack.Main).Select(p => p.Metadata.Name).ToList();
                views.Add(new ScalingView(
                    key,
                    deployment.Metadata.NamespaceProperty,
                    Value(annotations, DeploymentManifests.ScalingModeAnnotation) ?? ScalingModes.InFlight,
                    Number(annotations, DeploymentManifests.MinReplicasAnnotation) is { } min ? (int)min : 1,
                    Number(annotations, DeploymentManifests.MaxReplicasAnnotation) is { } max ? (int)max : 1,
                    Number(annotations, DeploymentManifests.TargetInFlightAnnotation) ?? 1,
                    deployment.Spec.Replicas ?? 1,
                    ready,
                    canary?.Spec.Replicas,
                    canary is null ? null : Number(canary.Metadata.Annotations, DeploymentManifests.CanaryWeightAnnotation)));
            }
            return views;
        }
    }

    internal Task ScaleAsync(string name, string ns, int replicas, CancellationToken cancellationToken) => api.ScaleDeploymentAsync(name, ns, replicas, cancellationToken);

    // ---------------------------------------------------------------- the watches

    private async Task<string> RelistAsync<T, TList>(string kind, Dictionary<string, T> known, Task<TList> listing)
        where T : class, IKubernetesObject<V1ObjectMeta>
        where TList : IKubernetesObject<V1ListMeta>, IItems<T>
    {
        var list = await listing;
        lock (_lock)
        {
            // The first list adopts what exists without events; a later one reports what the watch missed.
            var first = _listed.Add(kind);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var item in list.Items)
            {
                var id = Id(item.Metadata.NamespaceProperty, item.Metadata.Name);
                seen.Add(id);
                var old = known.GetValueOrDefault(id);
                if (old?.Metadata.ResourceVersion == item.Metadata.ResourceVersion) continue;
                known[id] = item;
                Changed(old, item, reportEvents: !first);
            }
            foreach (var gone in known.Keys.Where(k => !seen.Contains(k)).ToList())
            {
                var old = known[gone];
                known.Remove(gone);
                Changed(old, null, reportEvents: true);
            }
        }
        return list.Metadata.ResourceVersion;
    }

    private void Change<T>(Dictionary<string, T> known, WatchEventType type, T item)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        var id = Id(item.Metadata.NamespaceProperty, item.Metadata.Name);
        lock (_lock)
        {
            var old = known.GetValueOrDefault(id);
            if (type == WatchEventType.Deleted) known.Remove(id);
            else known[id] = item;
            Changed(old, type == WatchEventType.Deleted ? null : item, reportEvents: true);
        }
    }

    /// <summary>Called holding the lock: reports what the change means for its deployment, and rebuilds its observation.</summary>
    private void Changed(IKubernetesObject<V1ObjectMeta>? old, IKubernetesObject<V1ObjectMeta>? now, bool reportEvents)
    {
        if (DeploymentManifests.Identify((now ?? old)!.Metadata) is not { Key: var key }) return;
        if (reportEvents)
        {
            switch (old ?? now)
            {
                case V1Pod:
                    ReportPod(key, old as V1Pod, now as V1Pod);
                    break;
                case V1Deployment:
                    ReportDeployment(key, old as V1Deployment, now as V1Deployment);
                    break;
            }
        }
        Rebuild(key);
    }

    private void ReportPod(DeploymentKey key, V1Pod? old, V1Pod? now)
    {
        var pod = (now ?? old)!;
        var name = pod.Metadata.Name;
        var version = Value(pod.Metadata.Labels, DeploymentManifests.ModelVersionLabel) ?? "?";
        if (old is null)
        {
            Event(key, "replica_started", $"replica {name} (version {version}) was created");
            if (IsReady(pod)) Event(key, "replica_ready", $"replica {name} (version {version}) is ready");
            return;
        }
        if (now is null)
        {
            Event(key, "replica_stopped", $"replica {name} (version {version}) is gone");
            load.Forget(name);
            return;
        }
        if (!IsReady(old) && IsReady(now)) Event(key, "replica_ready", $"replica {name} (version {version}) is ready");
        if (IsReady(old) && !IsReady(now) && now.Metadata.DeletionTimestamp is null) Event(key, "replica_not_ready", $"replica {name} (version {version}) stopped answering its readiness probe");
        if (old.Metadata.DeletionTimestamp is null && now.Metadata.DeletionTimestamp is not null) Event(key, "replica_draining", $"replica {name} (version {version}) is stopping");
        foreach (var (container, before) in Restarts(old))
        {
            var after = Restarts(now).GetValueOrDefault(container);
            if (after.Count <= before.Count) continue;
            var ended = after.LastEnd;
            var why = ended is null ? "" : $": {ended.Reason ?? "exited"} (exit status {ended.ExitCode}){(string.IsNullOrWhiteSpace(ended.Message) ? "" : ": " + ended.Message.Trim())}";
            Event(key, container == DeploymentManifests.FetchContainer ? "model_fetch_failed" : "replica_restarted",
                container == DeploymentManifests.FetchContainer
                    ? $"replica {name} (version {version}) could not fetch its model{why}"
                    : $"replica {name} (version {version}) restarted{why}");
        }
    }

    private void ReportDeployment(DeploymentKey key, V1Deployment? old, V1Deployment? now)
    {
        if (old is null || now is null) return;
        var name = now.Metadata.Name;
        if (old.Spec.Replicas != now.Spec.Replicas)
        {
            Event(key, "scaled", $"{name}: desired replicas {old.Spec.Replicas ?? 1} → {now.Spec.Replicas ?? 1}");
        }
        var stalled = now.Status?.Conditions?.FirstOrDefault(c => c.Type == "Progressing" && c.Status == "False");
        var wasStalled = old.Status?.Conditions?.Any(c => c.Type == "Progressing" && c.Status == "False") == true;
        if (stalled is not null && !wasStalled) Event(key, "rollout_stalled", $"{name}: {stalled.Reason}: {stalled.Message}");
    }

    /// <summary>Each container's (init containers too) restart count and how it last ended.</summary>
    private static Dictionary<string, (int Count, V1ContainerStateTerminated? LastEnd)> Restarts(V1Pod pod) =>
        (pod.Status?.InitContainerStatuses ?? []).Concat(pod.Status?.ContainerStatuses ?? [])
            .GroupBy(s => s.Name, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => (g.First().RestartCount, g.First().LastState?.Terminated ?? g.First().State?.Terminated), StringComparer.Ordinal);

    private void Event(DeploymentKey key, string reason, string message)
    {
        if (!_events.TryGetValue(key, out var events)) _events[key] = events = [];
        events.Add(new RuntimeEvent(time.GetUtcNow(), reason, message));
        if (events.Count > MaxEvents) events.RemoveRange(0, events.Count - MaxEvents);
    }

    /// <summary>Called holding the lock: the deployment as its watched objects show it now.</summary>
    private void Rebuild(DeploymentKey key)
    {
        var ns = KubernetesNames.Namespace(key.TenantId);
        var main = _deployments.GetValueOrDefault(Id(ns, DeploymentManifests.ObjectName(key.Name, ReplicaTrack.Main)));
        if (main is null)
        {
            _observed.TryRemove(key, out _);
            // Gone with its last pod: nothing is left to tell of it.
            if (!PodsOf(key).Any()) _events.Remove(key);
            return;
        }
        var ready = new List<ReplicaEndpoint>();
        var starting = new List<ReplicaEndpoint>();
        foreach (var pod in PodsOf(key).OrderBy(p => p.Metadata.Name, StringComparer.Ordinal))
        {
            if (DeploymentManifests.Identify(pod.Metadata) is not { Track: var track }
                || !int.TryParse(Value(pod.Metadata.Labels, DeploymentManifests.ModelVersionLabel), NumberStyles.None, CultureInfo.InvariantCulture, out var version))
            {
                continue;
            }
            var metrics = pod.Status?.PodIP is { Length: > 0 } podIp ? new Uri($"http://{Host(podIp)}:{DeploymentManifests.ServerPort}/") : null;
            var service = ServiceAddress(_services.GetValueOrDefault(Id(ns, DeploymentManifests.ObjectName(key.Name, track))));
            if (IsServing(pod) && service is not null) ready.Add(new ReplicaEndpoint(pod.Metadata.Name, service, version) { MetricsAddress = metrics });
            else if (pod.Metadata.DeletionTimestamp is null && metrics is not null) starting.Add(new ReplicaEndpoint(pod.Metadata.Name, metrics, version) { MetricsAddress = metrics });
        }
        var canaryDeployment = _deployments.GetValueOrDefault(Id(ns, DeploymentManifests.ObjectName(key.Name, ReplicaTrack.Canary)));
        CanarySplit? canary = null;
        if (canaryDeployment is not null
            && int.TryParse(Value(canaryDeployment.Metadata.Labels, DeploymentManifests.ModelVersionLabel), NumberStyles.None, CultureInfo.InvariantCulture, out var canaryVersion)
            && Number(canaryDeployment.Metadata.Annotations, DeploymentManifests.CanaryWeightAnnotation) is { } weight)
        {
            canary = new CanarySplit(canaryVersion, weight, canaryDeployment.Spec.Replicas ?? 1);
        }
        var events = _events.TryGetValue(key, out var list) ? list.ToList() : [];
        _observed[key] = new DeploymentObservation(main.Spec.Replicas ?? 1, ready, events, Value(main.Metadata.Labels, DeploymentManifests.ModelLabel) ?? "", canary)
        {
            Starting = starting,
        };
    }

    private IEnumerable<V1Pod> PodsOf(DeploymentKey key) =>
        _pods.Values.Where(p => DeploymentManifests.Identify(p.Metadata)?.Key == key);

    /// <summary>Ready and not stopping: Kubernetes' endpoints include it, so the Service may send it predictions.</summary>
    private static bool IsServing(V1Pod pod) => pod.Metadata.DeletionTimestamp is null && IsReady(pod);

    private static bool IsReady(V1Pod pod) =>
        pod.Status?.Phase == "Running" && pod.Status.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true;

    /// <summary>The Service's cluster IP and port, where the router sends predictions; null until it has one.</summary>
    private static Uri? ServiceAddress(V1Service? service) =>
        service?.Spec?.ClusterIP is { Length: > 0 } ip && ip != "None" && service.Spec.Ports?.FirstOrDefault()?.Port is { } port
            ? new Uri($"http://{Host(ip)}:{port}/")
            : null;

    private static string Host(string ip) => ip.Contains(':', StringComparison.Ordinal) ? $"[{ip}]" : ip;

    private static DateTimeOffset? TokenExpiry(V1Deployment? deployment) =>
        Value(deployment?.Metadata.Annotations, DeploymentManifests.FetchTokenExpiresAnnotation) is { } text
        && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) ? at : null;

    private static string? Value(IDictionary<string, string>? map, string name) => map is not null && map.TryGetValue(name, out var value) ? value : null;

    private static double? Number(IDictionary<string, string>? annotations, string name) =>
        double.TryParse(Value(annotations, name), NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value : null;

    private async Task<V1Deployment?> ReadDeploymentAsync(string name, string ns, CancellationToken cancellationToken)
    {
        try
        {
            return await api.Client.AppsV1.ReadNamespacedDeploymentAsync(name, ns, cancellationToken: cancellationToken);
        }
        catch (k8s.Autorest.HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    private static string Id(string? ns, string name) => ns + "/" + name;
}

/// <summary>A deployment as the in-flight autoscaler sees it (<see cref="KubernetesDeploymentRuntime.ScalingViews"/>).</summary>
internal sealed record ScalingView(
    DeploymentKey Key, string Namespace, string Mode, int MinReplicas, int MaxReplicas, double TargetInFlight, int Replicas,
    IReadOnlyList<string> ReadyReplicas, int? CanaryReplicas, double? CanaryWeight);
