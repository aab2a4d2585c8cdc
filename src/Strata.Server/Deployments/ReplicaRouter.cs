using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using Strata.Core.Deployments;

namespace Strata.Server.Deployments;

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
    /// <summary>The request option naming the socket a connection to the request's replica is opened on (<see cref="ReplicaEndpoint.Socket"/>).</summary>
    private static readonly HttpRequestOptionsKey<string> SocketOption = new("Strata.ReplicaSocket");

    // Replicas reached over TCP (on other machines, or without a socket).
    private readonly HttpClient _client = new(Handler()) { Timeout = TimeSpan.FromSeconds(100) };

    // Replicas on this machine, over their Unix domain socket. Connections are pooled by the request's address,
    // which is the replica's TCP one: each replica has its own pool, opened on its own socket.
    private readonly HttpClient _socketClient = new(Handler(ConnectToSocketAsync)) { Timeout = TimeSpan.FromSeconds(100) };
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
    /// any is left untried, else any of <paramref name="all"/>, and copies its answer (with the
    /// <c>Strata-Model-Version</c> that gave it) to <paramref name="response"/>; false when no replica could be reached.
    /// </summary>
    public Task<bool> ForwardAsync(
        IReadOnlyList<ReplicaEndpoint> preferred, IReadOnlyList<ReplicaEndpoint> all, ReadOnlyMemory<byte> body, string? contentType, HttpResponse response, CancellationToken cancellationToken) =>
        SendAsync(preferred, all, body, contentType, async (replica, answer) =>
        {
            response.StatusCode = (int)answer.StatusCode;
            response.ContentLength = answer.Content.Headers.ContentLength;
            if (answer.Content.Headers.ContentType is { } answerType) response.ContentType = answerType.ToString();
            response.Headers[ModelVersionHeader] = replica.ModelVersion.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await answer.Content.CopyToAsync(response.Body, cancellationToken);
        }, () => response.HasStarted, cancellationToken);

    /// <summary>The answer's header naming the model version that gave it.</summary>
    public const string ModelVersionHeader = "Strata-Model-Version";

    /// <summary>
    /// Sends <paramref name="body"/> to a replica (as <see cref="ForwardAsync"/> chooses it) and hands the
    /// answer to <paramref name="onAnswer"/>; a replica that cannot be reached is replaced by another while
    /// <paramref name="hasAnswered"/> is false. False when no replica could be reached.
    /// </summary>
    public async Task<bool> SendAsync(
        IReadOnlyList<ReplicaEndpoint> preferred, IReadOnlyList<ReplicaEndpoint> all, ReadOnlyMemory<byte> body, string? contentType,
        Func<ReplicaEndpoint, HttpResponseMessage, Task> onAnswer, Func<bool> hasAnswered, CancellationToken cancellationToken)
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
                using var request = new HttpRequestMessage(HttpMethod.Post, replica.Predict) { Content = new ReadOnlyMemoryContent(body) };
                if (replica.Socket is { } socket) request.Options.Set(SocketOption, socket);
                // As the caller sent it: the replica judges it (and answers a 400 for what it cannot read).
                request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType ?? "application/json");
                // The hop is not traced (no HttpClient instrumentation) and replicas read no trace headers:
                // without a current activity, HttpClient creates none for each request.
                Activity.Current = null;
                var client = replica.Socket is null ? _client : _socketClient;
                using var answer = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
                await onAnswer(replica, answer);
                return true;
            }
            catch (HttpRequestException) when (!hasAnswered())
            {
                // Not reached (refused or reset before an answer): try another replica.
            }
            finally
            {
                Interlocked.Decrement(ref box.Value);
            }
        }
        return false;
    }

    /// <summary>Forgets a replica that is gone.</summary>
    public void Forget(string replicaId) => _inFlight.TryRemove(replicaId, out _);

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

    private static SocketsHttpHandler Handler(Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>>? connect = null) => new()
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        MaxConnectionsPerServer = 1024,
        // A replica answers; it never redirects nor sets cookies: skip the handlers for those.
        AllowAutoRedirect = false,
        UseCookies = false,
        UseProxy = false,
        ConnectCallback = connect,
    };

    /// <summary>
    /// Opens a connection on the socket the request names. A replica that is gone refuses it (or its file is
    /// missing): that is an <see cref="HttpRequestException"/> like a refused TCP connection, and another replica is tried.
    /// </summary>
    private static async ValueTask<Stream> ConnectToSocketAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var path = context.InitialRequestMessage.Options.TryGetValue(SocketOption, out var value) ? value
            : throw new InvalidOperationException("A request to a replica's socket must name it.");
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        _client.Dispose();
        _socketClient.Dispose();
    }
}
