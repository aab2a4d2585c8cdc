using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Strata.Kubernetes.Tests;

/// <summary>
/// An in-process Kubernetes API server on port 0 that speaks the real REST and watch protocol for the verbs
/// Strata uses: get, list, create (409 when present, 404 when the namespace is missing), replace (409 on a
/// stale resourceVersion), JSON merge patch, server-side apply (<see cref="ApplyPatchAsync"/>: <c>metadata.managedFields</c>
/// per manager, 409 Conflict on another manager's field), delete (owned objects go with their owner, as the
/// garbage collector does), a Job's immutable pod template (422 on apply), a ResourceQuota's claim count (<see cref="QuotaRefusal"/>), <c>?watch=true</c> streams of
/// <c>{"type":...,"object":...}</c> lines from a resourceVersion (410 Gone with a Status once that version
/// has been compacted away), label selectors, and pods/log. Objects are kept as JSON, as the server keeps them.
/// Tests play the cluster's controllers through its helpers (set a Job's conditions, add its pods) and inject
/// failures (<see cref="FailNext"/>: 429, 500, ...). The approach of the official client's own tests.
/// </summary>
public sealed class FakeKubernetesApi : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Lock _lock = new();
    /// <summary>Objects by "collection|namespace|name"; the collection is "&lt;group&gt;/&lt;version&gt;/&lt;plural&gt;".</summary>
    private readonly Dictionary<string, JsonObject> _objects = new(StringComparer.Ordinal);
    private readonly List<Change> _history = [];
    private readonly List<Watch> _watches = [];
    private readonly List<(string Method, string PathPart, int Status)> _failures = [];
    private readonly Dictionary<string, (DateTime Time, string Text)[]> _logs = new(StringComparer.Ordinal);
    private long _version = 100;
    /// <summary>Versions at or below this are gone from the history (etcd compaction): watching from them is 410.</summary>
    private long _compactedTo;

    private sealed record Change(long Version, string Collection, string Type, JsonObject? Old, JsonObject New);

    private sealed record Watch(string Collection, string? Namespace, string? Selector, Channel<string> Lines);

    public FakeKubernetesApi()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.Run(HandleAsync);
    }

    public string Url { get; private set; } = "";

    /// <summary>Every request as "METHOD path?query", in order.</summary>
    public List<string> Requests { get; } = [];

    public static async Task<FakeKubernetesApi> StartAsync()
    {
        var api = new FakeKubernetesApi();
        await api._app.StartAsync();
        api.Url = api._app.Urls.First();
        return api;
    }

    /// <summary>A kubeconfig file that points at this server (no authentication).</summary>
    public string WriteKubeconfig(string folder)
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, "kubeconfig");
        File.WriteAllText(path, $$"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: fake
              cluster:
                server: {{Url}}
            users:
            - name: fake
              user:
                token: fake-token
            contexts:
            - name: fake
              context:
                cluster: fake
                user: fake
            current-context: fake
            """);
        return path;
    }

    /// <summary>The next request with this method whose path contains <paramref name="pathPart"/> fails with <paramref name="status"/>.</summary>
    public void FailNext(string method, string pathPart, int status)
    {
        lock (_lock) _failures.Add((method, pathPart, status));
    }

    public int CountRequests(string method, string pathPart)
    {
        lock (_lock) return Requests.Count(r => r.StartsWith(method + " ", StringComparison.Ordinal) && r.Contains(pathPart, StringComparison.Ordinal));
    }

    /// <summary>Server-side applies (a PATCH that names its field manager) whose path contains <paramref name="pathPart"/>.</summary>
    public int CountApplies(string pathPart)
    {
        lock (_lock) return Requests.Count(r => r.StartsWith("PATCH ", StringComparison.Ordinal) && r.Contains(pathPart, StringComparison.Ordinal) && r.Contains("fieldManager=", StringComparison.Ordinal));
    }

    // ---------------------------------------------------------------- the cluster's side, for tests

    public JsonObject? Get(string collection, string? ns, string name)
    {
        lock (_lock) return _objects.TryGetValue(Key(collection, ns, name), out var o) ? (JsonObject)o.DeepClone() : null;
    }

    public List<JsonObject> List(string collection, string? ns = null)
    {
        lock (_lock)
        {
            return _objects.Where(p => p.Key.StartsWith(collection + "|", StringComparison.Ordinal) && (ns is null || Namespace(p.Value) == ns))
                .Select(p => (JsonObject)p.Value.DeepClone()).ToList();
        }
    }

    /// <summary>
    /// Creates or replaces an object as a controller or a user with kubectl would (no checks): an update by
    /// <paramref name="manager"/>, which takes over the fields it changes.
    /// </summary>
    public JsonObject Put(string collection, JsonObject item, string manager = KubectlEdit)
    {
        lock (_lock)
        {
            var key = Key(collection, Namespace(item), Name(item));
            _objects.TryGetValue(key, out var old);
            var stored = (JsonObject)item.DeepClone();
            TrackUpdate(old, stored, manager);
            Stamp(stored, old);
            _objects[key] = stored;
            Record(collection, old is null ? "ADDED" : "MODIFIED", old, stored);
            return (JsonObject)stored.DeepClone();
        }
    }

    /// <summary>Changes an object in place (a controller updating status, a user editing it with <c>kubectl edit</c>).</summary>
    public JsonObject Update(string collection, string? ns, string name, Action<JsonObject> change, string manager = KubectlEdit)
    {
        var item = Get(collection, ns, name) ?? throw new InvalidOperationException($"no {collection} {ns}/{name}");
        change(item);
        return Put(collection, item, manager);
    }

    /// <summary>Every object in the cluster, with its collection.</summary>
    public List<(string Collection, JsonObject Item)> Everything()
    {
        lock (_lock) return _objects.Select(p => (p.Key[..p.Key.IndexOf('|', StringComparison.Ordinal)], (JsonObject)p.Value.DeepClone())).ToList();
    }

    /// <summary>The field manager <c>kubectl edit</c> writes as.</summary>
    public const string KubectlEdit = "kubectl-edit";

    /// <summary>The latest resourceVersion: unchanged when nothing was written (a no-op apply writes nothing).</summary>
    public long ResourceVersion
    {
        get { lock (_lock) return _version; }
    }

    /// <summary>The field paths a manager owns on an object (<c>.spec.hard</c>, <c>.metadata.labels.tenant</c>), from its managedFields.</summary>
    public List<string> FieldsOwnedBy(string collection, string? ns, string name, string manager)
    {
        var item = Get(collection, ns, name) ?? throw new InvalidOperationException($"no {collection} {ns}/{name}");
        return ReadManagers(item).Where(m => m.Manager == manager).SelectMany(m => m.Fields).Select(Display).Order(StringComparer.Ordinal).ToList();
    }

    public bool Remove(string collection, string? ns, string name)
    {
        lock (_lock) return Delete(collection, ns, name) is not null;
    }

    /// <summary>Forgets the change history (as etcd compaction does): watches from an older version get 410 Gone.</summary>
    private void Compact()
    {
        lock (_lock)
        {
            _compactedTo = _version;
            _history.Clear();
        }
    }

    /// <summary>Ends every open watch, as an API server does when it restarts or a watch times out.</summary>
    private void CloseWatches()
    {
        lock (_lock)
        {
            foreach (var watch in _watches) watch.Lines.Writer.TryComplete();
            _watches.Clear();
        }
    }

    /// <summary>
    /// Ends every open watch, applies <paramref name="changes"/>, then compacts the history, with no watch
    /// reopening in between: a watcher that comes back finds the version it would resume from gone (410).
    /// </summary>
    public void CompactWhileWatchesAreDown(Action changes)
    {
        lock (_lock)
        {
            CloseWatches();
            changes();
            Compact();
        }
    }

    public int OpenWatches
    {
        get { lock (_lock) return _watches.Count; }
    }

    /// <summary>A pod's log; its lines were all written now (as far as <c>timestamps=true</c> tells).</summary>
    public void SetLog(string ns, string pod, string text)
    {
        var now = DateTime.UtcNow;
        SetLog(ns, pod, text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => (now, line)).ToArray());
    }

    /// <summary>A pod's log, each line with the time it was written (served with <c>timestamps=true</c>).</summary>
    public void SetLog(string ns, string pod, params (DateTime Time, string Text)[] lines)
    {
        lock (_lock) _logs[ns + "/" + pod] = lines;
    }

    /// <summary>Marks a pod taken away by the cluster, as the scheduler, the eviction API or the taint manager would.</summary>
    public void DisruptPod(string ns, string pod, string reason) =>
        Update(Pods, ns, pod, item =>
        {
            var status = (JsonObject)item["status"]!;
            status["phase"] = "Failed";
            status["conditions"] = new JsonArray(new JsonObject
            {
                ["type"] = "DisruptionTarget",
                ["status"] = "True",
                ["reason"] = reason,
                ["message"] = $"{reason}: the pod was taken away",
            });
        });

    /// <summary>Sets a Job's final condition as the Job controller would (<c>Complete</c> or <c>Failed</c>).</summary>
    public void FinishJob(string ns, string name, bool succeeded, string? reason = null, string? message = null) =>
        Update(Jobs, ns, name, job =>
        {
            var now = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
            var status = job["status"] as JsonObject ?? new JsonObject();
            status["conditions"] = new JsonArray(new JsonObject
            {
                ["type"] = succeeded ? "Complete" : "Failed",
                ["status"] = "True",
                ["reason"] = reason ?? (succeeded ? "Completed" : "BackoffLimitExceeded"),
                ["message"] = message ?? "",
                ["lastTransitionTime"] = now,
            });
            if (succeeded) status["completionTime"] = now;
            status["active"] = 0;
            job["status"] = status;
        });

    /// <summary>Marks a Job started with active pods, as the Job controller would.</summary>
    public void StartJob(string ns, string name) =>
        Update(Jobs, ns, name, job =>
        {
            job["status"] = new JsonObject
            {
                ["startTime"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
                ["active"] = 1,
            };
        });

    /// <summary>Adds a pod of a Job, carrying its template's labels, with its training container's state.</summary>
    public JsonObject AddPod(string ns, string jobName, int index, JsonObject? containerState)
    {
        var job = Get(Jobs, ns, jobName) ?? throw new InvalidOperationException($"no Job {ns}/{jobName}");
        var labels = (JsonObject)job["spec"]!["template"]!["metadata"]!["labels"]!.DeepClone();
        labels["batch.kubernetes.io/job-completion-index"] = index.ToString(CultureInfo.InvariantCulture);
        labels["job-name"] = jobName;
        var pod = new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Pod",
            ["metadata"] = new JsonObject { ["name"] = $"{jobName}-{index}-abcde", ["namespace"] = ns, ["labels"] = labels },
            ["spec"] = job["spec"]!["template"]!["spec"]!.DeepClone(),
            ["status"] = new JsonObject
            {
                ["phase"] = containerState?.ContainsKey("terminated") == true ? "Failed" : "Running",
                ["containerStatuses"] = new JsonArray(new JsonObject { ["name"] = "training", ["ready"] = false, ["restartCount"] = 0, ["image"] = "x", ["imageID"] = "", ["state"] = containerState }),
            },
        };
        return Put(Pods, pod);
    }

    /// <summary>
    /// A node as the kubelet registers it: Ready, schedulable, with its allocatable cores, memory and (when asked)
    /// <c>nvidia.com/gpu</c>, and its labels.
    /// </summary>
    public JsonObject AddNode(string name, double cpu, int memoryGi, int gpus = 0, IReadOnlyDictionary<string, string>? labels = null)
    {
        var allocatable = new JsonObject
        {
            ["cpu"] = cpu.ToString(CultureInfo.InvariantCulture),
            ["memory"] = $"{memoryGi}Gi",
            ["pods"] = "110",
        };
        if (gpus > 0) allocatable["nvidia.com/gpu"] = gpus.ToString(CultureInfo.InvariantCulture);
        return Put(Nodes, new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Node",
            ["metadata"] = new JsonObject { ["name"] = name, ["labels"] = Labels(labels) },
            ["spec"] = new JsonObject(),
            ["status"] = new JsonObject
            {
                ["allocatable"] = allocatable,
                ["capacity"] = allocatable.DeepClone(),
                ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Ready", ["status"] = "True" }),
            },
        }, manager: "kubelet");
    }

    /// <summary>Marks a node unschedulable, as <c>kubectl cordon</c> does.</summary>
    public void CordonNode(string name) => Update(Nodes, null, name, node => node["spec"]!["unschedulable"] = true, manager: "kubectl-cordon");

    /// <summary>A pod the scheduler has bound to <paramref name="node"/>, running, with one container requesting what is given.</summary>
    public JsonObject AddRunningPod(string ns, string name, string node, double cpu, int memoryGi, IReadOnlyDictionary<string, string>? labels = null)
    {
        var requests = new JsonObject { ["cpu"] = cpu.ToString(CultureInfo.InvariantCulture), ["memory"] = $"{memoryGi}Gi" };
        return Put(Pods, new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Pod",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns, ["labels"] = Labels(labels) },
            ["spec"] = new JsonObject
            {
                ["nodeName"] = node,
                ["containers"] = new JsonArray(new JsonObject
                {
                    ["name"] = "main",
                    ["image"] = "x",
                    ["resources"] = new JsonObject { ["requests"] = requests, ["limits"] = requests.DeepClone() },
                }),
            },
            ["status"] = new JsonObject { ["phase"] = "Running" },
        }, manager: "kube-scheduler");
    }

    private static JsonObject Labels(IReadOnlyDictionary<string, string>? labels) =>
        new((labels ?? new Dictionary<string, string>()).Select(l => KeyValuePair.Create(l.Key, (JsonNode?)l.Value)));

    public const string Nodes = "/v1/nodes";
    public const string Jobs = "batch/v1/jobs";
    public const string Deployments = "apps/v1/deployments";
    public const string Autoscalers = "autoscaling/v2/horizontalpodautoscalers";
    public const string DisruptionBudgets = "policy/v1/poddisruptionbudgets";
    public const string Pods = "/v1/pods";
    public const string Namespaces = "/v1/namespaces";
    public const string Services = "/v1/services";
    public const string Secrets = "/v1/secrets";
    public const string PersistentVolumeClaims = "/v1/persistentvolumeclaims";
    public const string ResourceQuotas = "/v1/resourcequotas";
    public const string Roles = "rbac.authorization.k8s.io/v1/roles";
    public const string NetworkPolicies = "networking.k8s.io/v1/networkpolicies";

    public async ValueTask DisposeAsync()
    {
        CloseWatches();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    // ---------------------------------------------------------------- the REST protocol

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var path = request.Path.Value ?? "/";
        lock (_lock)
        {
            Requests.Add($"{request.Method} {path}{request.QueryString}");
            var failure = _failures.FindIndex(f => f.Method == request.Method && path.Contains(f.PathPart, StringComparison.Ordinal));
            if (failure >= 0)
            {
                var status = _failures[failure].Status;
                _failures.RemoveAt(failure);
                if (status == 429) context.Response.Headers.RetryAfter = "0";
                context.Response.StatusCode = status;
                context.Response.ContentType = "application/json";
                // Written outside the lock below.
                context.Items["failure"] = StatusObject(status, status == 429 ? "TooManyRequests" : "InternalError", "injected failure");
            }
        }
        if (context.Items["failure"] is JsonObject injected)
        {
            await context.Response.WriteAsync(injected.ToJsonString());
            return;
        }
        if (!TryParse(path, out var route))
        {
            await WriteAsync(context, 404, StatusObject(404, "NotFound", $"the server could not find the requested resource {path}"));
            return;
        }

        var query = request.Query;
        switch (request.Method)
        {
            case "GET" when route.Sub == "log":
                await LogAsync(context, route);
                return;
            case "GET" or "PATCH" when route.Sub == "scale" && route.Collection == Deployments:
                await ScaleAsync(context, route);
                return;
            case "GET" when route.Name is null && query["watch"] == "true":
                await WatchAsync(context, route, query["resourceVersion"], query["labelSelector"], int.TryParse(query["timeoutSeconds"], out var t) ? t : 300);
                return;
            case "GET" when route.Name is null:
                await WriteAsync(context, 200, ListObject(route, query["labelSelector"]));
                return;
            case "GET":
                {
                    var item = Get(route.Collection, route.Namespace, route.Name);
                    await WriteAsync(context, item is null ? 404 : 200, item ?? NotFound(route));
                    return;
                }
            case "POST":
                await CreateAsync(context, route);
                return;
            case "PUT":
                await ReplaceAsync(context, route);
                return;
            case "PATCH":
                await PatchAsync(context, route);
                return;
            case "DELETE":
                {
                    JsonObject? deleted;
                    lock (_lock) deleted = Delete(route.Collection, route.Namespace, route.Name!);
                    // A claim (kept by its protection finalizer until unused), a pod and a Service are answered with the object, as the real server does; the rest with a Status.
                    await WriteAsync(context, deleted is null ? 404 : 200, deleted is null ? NotFound(route)
                        : route.Collection is PersistentVolumeClaims or Pods or Services ? deleted : StatusObject(200, "", "deleted", success: true));
                    return;
                }
            default:
                await WriteAsync(context, 405, StatusObject(405, "MethodNotAllowed", "method not allowed"));
                return;
        }
    }

    private async Task CreateAsync(HttpContext context, Route route)
    {
        var item = (await JsonNode.ParseAsync(context.Request.Body))!.AsObject();
        var metadata = item["metadata"] as JsonObject ?? new JsonObject();
        item["metadata"] = metadata;
        if (route.Namespace is not null) metadata["namespace"] = route.Namespace;
        var name = metadata["name"]?.GetValue<string>();
        int status;
        JsonObject body;
        lock (_lock)
        {
            if (string.IsNullOrEmpty(name))
            {
                (status, body) = (422, StatusObject(422, "Invalid", "metadata.name: Required value"));
            }
            else if (route.Namespace is not null && !_objects.ContainsKey(Key(Namespaces, null, route.Namespace)))
            {
                (status, body) = (404, StatusObject(404, "NotFound", $"namespaces \"{route.Namespace}\" not found"));
            }
            else if (_objects.ContainsKey(Key(route.Collection, route.Namespace, name)))
            {
                (status, body) = (409, StatusObject(409, "AlreadyExists", $"{route.Plural} \"{name}\" already exists"));
            }
            else if (QuotaRefusal(route, name) is { } refusal)
            {
                (status, body) = (403, refusal);
            }
            else
            {
                TrackUpdate(null, item, FieldManagerOf(context));
                Default(route.Collection, item);
                Stamp(item, null);
                _objects[Key(route.Collection, route.Namespace, name)] = item;
                Record(route.Collection, "ADDED", null, item);
                (status, body) = (201, (JsonObject)item.DeepClone());
            }
        }
        await WriteAsync(context, status, body);
    }

    private async Task ReplaceAsync(HttpContext context, Route route)
    {
        var item = (await JsonNode.ParseAsync(context.Request.Body))!.AsObject();
        int status;
        JsonObject body;
        lock (_lock)
        {
            var key = Key(route.Collection, route.Namespace, route.Name!);
            if (!_objects.TryGetValue(key, out var old))
            {
                (status, body) = (404, NotFound(route));
            }
            else if (item["metadata"]?["resourceVersion"]?.GetValue<string>() is { } version && version != old["metadata"]!["resourceVersion"]!.GetValue<string>())
            {
                (status, body) = (409, StatusObject(409, "Conflict", "the object has been modified; please apply your changes to the latest version and try again"));
            }
            else
            {
                item["status"] = old["status"]?.DeepClone();
                TrackUpdate(old, item, FieldManagerOf(context));
                Stamp(item, old);
                _objects[key] = item;
                Record(route.Collection, "MODIFIED", old, item);
                (status, body) = (200, (JsonObject)item.DeepClone());
            }
        }
        await WriteAsync(context, status, body);
    }

    /// <summary>
    /// What the API server fills in on a create: a Deployment's <c>spec.replicas</c> (1), and a Service's cluster IP,
    /// allocated here from 127.0.0.0/8 so that a test can play the Service (a real replica listening on that address).
    /// Owned by no manager, as the real server's defaults are.
    /// </summary>
    private void Default(string collection, JsonObject item)
    {
        if (item["spec"] is not JsonObject spec) return;
        if (collection == Deployments && spec["replicas"] is null) spec["replicas"] = 1;
        if (collection == Services && spec["clusterIP"] is null) spec["clusterIP"] = $"127.0.{++_serviceAddresses / 250}.{_serviceAddresses % 250 + 2}";
    }

    private int _serviceAddresses;

    /// <summary>
    /// A Deployment's scale subresource (autoscaling/v1 Scale): GET, and a merge patch of <c>spec.replicas</c>, which
    /// the patching manager then owns (an Update, as an HPA's write is).
    /// </summary>
    private async Task ScaleAsync(HttpContext context, Route route)
    {
        var patch = context.Request.Method == "PATCH" ? (await JsonNode.ParseAsync(context.Request.Body))!.AsObject() : null;
        int status;
        JsonObject body;
        lock (_lock)
        {
            var key = Key(Deployments, route.Namespace, route.Name!);
            if (!_objects.TryGetValue(key, out var old))
            {
                (status, body) = (404, NotFound(route));
            }
            else
            {
                var item = old;
                if (patch?["spec"]?["replicas"] is { } replicas)
                {
                    item = (JsonObject)old.DeepClone();
                    item["spec"]!["replicas"] = replicas.DeepClone();
                    TrackUpdate(old, item, FieldManagerOf(context));
                    Stamp(item, old);
                    _objects[key] = item;
                    Record(Deployments, "MODIFIED", old, item);
                }
                (status, body) = (200, new JsonObject
                {
                    ["apiVersion"] = "autoscaling/v1",
                    ["kind"] = "Scale",
                    ["metadata"] = new JsonObject
                    {
                        ["name"] = route.Name,
                        ["namespace"] = route.Namespace,
                        ["resourceVersion"] = item["metadata"]!["resourceVersion"]!.DeepClone(),
                        ["uid"] = item["metadata"]!["uid"]!.DeepClone(),
                    },
                    ["spec"] = new JsonObject { ["replicas"] = item["spec"]!["replicas"]!.DeepClone() },
                    ["status"] = new JsonObject { ["replicas"] = item["status"]?["replicas"]?.DeepClone() ?? 0 },
                });
            }
        }
        await WriteAsync(context, status, body);
    }

    private async Task PatchAsync(HttpContext context, Route route)
    {
        if (context.Request.ContentType?.StartsWith("application/apply-patch+yaml", StringComparison.Ordinal) == true)
        {
            await ApplyPatchAsync(context, route);
            return;
        }
        if (context.Request.ContentType?.StartsWith("application/merge-patch+json", StringComparison.Ordinal) != true)
        {
            await WriteAsync(context, 415, StatusObject(415, "UnsupportedMediaType", "only merge patches and server-side apply are served here"));
            return;
        }
        var patch = (await JsonNode.ParseAsync(context.Request.Body))!.AsObject();
        int status;
        JsonObject body;
        lock (_lock)
        {
            var key = Key(route.Collection, route.Namespace, route.Name!);
            if (!_objects.TryGetValue(key, out var old))
            {
                (status, body) = (404, NotFound(route));
            }
            else
            {
                var item = (JsonObject)old.DeepClone();
                MergePatch(item, patch);
                TrackUpdate(old, item, FieldManagerOf(context));
                Stamp(item, old);
                _objects[key] = item;
                Record(route.Collection, "MODIFIED", old, item);
                (status, body) = (200, (JsonObject)item.DeepClone());
            }
        }
        await WriteAsync(context, status, body);
    }

    /// <summary>
    /// Server-side apply (<c>PATCH application/apply-patch+yaml</c>, <c>?fieldManager=</c>, <c>?force=</c>). A
    /// simplified but faithful model of field ownership: a field is a path of at most two levels below the top
    /// (<c>.spec.hard</c>, <c>.spec.template</c>, <c>.data.token</c>, <c>.rules</c>) or one label, annotation
    /// (<c>.metadata.labels.tenant</c>) or the owner references, compared as a whole; the real server tracks every
    /// leaf and list item. Otherwise as the real one: a missing object is created (201) and the applier owns what it
    /// sent; changing a field another manager owns is a 409 Conflict naming the manager and the field (unless
    /// forced, which takes the field over); an equal value is shared; a field the applier owned and no longer sends
    /// is removed unless another manager owns it too; an apply that changes nothing writes nothing (no new
    /// resourceVersion, no watch event). Updates (create, replace, merge patch, <see cref="Put"/>) take over the
    /// fields they change and drop the ones they remove from every manager.
    /// </summary>
    private async Task ApplyPatchAsync(HttpContext context, Route route)
    {
        // The client sends JSON, which is YAML; this fake reads JSON only.
        var applied = (await JsonNode.ParseAsync(context.Request.Body))!.AsObject();
        var manager = context.Request.Query["fieldManager"].ToString();
        var force = context.Request.Query["force"] == "true";
        int status;
        JsonObject body;
        lock (_lock)
        {
            var key = Key(route.Collection, route.Namespace, route.Name!);
            var metadata = applied["metadata"] as JsonObject ?? new JsonObject();
            applied["metadata"] = metadata;
            if (route.Namespace is not null) metadata["namespace"] = route.Namespace;
            metadata.Remove("managedFields");
            var appliedFields = FieldsOf(applied);
            if (manager.Length == 0)
            {
                (status, body) = (400, StatusObject(400, "BadRequest", "PATCH requests with apply content type require fieldManager"));
            }
            else if (metadata["name"]?.GetValue<string>() != route.Name)
            {
                (status, body) = (400, StatusObject(400, "BadRequest", "the name of the object does not match the name on the URL"));
            }
            else if (route.Namespace is not null && !_objects.ContainsKey(Key(Namespaces, null, route.Namespace)))
            {
                (status, body) = (404, StatusObject(404, "NotFound", $"namespaces \"{route.Namespace}\" not found"));
            }
            else if (!_objects.ContainsKey(key) && QuotaRefusal(route, route.Name!) is { } refusal)
            {
                (status, body) = (403, refusal);
            }
            else if (!_objects.TryGetValue(key, out var old))
            {
                WriteManagers(applied, [new ManagedEntry(manager, "Apply", appliedFields.Keys.ToHashSet(StringComparer.Ordinal))]);
                Default(route.Collection, applied);
                Stamp(applied, null);
                _objects[key] = applied;
                Record(route.Collection, "ADDED", null, applied);
                (status, body) = (201, (JsonObject)applied.DeepClone());
            }
            else
            {
                (status, body) = ApplyTo(route.Collection, key, old, applied, appliedFields, manager, force);
            }
        }
        await WriteAsync(context, status, body);
    }

    private (int, JsonObject) ApplyTo(string collection, string key, JsonObject old, JsonObject applied, Dictionary<string, JsonNode?> appliedFields, string manager, bool force)
    {
        var current = FieldsOf(old);
        var managers = ReadManagers(old);
        bool IsMine(ManagedEntry m) => m.Manager == manager && m.Operation == "Apply";
        var conflicts = new List<(string Manager, string Field)>();
        foreach (var (field, value) in appliedFields)
        {
            if (!current.TryGetValue(field, out var now) || JsonNode.DeepEquals(now, value)) continue;
            conflicts.AddRange(managers.Where(m => !IsMine(m) && m.Fields.Contains(field)).Select(m => (m.Manager, field)));
        }
        if (conflicts.Count > 0 && !force)
        {
            var list = string.Join(", ", conflicts.Select(c => $"conflict with \"{c.Manager}\": {Display(c.Field)}"));
            return (409, StatusObject(409, "Conflict", $"Apply failed with {conflicts.Count} conflict{(conflicts.Count == 1 ? "" : "s")}: {list}"));
        }

        var item = (JsonObject)old.DeepClone();
        var mine = managers.FirstOrDefault(IsMine);
        foreach (var field in mine?.Fields.Except(appliedFields.Keys) ?? [])
        {
            if (!managers.Any(m => !IsMine(m) && m.Fields.Contains(field))) RemoveField(item, field);
        }
        foreach (var (field, value) in appliedFields) SetField(item, field, value);
        if (force)
        {
            foreach (var (owner, field) in conflicts) managers.First(m => m.Manager == owner && m.Fields.Contains(field)).Fields.Remove(field);
        }
        managers.RemoveAll(IsMine);
        managers.Add(new ManagedEntry(manager, "Apply", appliedFields.Keys.ToHashSet(StringComparer.Ordinal)));
        WriteManagers(item, managers.Where(m => m.Fields.Count > 0).ToList());

        var before = (JsonObject)old.DeepClone();
        before["metadata"]!.AsObject().Remove("managedFields");
        var after = (JsonObject)item.DeepClone();
        after["metadata"]!.AsObject().Remove("managedFields");
        if (JsonNode.DeepEquals(before, after) && mine is not null && mine.Fields.SetEquals(appliedFields.Keys)) return (200, (JsonObject)old.DeepClone());
        if (collection == Jobs && !JsonNode.DeepEquals(old["spec"]?["template"], item["spec"]?["template"]))
        {
            return (422, StatusObject(422, "Invalid", $"Job.batch \"{Name(old)}\" is invalid: spec.template: Invalid value: field is immutable"));
        }

        Stamp(item, old);
        _objects[key] = item;
        Record(collection, "MODIFIED", old, item);
        return (200, (JsonObject)item.DeepClone());
    }

    /// <summary>
    /// The namespace's ResourceQuota, as the quota admission plugin enforces it on a create; this fake enforces
    /// its <c>persistentvolumeclaims</c> count only. Null when the new object fits.
    /// </summary>
    private JsonObject? QuotaRefusal(Route route, string name)
    {
        const string resource = "persistentvolumeclaims";
        if (route.Collection != PersistentVolumeClaims) return null;
        foreach (var quota in _objects.Where(p => p.Key.StartsWith(ResourceQuotas + "|" + route.Namespace + "|", StringComparison.Ordinal)).Select(p => p.Value))
        {
            if (quota["spec"]?["hard"]?[resource]?.GetValue<string>() is not { } hard) continue;
            var used = _objects.Keys.Count(k => k.StartsWith(PersistentVolumeClaims + "|" + route.Namespace + "|", StringComparison.Ordinal));
            // A quantity: "1k" is a thousand.
            if (used + 1 <= new k8s.Models.ResourceQuantity(hard).ToInt64()) continue;
            return StatusObject(403, "Forbidden",
                $"{resource} \"{name}\" is forbidden: exceeded quota: {Name(quota)}, requested: {resource}=1, used: {resource}={used}, limited: {resource}={hard}");
        }
        return null;
    }

    private sealed record ManagedEntry(string Manager, string Operation, HashSet<string> Fields);

    /// <summary>Separates a field path's parts (label keys hold dots and slashes).</summary>
    private const char PathSeparator = '\u001f';

    /// <summary>The fields of an object as this fake tracks them (see <see cref="ApplyPatchAsync"/>), with their values.</summary>
    private static Dictionary<string, JsonNode?> FieldsOf(JsonObject item)
    {
        var fields = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (var (top, value) in item)
        {
            if (top is "apiVersion" or "kind" or "status") continue;
            if (top == "metadata")
            {
                foreach (var map in (string[])["labels", "annotations"])
                {
                    if (value?[map] is not JsonObject entries) continue;
                    foreach (var (k, v) in entries) fields[string.Join(PathSeparator, "metadata", map, k)] = v;
                }
                if (value?["ownerReferences"] is { } owners) fields["metadata" + PathSeparator + "ownerReferences"] = owners;
                continue;
            }
            if (value is JsonObject inner)
            {
                foreach (var (k, v) in inner) fields[top + PathSeparator + k] = v;
            }
            else
            {
                fields[top] = value;
            }
        }
        return fields;
    }

    private static void SetField(JsonObject item, string field, JsonNode? value)
    {
        var parts = field.Split(PathSeparator);
        var parent = item;
        foreach (var part in parts[..^1])
        {
            if (parent[part] is not JsonObject next)
            {
                next = new JsonObject();
                parent[part] = next;
            }
            parent = next;
        }
        parent[parts[^1]] = value?.DeepClone();
    }

    private static void RemoveField(JsonObject item, string field)
    {
        var parts = field.Split(PathSeparator);
        JsonNode? parent = item;
        foreach (var part in parts[..^1]) parent = parent?[part];
        (parent as JsonObject)?.Remove(parts[^1]);
    }

    /// <summary>A field as the real server names it in a conflict: <c>.spec.hard</c>, <c>.metadata.labels.tenant</c>.</summary>
    private static string Display(string field) => "." + field.Replace(PathSeparator, '.');

    /// <summary>An update (not an apply) by <paramref name="manager"/>: it owns what it changed; what it removed, nobody does.</summary>
    private static void TrackUpdate(JsonObject? old, JsonObject item, string manager)
    {
        var before = old is null ? [] : FieldsOf(old);
        var after = FieldsOf(item);
        var managers = old is null ? [] : ReadManagers(old);
        var changed = after.Where(f => !before.TryGetValue(f.Key, out var v) || !JsonNode.DeepEquals(v, f.Value)).Select(f => f.Key).ToHashSet(StringComparer.Ordinal);
        var removed = before.Keys.Where(f => !after.ContainsKey(f)).ToList();
        foreach (var entry in managers)
        {
            entry.Fields.ExceptWith(removed);
            entry.Fields.ExceptWith(changed);
        }
        if (changed.Count > 0)
        {
            var mine = managers.FirstOrDefault(m => m.Manager == manager && m.Operation == "Update");
            if (mine is null) managers.Add(new ManagedEntry(manager, "Update", changed));
            else mine.Fields.UnionWith(changed);
        }
        WriteManagers(item, managers.Where(m => m.Fields.Count > 0).ToList());
    }

    /// <summary>managedFields in the real shape: <c>fieldsV1</c> as nested <c>f:</c> keys, each field's end an empty object.</summary>
    private static void WriteManagers(JsonObject item, List<ManagedEntry> managers)
    {
        var metadata = item["metadata"] as JsonObject ?? new JsonObject();
        item["metadata"] = metadata;
        var entries = new JsonArray();
        foreach (var entry in managers)
        {
            var fields = new JsonObject();
            foreach (var field in entry.Fields.Order(StringComparer.Ordinal))
            {
                var node = fields;
                foreach (var part in field.Split(PathSeparator))
                {
                    if (node["f:" + part] is not JsonObject next)
                    {
                        next = new JsonObject();
                        node["f:" + part] = next;
                    }
                    node = next;
                }
            }
            entries.Add(new JsonObject
            {
                ["manager"] = entry.Manager,
                ["operation"] = entry.Operation,
                ["apiVersion"] = item["apiVersion"]?.DeepClone(),
                ["time"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
                ["fieldsType"] = "FieldsV1",
                ["fieldsV1"] = fields,
            });
        }
        metadata["managedFields"] = entries;
    }

    private static List<ManagedEntry> ReadManagers(JsonObject item)
    {
        var managers = new List<ManagedEntry>();
        if (item["metadata"]?["managedFields"] is not JsonArray entries) return managers;
        foreach (var entry in entries.OfType<JsonObject>())
        {
            var fields = new HashSet<string>(StringComparer.Ordinal);
            void Walk(JsonObject node, string prefix)
            {
                foreach (var (key, child) in node)
                {
                    var path = prefix.Length == 0 ? key[2..] : prefix + PathSeparator + key[2..];
                    if (child is JsonObject inner && inner.Count > 0) Walk(inner, path);
                    else fields.Add(path);
                }
            }
            if (entry["fieldsV1"] is JsonObject root) Walk(root, "");
            managers.Add(new ManagedEntry(entry["manager"]!.GetValue<string>(), entry["operation"]!.GetValue<string>(), fields));
        }
        return managers;
    }

    /// <summary>The manager of a write: <c>?fieldManager=</c>, else what the real server derives from a client that names none.</summary>
    private static string FieldManagerOf(HttpContext context) =>
        context.Request.Query["fieldManager"] is { Count: > 0 } named ? named.ToString() : "unknown";

    /// <summary>Deletes an object (a namespace with everything in it); returns it, or null when there was none.</summary>
    private JsonObject? Delete(string collection, string? ns, string name)
    {
        var key = Key(collection, ns, name);
        if (!_objects.Remove(key, out var old)) return null;
        Record(collection, "DELETED", old, old);
        if (collection == Namespaces)
        {
            foreach (var inside in _objects.Where(p => Namespace(p.Value) == name).ToList())
            {
                _objects.Remove(inside.Key);
                Record(inside.Key[..inside.Key.IndexOf('|', StringComparison.Ordinal)], "DELETED", inside.Value, inside.Value);
            }
        }
        // Owned objects (a Job's Secret, Service and policy; theirs in turn) go with their owner, as the garbage collector would.
        var uid = old["metadata"]?["uid"]?.GetValue<string>();
        foreach (var owned in _objects.Where(p => p.Value["metadata"]?["ownerReferences"] is JsonArray owners && owners.Any(o => o?["uid"]?.GetValue<string>() == uid)).ToList())
        {
            Delete(owned.Key[..owned.Key.IndexOf('|', StringComparison.Ordinal)], Namespace(owned.Value), Name(owned.Value));
        }
        return old;
    }

    private JsonObject ListObject(Route route, string? selector)
    {
        lock (_lock)
        {
            var items = _objects.Where(p => p.Key.StartsWith(route.Collection + "|", StringComparison.Ordinal)
                                            && (route.Namespace is null || Namespace(p.Value) == route.Namespace)
                                            && Matches(p.Value, selector))
                .Select(p => p.Value.DeepClone()).ToArray();
            return new JsonObject
            {
                ["apiVersion"] = route.Group.Length == 0 ? route.Version : $"{route.Group}/{route.Version}",
                ["kind"] = "List",
                ["metadata"] = new JsonObject { ["resourceVersion"] = _version.ToString(CultureInfo.InvariantCulture) },
                ["items"] = new JsonArray(items),
            };
        }
    }

    private async Task WatchAsync(HttpContext context, Route route, string? fromVersion, string? selector, int timeoutSeconds)
    {
        var response = context.Response;
        response.StatusCode = 200;
        response.ContentType = "application/json";
        var watch = new Watch(route.Collection, route.Namespace, selector, Channel.CreateUnbounded<string>());
        lock (_lock)
        {
            var from = long.TryParse(fromVersion, out var v) ? v : _version;
            if (from < _compactedTo)
            {
                watch.Lines.Writer.TryWrite(Line("ERROR", StatusObject(410, "Expired", $"too old resource version: {from} ({_compactedTo})")));
                watch.Lines.Writer.TryComplete();
            }
            else
            {
                foreach (var change in _history.Where(c => c.Version > from)) Send(watch, change);
                _watches.Add(watch);
            }
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        timeout.CancelAfter(TimeSpan.FromSeconds(timeoutSeconds));
        try
        {
            await response.StartAsync(timeout.Token);
            await foreach (var line in watch.Lines.Reader.ReadAllAsync(timeout.Token))
            {
                await response.WriteAsync(line + "\n", timeout.Token);
                await response.Body.FlushAsync(timeout.Token);
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            lock (_lock) _watches.Remove(watch);
        }
    }

    private async Task LogAsync(HttpContext context, Route route)
    {
        (DateTime Time, string Text)[]? written;
        bool exists;
        lock (_lock)
        {
            exists = _objects.ContainsKey(Key(Pods, route.Namespace, route.Name!));
            _logs.TryGetValue(route.Namespace + "/" + route.Name, out written);
        }
        if (!exists)
        {
            await WriteAsync(context, 404, NotFound(route));
            return;
        }
        written ??= [];
        if (int.TryParse(context.Request.Query["tailLines"], out var tail)) written = written[Math.Max(0, written.Length - tail)..];
        // Go's RFC 3339 with nanoseconds, as the kubelet writes them.
        var lines = context.Request.Query["timestamps"] == "true"
            ? written.Select(l => l.Time.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff", CultureInfo.InvariantCulture) + "00Z " + l.Text).ToArray()
            : written.Select(l => l.Text).ToArray();
        context.Response.ContentType = "text/plain";
        await context.Response.WriteAsync(string.Concat(lines.Select(l => l + "\n")));
    }

    /// <summary>Records a change and sends it to the watches it concerns, as ADDED, MODIFIED or DELETED for each one's selector.</summary>
    private void Record(string collection, string type, JsonObject? old, JsonObject current)
    {
        var change = new Change(type == "DELETED" ? ++_version : Version(current), collection, type, old, (JsonObject)current.DeepClone());
        _history.Add(change);
        foreach (var watch in _watches) Send(watch, change);
    }

    private static void Send(Watch watch, Change change)
    {
        if (watch.Collection != change.Collection) return;
        if (watch.Namespace is not null && Namespace(change.New) != watch.Namespace) return;
        var wasIn = change.Old is not null && Matches(change.Old, watch.Selector);
        var isIn = Matches(change.New, watch.Selector);
        var type = change.Type switch
        {
            "DELETED" => wasIn ? "DELETED" : null,
            _ when wasIn && isIn => "MODIFIED",
            _ when isIn => "ADDED",
            _ when wasIn => "DELETED",
            _ => null,
        };
        if (type is null) return;
        var item = (JsonObject)change.New.DeepClone();
        item["metadata"]!["resourceVersion"] = change.Version.ToString(CultureInfo.InvariantCulture);
        watch.Lines.Writer.TryWrite(Line(type, item));
    }

    private static string Line(string type, JsonObject item) => new JsonObject { ["type"] = type, ["object"] = item }.ToJsonString();

    private void Stamp(JsonObject item, JsonObject? old)
    {
        var metadata = item["metadata"] as JsonObject ?? new JsonObject();
        item["metadata"] = metadata;
        metadata["resourceVersion"] = (++_version).ToString(CultureInfo.InvariantCulture);
        metadata["uid"] = old?["metadata"]?["uid"]?.DeepClone() ?? metadata["uid"]?.DeepClone() ?? Guid.NewGuid().ToString();
        metadata["creationTimestamp"] = old?["metadata"]?["creationTimestamp"]?.DeepClone()
            ?? DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
    }

    /// <summary>Supports <c>k=v</c>, <c>k!=v</c>, <c>k</c> and <c>!k</c>, comma-separated (all must hold).</summary>
    private static bool Matches(JsonObject item, string? selector)
    {
        if (string.IsNullOrEmpty(selector)) return true;
        var labels = item["metadata"]?["labels"] as JsonObject;
        string? Label(string key) => labels?[key]?.GetValue<string>();
        foreach (var term in selector.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            bool holds;
            if (term.StartsWith('!')) holds = Label(term[1..]) is null;
            else if (term.Contains("!=", StringComparison.Ordinal)) holds = Label(term[..term.IndexOf("!=", StringComparison.Ordinal)]) != term[(term.IndexOf("!=", StringComparison.Ordinal) + 2)..];
            else if (term.Contains('=')) holds = Label(term[..term.IndexOf('=')]) == term[(term.IndexOf('=') + 1)..].TrimStart('=');
            else holds = Label(term) is not null;
            if (!holds) return false;
        }
        return true;
    }

    private static void MergePatch(JsonObject target, JsonObject patch)
    {
        foreach (var (key, value) in patch)
        {
            if (value is null) target.Remove(key);
            else if (value is JsonObject child && target[key] is JsonObject existing) MergePatch(existing, child);
            else target[key] = value.DeepClone();
        }
    }

    private static long Version(JsonObject item) => long.Parse(item["metadata"]!["resourceVersion"]!.GetValue<string>(), CultureInfo.InvariantCulture);

    private static string? Namespace(JsonObject item) => item["metadata"]?["namespace"]?.GetValue<string>();

    private static string Name(JsonObject item) => item["metadata"]!["name"]!.GetValue<string>();

    private static string Key(string collection, string? ns, string name) => $"{collection}|{ns}|{name}";

    private static JsonObject NotFound(Route route) => StatusObject(404, "NotFound", $"{route.Plural} \"{route.Name}\" not found");

    private static JsonObject StatusObject(int code, string reason, string message, bool success = false) => new()
    {
        ["kind"] = "Status",
        ["apiVersion"] = "v1",
        ["metadata"] = new JsonObject(),
        ["status"] = success ? "Success" : "Failure",
        ["message"] = message,
        ["reason"] = reason,
        ["code"] = code,
    };

    private static async Task WriteAsync(HttpContext context, int status, JsonObject body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body.ToJsonString(), Encoding.UTF8);
    }

    private sealed record Route(string Group, string Version, string Plural, string? Namespace, string? Name, string? Sub)
    {
        public string Collection => $"{Group}/{Version}/{Plural}";
    }

    /// <summary>/api/v1/... and /apis/&lt;group&gt;/&lt;version&gt;/...: namespaced, cluster-scoped and all-namespaces paths.</summary>
    private static bool TryParse(string path, out Route route)
    {
        route = null!;
        var parts = path.Trim('/').Split('/');
        string group, version;
        string[] rest;
        if (parts.Length >= 3 && parts[0] == "api") (group, version, rest) = ("", parts[1], parts[2..]);
        else if (parts.Length >= 4 && parts[0] == "apis") (group, version, rest) = (parts[1], parts[2], parts[3..]);
        else return false;
        if (rest[0] == "namespaces" && rest.Length >= 3)
        {
            route = new Route(group, version, rest[2], rest[1], rest.Length > 3 ? rest[3] : null, rest.Length > 4 ? rest[4] : null);
        }
        else
        {
            route = new Route(group, version, rest[0], null, rest.Length > 1 ? rest[1] : null, null);
        }
        return true;
    }
}
