using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Strata.Server.Runtime.Kubernetes;

/// <summary>What an apply did: the object as the API server now has it, and whether the apply created it.</summary>
public sealed record Applied<T>(T Item, bool Created);

/// <summary>
/// Another field manager owns a field that Strata's apply would change (server-side apply answered 409 Conflict).
/// Strata never forces: the other manager's value stays, and this says which fields and whose they are.
/// </summary>
public sealed class ApplyConflictException(string kind, string name, string? ns, string detail, Exception inner)
    : Exception($"{kind} {(ns is null ? name : ns + "/" + name)} was not applied: {detail} Strata does not take fields over from another manager: undo that manager's change, or have it give the fields up, for Strata's apply to succeed.", inner);

/// <summary>
/// The operations Strata needs from a cluster, over the official client. Everything Strata owns is applied
/// (<see cref="ApplyAsync{T}"/>, server-side apply). 404 becomes null (or "nothing to do"), transient failures (429, 5xx, a broken connection) are
/// retried with backoff and jitter, and everything else is thrown for the caller to classify.
/// </summary>
public sealed class ClusterApi(IKubernetes client, TimeProvider time, ILogger<ClusterApi> logger)
{
    private const int MaxTries = 4;
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(200);

    public IKubernetes Client => client;

    /// <summary>
    /// Server-side apply (<c>PATCH application/apply-patch+yaml</c>, field manager <see cref="FieldManager"/>,
    /// <c>force=false</c>): the API server creates the object when it is missing, sets the fields Strata names,
    /// removes those Strata set before and names no longer, and leaves every other manager's fields alone. Safe to
    /// run any number of times and from several servers at once (they are one manager). Null when the object's
    /// namespace does not exist (404). A field another manager owns and Strata would change is a conflict: logged
    /// and thrown as <see cref="ApplyConflictException"/>, never overwritten.
    /// </summary>
    public async Task<Applied<T>?> ApplyAsync<T>(T desired, CancellationToken cancellationToken)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        // JSON is YAML: the apply body is the object as the client serializes it (nulls left out).
        var patch = new V1Patch(KubernetesJson.Serialize(desired), V1Patch.PatchType.ApplyPatch);
        try
        {
            var (status, item) = await CallAsync(c => PatchAsync(desired, patch, c), cancellationToken);
            return new Applied<T>((T)item, status == HttpStatusCode.Created);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
            var detail = StatusMessage(e);
            logger.LogWarning("Kubernetes apply conflict: {Kind} {Namespace}/{Name} has fields another manager owns: {Detail}",
                desired.Kind, desired.Metadata.NamespaceProperty, desired.Metadata.Name, detail);
            throw new ApplyConflictException(desired.Kind, desired.Metadata.Name, desired.Metadata.NamespaceProperty, detail, e);
        }
    }

    /// <summary>The field manager of everything Strata applies.</summary>
    public const string FieldManager = "strata";

    /// <summary>The message of the API server's Status in a failed response, else the exception's own.</summary>
    public static string StatusMessage(HttpOperationException e)
    {
        try
        {
            return KubernetesJson.Deserialize<V1Status>(e.Response.Content)?.Message ?? e.Message;
        }
        catch (System.Text.Json.JsonException)
        {
            return e.Response.Content ?? e.Message;
        }
    }

    /// <summary>One apply request, by the object's kind (the client has a typed call per kind).</summary>
    private async Task<(HttpStatusCode Status, object Item)> PatchAsync(IKubernetesObject<V1ObjectMeta> desired, V1Patch patch, CancellationToken c)
    {
        var name = desired.Metadata.Name;
        var ns = desired.Metadata.NamespaceProperty;
        var core = client.CoreV1;
        var rbac = client.RbacAuthorizationV1;
        var net = client.NetworkingV1;
        const string m = FieldManager;
        return desired switch
        {
            V1Namespace => Of(await core.PatchNamespaceWithHttpMessagesAsync(patch, name, fieldManager: m, force: false, cancellationToken: c)),
            V1ResourceQuota => Of(await core.PatchNamespacedResourceQuotaWithHttpMessagesAsync(patch, name, ns, fieldManager: m, force: false, cancellationToken: c)),
            V1LimitRange => Of(await core.PatchNamespacedLimitRangeWithHttpMessagesAsync(patch, name, ns, fieldManager: m, force: false, cancellationToken: c)),
            V1ServiceAccount => Of(await core.PatchNamespacedServiceAccountWithHttpMessagesAsync(patch, name, ns, fieldManager: m, force: false, cancellationToken: c)),
            V1Service => Of(await core.PatchNamespacedServiceWithHttpMessagesAsync(patch, name, ns, fieldManager: m, force: false, cancellationToken: c)),
            V1Pod => Of(await core.PatchNamespacedPodWithHttpMessagesAsync(patch, name, ns, fieldManager: m, force: false, cancellationToken: c)),
            V1Secret => Of(await core.PatchNamespacedSecretWithHttpMessagesAsync(patch, name, ns, fieldManager: m, force: false, cancellationToken: c)),
            V1PersistentVolumeClaim => Of(await core.PatchNamespacedPersistentVolumeClaimWithHttpMessagesAsync(patch, name, ns, fieldManager: m, force: false, cancellationToken: c)),
            V1Role => Of(await rbac.PatchNamespacedRoleWithHttpMessagesAsync(patch, name, ns, fieldManager: m, force: false, cancellationToken: c)),
            V1RoleBinding => Of(await rbac.PatchNamespacedRoleBindingWithHttpMessagesAsync(patch, name, ns, fieldManager: m, force: false, cancellationToken: c)),
            V1NetworkPolicy => Of(await net.PatchNamespacedNetworkPolicyWithHttpMessagesAsync(patch, name, ns, fieldManager: m, force: false, cancellationToken: c)),
            V1Job => Of(await client.BatchV1.PatchNamespacedJobWithHttpMessagesAsync(patch, name, ns, fieldManager: m, force: false, cancellationToken: c)),
            V1Deployment => Of(await client.AppsV1.PatchNamespacedDeploymentWithHttpMessagesAsync(patch, name, ns, fieldManager: m, force: false, cancellationToken: c)),
            V2HorizontalPodAutoscaler => Of(await client.AutoscalingV2.PatchNamespacedHorizontalPodAutoscalerWithHttpMessagesAsync(patch, name, ns, fieldManager: m, force: false, cancellationToken: c)),
            V1PodDisruptionBudget => Of(await client.PolicyV1.PatchNamespacedPodDisruptionBudgetWithHttpMessagesAsync(patch, name, ns, fieldManager: m, force: false, cancellationToken: c)),
            _ => throw new NotSupportedException($"Strata does not apply {desired.Kind} objects"),
        };
    }

    private static (HttpStatusCode, object) Of<T>(HttpOperationResponse<T> response)
    {
        using (response) return (response.Response.StatusCode, response.Body!);
    }

    /// <summary>The Job; null when there is none.</summary>
    public async Task<V1Job?> ReadJobAsync(string name, string ns, CancellationToken cancellationToken)
    {
        try
        {
            return await CallAsync(c => client.BatchV1.ReadNamespacedJobAsync(name, ns, cancellationToken: c), cancellationToken);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
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

    /// <summary>Deletes a pod at once (no grace period: for pods that run nothing, such as placeholders). Gone already is fine.</summary>
    public async Task DeletePodNowAsync(string name, string ns, CancellationToken cancellationToken)
    {
        try
        {
            await CallAsync(c => client.CoreV1.DeleteNamespacedPodAsync(name, ns, gracePeriodSeconds: 0, cancellationToken: c), cancellationToken);
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

    /// <summary>
    /// Sets a Deployment's replicas through its scale subresource (what an autoscaler writes; Strata's apply never
    /// names <c>spec.replicas</c>). A Deployment that is gone is fine.
    /// </summary>
    public async Task ScaleDeploymentAsync(string name, string ns, int replicas, CancellationToken cancellationToken)
    {
        var patch = new V1Patch($"{{\"spec\":{{\"replicas\":{replicas}}}}}", V1Patch.PatchType.MergePatch);
        try
        {
            await CallAsync(c => client.AppsV1.PatchNamespacedDeploymentScaleAsync(patch, name, ns, fieldManager: FieldManager, cancellationToken: c), cancellationToken);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
        }
    }

    /// <summary>Deletes a model deployment's object (background propagation: what it owns goes after it). Gone already is fine.</summary>
    public async Task DeleteModelObjectAsync(string kind, string name, string ns, CancellationToken cancellationToken)
    {
        try
        {
            await CallAsync<object>(async c => kind switch
            {
                "Deployment" => await client.AppsV1.DeleteNamespacedDeploymentAsync(name, ns, propagationPolicy: "Background", cancellationToken: c),
                "Service" => await client.CoreV1.DeleteNamespacedServiceAsync(name, ns, cancellationToken: c),
                "PodDisruptionBudget" => await client.PolicyV1.DeleteNamespacedPodDisruptionBudgetAsync(name, ns, cancellationToken: c),
                "HorizontalPodAutoscaler" => await client.AutoscalingV2.DeleteNamespacedHorizontalPodAutoscalerAsync(name, ns, cancellationToken: c),
                _ => throw new NotSupportedException($"Strata does not delete {kind} objects of deployments"),
            }, cancellationToken);
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
