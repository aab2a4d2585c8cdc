using System.Collections.Concurrent;
using System.Net.Http.Headers;
using Strata.Core.Deployments;

namespace Strata.Server.Deployments;

/// <summary>The requests in flight on each replica, which the autoscaler and draining read.</summary>
public interface IReplicaLoad
{
    int InFlight(string replicaId);
}

/// <summary>
/// Forwards a prediction to one of a deployment's ready replicas: the one with the fewest requests in
/// flight. Predictions have no side effects, so a request that could not reach a replica (it died
/// between being listed and being called) is sent to another one, and a dying replica costs no failed request.
/// </summary>
public sealed class ReplicaRouter : IReplicaLoad, IDisposable
{
    private const int MaxTries = 3;
    private readonly ConcurrentDictionary<string, StrongBox> _inFlight = new(StringComparer.Ordinal);
    private readonly HttpClient _client = new(new SocketsHttpHandler
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        MaxConnectionsPerServer = 1024,
        UseProxy = false,
    })
    { Timeout = TimeSpan.FromSeconds(100) };
    private int _next;

    private sealed class StrongBox
    {
        public int Value;
    }

    public int InFlight(string replicaId) => _inFlight.TryGetValue(replicaId, out var box) ? Volatile.Read(ref box.Value) : 0;

    /// <summary>Sends <paramref name="body"/> to a replica's <c>/predict</c> and copies its answer; false when no replica could be reached.</summary>
    public async Task<bool> ForwardAsync(IReadOnlyList<ReplicaEndpoint> replicas, ReadOnlyMemory<byte> body, string? contentType, HttpResponse response, CancellationToken cancellationToken)
    {
        var tried = new HashSet<string>(StringComparer.Ordinal);
        for (var attempt = 0; attempt < MaxTries && tried.Count < replicas.Count; attempt++)
        {
            var replica = Pick(replicas, tried);
            tried.Add(replica.Id);
            var box = _inFlight.GetOrAdd(replica.Id, _ => new StrongBox());
            Interlocked.Increment(ref box.Value);
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(replica.Address, "predict")) { Content = new ReadOnlyMemoryContent(body) };
                request.Content.Headers.ContentType = MediaTypeHeaderValue.TryParse(contentType, out var type) ? type : new MediaTypeHeaderValue("application/json");
                using var answer = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
                response.StatusCode = (int)answer.StatusCode;
                if (answer.Content.Headers.ContentType is { } answerType) response.ContentType = answerType.ToString();
                response.Headers["Strata-Model-Version"] = replica.ModelVersion.ToString(System.Globalization.CultureInfo.InvariantCulture);
                await answer.Content.CopyToAsync(response.Body, cancellationToken);
                return true;
            }
            catch (HttpRequestException) when (!response.HasStarted)
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

    private ReplicaEndpoint Pick(IReadOnlyList<ReplicaEndpoint> replicas, HashSet<string> tried)
    {
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
        return best!;
    }

    public void Dispose() => _client.Dispose();
}
