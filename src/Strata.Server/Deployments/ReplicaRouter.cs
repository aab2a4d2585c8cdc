using System.Collections.Concurrent;
using System.Diagnostics;
using Strata.Core.Deployments;

namespace Strata.Server.Deployments;

/// <summary>A replica's answer to a prediction: what its <c>POST /predict</c> answered, whichever way it was reached.</summary>
public sealed record ReplicaAnswer(int Status, string? ContentType, byte[] Body);

/// <summary>
/// Forwards a prediction to one of a deployment's ready replicas: the one with the fewest requests in
/// flight. Predictions have no side effects, so a request that could not reach a replica (it died
/// between being listed and being called) is sent to another one, and a dying replica costs no failed request.
/// With a canary, the version is chosen first (<see cref="Split"/>), then a replica of it.
/// </summary>
public sealed class ReplicaRouter : IReplicaLoad, IDisposable
{
    private const int MaxTries = 3;
    private readonly ConcurrentDictionary<string, StrongBox> _inFlight = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<DeploymentKey, StrongCounter> _requests = new();
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(100);

    // Replicas reached over TCP (on other machines, or without a socket).
    private readonly HttpClient _client = new(new SocketsHttpHandler
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        MaxConnectionsPerServer = 1024,
        // A replica answers; it never redirects nor sets cookies: skip the handlers for those.
        AllowAutoRedirect = false,
        UseCookies = false,
        UseProxy = false,
    }) { Timeout = Timeout };

    // Replicas on this machine, over their Unix domain socket.
    private readonly ReplicaSockets _sockets = new(Timeout);
    private int _next;

    private sealed class StrongBox
    {
        public int Value;
    }

    private sealed class StrongCounter
    {
        public long Value;
    }

    /// <summary>
    /// The replicas a prediction should go to: with a canary whose replicas are ready, request n (counted
    /// per deployment) goes to the canary when floor(n × weight) steps up, so that exactly its share of any
    /// run of requests reaches it, evenly spread (smooth weighted round-robin of two); else every ready replica.
    /// </summary>
    public IReadOnlyList<ReplicaEndpoint> Split(DeploymentKey key, DeploymentObservation observed)
    {
        if (observed.Canary is not { } canary) return observed.Ready;
        var canaryReplicas = observed.Ready.Where(r => r.ModelVersion == canary.ModelVersion).ToList();
        if (canaryReplicas.Count == 0 || canaryReplicas.Count == observed.Ready.Count) return observed.Ready;
        var n = Interlocked.Increment(ref _requests.GetOrAdd(key, _ => new StrongCounter()).Value);
        var toCanary = Math.Floor(n * canary.Weight) > Math.Floor((n - 1) * canary.Weight);
        return toCanary ? canaryReplicas : [.. observed.Ready.Where(r => r.ModelVersion != canary.ModelVersion)];
    }

    public int InFlight(string replicaId) => _inFlight.TryGetValue(replicaId, out var box) ? Volatile.Read(ref box.Value) : 0;

    /// <summary>
    /// Sends <paramref name="body"/> to a replica's <c>/predict</c>, one of <paramref name="preferred"/> while
    /// any is left untried, else any of <paramref name="all"/>, and writes its answer (with the
    /// <c>Strata-Model-Version</c> that gave it) to <paramref name="response"/>; false when no replica could be reached.
    /// </summary>
    public async Task<bool> ForwardAsync(
        IReadOnlyList<ReplicaEndpoint> preferred, IReadOnlyList<ReplicaEndpoint> all, ReadOnlyMemory<byte> body, string? contentType, HttpResponse response, CancellationToken cancellationToken)
    {
        if (await SendAsync(preferred, all, body, contentType, cancellationToken) is not var (replica, answer)) return false;
        response.StatusCode = answer.Status;
        response.ContentLength = answer.Body.Length;
        if (answer.ContentType is { } answerType) response.ContentType = answerType;
        response.Headers[ModelVersionHeader] = replica.ModelVersion.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await response.Body.WriteAsync(answer.Body, cancellationToken);
        return true;
    }

    /// <summary>The answer's header naming the model version that gave it.</summary>
    public const string ModelVersionHeader = "Strata-Model-Version";

    /// <summary>
    /// Sends <paramref name="body"/> to a replica (as <see cref="ForwardAsync"/> chooses it) and returns its whole
    /// answer; a replica that cannot be reached, or that broke before it answered, is replaced by another.
    /// Null when no replica could be reached.
    /// </summary>
    public async Task<(ReplicaEndpoint Replica, ReplicaAnswer Answer)?> SendAsync(
        IReadOnlyList<ReplicaEndpoint> preferred, IReadOnlyList<ReplicaEndpoint> all, ReadOnlyMemory<byte> body, string? contentType, CancellationToken cancellationToken)
    {
        var tried = new HashSet<string>(StringComparer.Ordinal);
        for (var attempt = 0; attempt < MaxTries && tried.Count < all.Count; attempt++)
        {
            var replica = Pick(preferred, tried) ?? Pick(all, tried)!;
            tried.Add(replica.Id);
            var box = _inFlight.GetOrAdd(replica.Id, _ => new StrongBox());
            Interlocked.Increment(ref box.Value);
            try
            {
                // A replica's socket carries the body alone: a replica reads any body as JSON, whatever its type says.
                var answer = replica.Socket is { } socket
                    ? await _sockets.SendAsync(replica.Id, socket, body, cancellationToken)
                    : await SendOverHttpAsync(replica, body, contentType, cancellationToken);
                return (replica, answer);
            }
            catch (HttpRequestException)
            {
                // Not reached (refused, or the connection broke before the whole answer came): try another replica.
            }
            finally
            {
                Interlocked.Decrement(ref box.Value);
            }
        }
        return null;
    }

    private async Task<ReplicaAnswer> SendOverHttpAsync(ReplicaEndpoint replica, ReadOnlyMemory<byte> body, string? contentType, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, replica.Predict) { Content = new ReadOnlyMemoryContent(body) };
        // As the caller sent it: the replica judges it (and answers a 400 for what it cannot read).
        request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType ?? "application/json");
        // The hop is not traced (no HttpClient instrumentation) and replicas read no trace headers:
        // without a current activity, HttpClient creates none for each request.
        Activity.Current = null;
        using var answer = await _client.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
        return new ReplicaAnswer((int)answer.StatusCode, answer.Content.Headers.ContentType?.ToString(), await answer.Content.ReadAsByteArrayAsync(cancellationToken));
    }

    /// <summary>Forgets a replica that is gone.</summary>
    public void Forget(string replicaId)
    {
        _inFlight.TryRemove(replicaId, out _);
        _sockets.Forget(replicaId);
    }

    /// <summary>The untried replica with the fewest requests in flight; null when all were tried.</summary>
    private ReplicaEndpoint? Pick(IReadOnlyList<ReplicaEndpoint> replicas, HashSet<string> tried)
    {
        if (replicas.Count == 0) return null;
        // Fewest in flight; the starting point rotates so that idle replicas share the load evenly.
        var start = (int)((uint)Interlocked.Increment(ref _next) % (uint)replicas.Count);
        ReplicaEndpoint? best = null;
        var bestLoad = int.MaxValue;
        for (var i = 0; i < replicas.Count; i++)
        {
            var replica = replicas[(start + i) % replicas.Count];
            if (tried.Contains(replica.Id)) continue;
            var load = InFlight(replica.Id);
            if (load < bestLoad)
            {
                best = replica;
                bestLoad = load;
            }
        }
        return best;
    }

    public void Dispose()
    {
        _client.Dispose();
        _sockets.Dispose();
    }
}
