using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Strata.Server.Runtime.Kubernetes;

/// <summary>What an apply did.</summary>
public enum ApplyResult
{
    Created,
    Updated,
    Unchanged,
}

/// <summary>
/// The operations Strata needs from a cluster, over the official client. 404 becomes null (or "nothing to
/// do"), 409 on create means "already there", transient failures (429, 5xx, a broken connection) are
/// retried with backoff and jitter, and everything else is thrown for the caller to classify.
/// </summary>
public sealed class ClusterApi(IKubernetes client, TimeProvider time, ILogger<ClusterApi> logger)
{
    private const int MaxTries = 4;
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(200);

    public IKubernetes Client => client;

    /// <summary>
    /// Makes the object in the cluster carry what <paramref name="desired"/> says: created when missing,
    /// replaced when a field Strata sets differs (drift: an edited rule, a changed label), else left alone.
    /// Safe to run any number of times and from several servers at once (a 409 re-reads and tries again).
    /// </summary>
    public Task<ApplyResult> ApplyAsync(IKubernetesObject<V1ObjectMeta> desired, CancellationToken cancellationToken)
    {
        var name = desired.Metadata.Name;
        var ns = desired.Metadata.NamespaceProperty;
        var core = client.CoreV1;
        var rbac = client.RbacAuthorizationV1;
        var net = client.NetworkingV1;
        return desired switch
        {
            V1Namespace o => ApplyAsync(o, c => core.ReadNamespaceAsync(name, cancellationToken: c), c => core.CreateNamespaceAsync(o, cancellationToken: c), c => core.ReplaceNamespaceAsync(o, name, cancellationToken: c), cancellationToken),
            V1ResourceQuota o => ApplyAsync(o, c => core.ReadNamespacedResourceQuotaAsync(name, ns, cancellationToken: c), c => core.CreateNamespacedResourceQuotaAsync(o, ns, cancellationToken: c), c => core.ReplaceNamespacedResourceQuotaAsync(o, name, ns, cancellationToken: c), cancellationToken),
            V1LimitRange o => ApplyAsync(o, c => core.ReadNamespacedLimitRangeAsync(name, ns, cancellationToken: c), c => core.CreateNamespacedLimitRangeAsync(o, ns, cancellationToken: c), c => core.ReplaceNamespacedLimitRangeAsync(o, name, ns, cancellationToken: c), cancellationToken),
            V1ServiceAccount o => ApplyAsync(o, c => core.ReadNamespacedServiceAccountAsync(name, ns, cancellationToken: c), c => core.CreateNamespacedServiceAccountAsync(o, ns, cancellationToken: c), c => core.ReplaceNamespacedServiceAccountAsync(o, name, ns, cancellationToken: c), cancellationToken),
            V1Role o => ApplyAsync(o, c => rbac.ReadNamespacedRoleAsync(name, ns, cancellationToken: c), c => rbac.CreateNamespacedRoleAsync(o, ns, cancellationToken: c), c => rbac.ReplaceNamespacedRoleAsync(o, name, ns, cancellationToken: c), cancellationToken),
            V1RoleBinding o => ApplyAsync(o, c => rbac.ReadNamespacedRoleBindingAsync(name, ns, cancellationToken: c), c => rbac.CreateNamespacedRoleBindingAsync(o, ns, cancellationToken: c), c => rbac.ReplaceNamespacedRoleBindingAsync(o, name, ns, cancellationToken: c), cancellationToken),
            V1NetworkPolicy o => ApplyAsync(o, c => net.ReadNamespacedNetworkPolicyAsync(name, ns, cancellationToken: c), c => net.CreateNamespacedNetworkPolicyAsync(o, ns, cancellationToken: c), c => net.ReplaceNamespacedNetworkPolicyAsync(o, name, ns, cancellationToken: c), cancellationToken),
            _ => throw new NotSupportedException($"Strata does not apply {desired.Kind} objects"),
        };
    }

    /// <summary>Creates the object, or returns the one already there (409); null when its namespace does not exist (404).</summary>
    public async Task<V1Job?> CreateJobAsync(V1Job job, CancellationToken cancellationToken)
    {
        var ns = job.Metadata.NamespaceProperty;
        try
        {
            return await CallAsync(c => client.BatchV1.CreateNamespacedJobAsync(job, ns, cancellationToken: c), cancellationToken);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
            return await CallAsync(c => client.BatchV1.ReadNamespacedJobAsync(job.Metadata.Name, ns, cancellationToken: c), cancellationToken);
        }
    }

    /// <summary>
    /// Creates a Service, NetworkPolicy or PersistentVolumeClaim of a job; one already there (409) is left as it
    /// is. False when its namespace does not exist (404).
    /// </summary>
    public async Task<bool> CreateIfMissingAsync(IKubernetesObject<V1ObjectMeta> item, CancellationToken cancellationToken)
    {
        var ns = item.Metadata.NamespaceProperty;
        try
        {
            await CallAsync<object>(async c => item switch
            {
                V1Service service => await client.CoreV1.CreateNamespacedServiceAsync(service, ns, cancellationToken: c),
                V1NetworkPolicy policy => await client.NetworkingV1.CreateNamespacedNetworkPolicyAsync(policy, ns, cancellationToken: c),
                V1PersistentVolumeClaim claim => await client.CoreV1.CreateNamespacedPersistentVolumeClaimAsync(claim, ns, cancellationToken: c),
                _ => throw new NotSupportedException($"Strata does not create {item.Kind} objects for jobs"),
            }, cancellationToken);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
        return true;
    }

    /// <summary>Every job's checkpoint volume claim, in every namespace.</summary>
    public Task<V1PersistentVolumeClaimList> ListCheckpointClaimsAsync(CancellationToken cancellationToken) =>
        CallAsync(c => client.CoreV1.ListPersistentVolumeClaimForAllNamespacesAsync(labelSelector: KubernetesNames.CheckpointClaimsSelector, cancellationToken: c), cancellationToken);

    /// <summary>Deletes a claim; its volume goes once no pod uses it (the claim's protection finalizer). Gone already is fine.</summary>
    public async Task DeleteClaimAsync(string name, string ns, CancellationToken cancellationToken)
    {
        try
        {
            await CallAsync(c => client.CoreV1.DeleteNamespacedPersistentVolumeClaimAsync(name, ns, cancellationToken: c), cancellationToken);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
        }
    }

    /// <summary>Every Job Strata watches (managed by it, not yet collected), in every namespace: one consistent list.</summary>
    public Task<V1JobList> ListJobsAsync(CancellationToken cancellationToken) =>
        CallAsync(c => client.BatchV1.ListJobForAllNamespacesAsync(labelSelector: KubernetesNames.WatchedJobsSelector, cancellationToken: c), cancellationToken);

    /// <summary>Deletes a Job with background propagation: it goes at once, its pods (and owned objects) after. Gone already is fine.</summary>
    public async Task DeleteJobAsync(string name, string ns, CancellationToken cancellationToken)
    {
        try
        {
            await CallAsync(c => client.BatchV1.DeleteNamespacedJobAsync(name, ns, propagationPolicy: "Background", cancellationToken: c), cancellationToken);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
        }
    }

    /// <summary>Adds labels to a Job (a JSON merge patch); a Job that is gone is fine.</summary>
    public async Task LabelJobAsync(string name, string ns, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken)
    {
        var patch = new JsonObject { ["metadata"] = new JsonObject { ["labels"] = new JsonObject(labels.Select(l => KeyValuePair.Create(l.Key, (JsonNode?)l.Value))) } };
        try
        {
            await CallAsync(c => client.BatchV1.PatchNamespacedJobAsync(new V1Patch(patch.ToJsonString(), V1Patch.PatchType.MergePatch), name, ns, cancellationToken: c), cancellationToken);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
        }
    }

    public Task<V1PodList> ListPodsAsync(string ns, string labelSelector, CancellationToken cancellationToken) =>
        CallAsync(c => client.CoreV1.ListNamespacedPodAsync(ns, labelSelector: labelSelector, cancellationToken: c), cancellationToken);

    /// <summary>
    /// A container's log, each line after its RFC 3339 time when <paramref name="timestamps"/>; null when it has none
    /// yet (the container has not started: 400) or the pod is gone (404).
    /// </summary>
    public async Task<Stream?> OpenPodLogAsync(string pod, string ns, string container, bool follow, int? tailLines, bool timestamps, CancellationToken cancellationToken)
    {
        try
        {
            return await client.CoreV1.ReadNamespacedPodLogAsync(pod, ns, container: container, follow: follow, tailLines: tailLines, timestamps: timestamps, cancellationToken: cancellationToken);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.BadRequest)
        {
            return null;
        }
    }

    /// <summary>Namespaces Strata made for tenants.</summary>
    public Task<V1NamespaceList> ListTenantNamespacesAsync(CancellationToken cancellationToken) =>
        CallAsync(c => client.CoreV1.ListNamespaceAsync(labelSelector: KubernetesNames.ManagedSelector, cancellationToken: c), cancellationToken);

    /// <summary>The namespace; null when there is none.</summary>
    public async Task<V1Namespace?> ReadNamespaceAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            return await CallAsync(c => client.CoreV1.ReadNamespaceAsync(name, cancellationToken: c), cancellationToken);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>Deletes a namespace and everything in it; gone already is fine.</summary>
    public async Task DeleteNamespaceAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            await CallAsync(c => client.CoreV1.DeleteNamespaceAsync(name, propagationPolicy: "Background", cancellationToken: c), cancellationToken);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
        }
    }

    /// <summary>True for failures worth trying again: the API server was busy, failing or unreachable.</summary>
    public static bool IsTransient(Exception e) => e switch
    {
        HttpOperationException h => h.Response.StatusCode is HttpStatusCode.TooManyRequests or >= HttpStatusCode.InternalServerError,
        HttpRequestException or IOException => true,
        _ => false,
    };

    /// <summary>Runs one API call, retrying transient failures with exponential backoff and jitter.</summary>
    public async Task<T> CallAsync<T>(Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        for (var tries = 1; ; tries++)
        {
            try
            {
                return await call(cancellationToken);
            }
            catch (Exception e) when (tries < MaxTries && IsTransient(e) && !cancellationToken.IsCancellationRequested)
            {
                var delay = Backoff.WithJitter(FirstRetryDelay, tries, TimeSpan.FromSeconds(5));
                logger.LogDebug(e, "Kubernetes API call failed ({Try} of {Max}); retrying in {Delay}", tries, MaxTries, delay);
                await Task.Delay(delay, time, cancellationToken);
            }
        }
    }

    private async Task<ApplyResult> ApplyAsync<T>(
        T desired,
        Func<CancellationToken, Task<T>> read,
        Func<CancellationToken, Task<T>> create,
        Func<CancellationToken, Task<T>> replace,
        CancellationToken cancellationToken)
        where T : IKubernetesObject<V1ObjectMeta>
    {
        for (var tries = 1; ; tries++)
        {
            try
            {
                T existing;
                try
                {
                    existing = await CallAsync(read, cancellationToken);
                }
                catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
                {
                    await CallAsync(create, cancellationToken);
                    return ApplyResult.Created;
                }
                if (Drift.Carries(existing, desired)) return ApplyResult.Unchanged;
                // Replace only the version we read: a concurrent change makes this a 409, and we read again.
                desired.Metadata.ResourceVersion = existing.Metadata.ResourceVersion;
                try
                {
                    await CallAsync(replace, cancellationToken);
                }
                finally
                {
                    desired.Metadata.ResourceVersion = null;
                }
                return ApplyResult.Updated;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict && tries < MaxTries)
            {
                logger.LogDebug("{Kind} {Name} changed while being applied; reading it again", desired.Kind, desired.Metadata.Name);
            }
        }
    }
}

/// <summary>Whether an object in the cluster still carries everything Strata set on it.</summary>
public static class Drift
{
    /// <summary>
    /// True when every field of <paramref name="desired"/> (its labels, and everything outside metadata and
    /// status) has the same value in <paramref name="actual"/>. Lists must match element for element (an added
    /// rule is drift); fields the API server adds (defaults, uid, timestamps) are not.
    /// </summary>
    public static bool Carries(IKubernetesObject<V1ObjectMeta> actual, IKubernetesObject<V1ObjectMeta> desired)
    {
        var want = JsonNode.Parse(KubernetesJson.Serialize(desired))!.AsObject();
        var have = JsonNode.Parse(KubernetesJson.Serialize(actual))!.AsObject();
        var labels = want["metadata"]?["labels"];
        if (labels is not null && !Contains(have["metadata"]?["labels"], labels)) return false;
        foreach (var (key, value) in want)
        {
            if (key is "metadata" or "status") continue;
            if (!Contains(have[key], value)) return false;
        }
        return true;
    }

    private static bool Contains(JsonNode? actual, JsonNode? desired) => desired switch
    {
        null => true,
        JsonObject want => actual is JsonObject have && want.All(p => Contains(have[p.Key], p.Value)),
        JsonArray want => actual is JsonArray have && have.Count == want.Count && want.Select((w, i) => Contains(have[i], w)).All(x => x),
        _ => actual is not null && JsonNode.DeepEquals(actual, desired),
    };
}

/// <summary>Exponential backoff with full jitter in [½, 1½) of the step, capped.</summary>
public static class Backoff
{
    public static TimeSpan WithJitter(TimeSpan first, int failures, TimeSpan max)
    {
        var step = Math.Min(max.TotalMilliseconds, first.TotalMilliseconds * Math.Pow(2, Math.Max(0, failures - 1)));
        return TimeSpan.FromMilliseconds(step * (0.5 + Random.Shared.NextDouble()));
    }
}
