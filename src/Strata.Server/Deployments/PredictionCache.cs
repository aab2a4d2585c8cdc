using System.Buffers;
using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Options;
using Strata.Core.Deployments;
using Strata.Server.Observability;

namespace Strata.Server.Deployments;

/// <summary>Settings of the prediction cache (section <c>Serving:Cache</c>).</summary>
public sealed class PredictionCacheOptions
{
    public const string Section = "Serving:Cache";

    /// <summary>Caches predictions in the server's memory; implied by <see cref="Redis"/>.</summary>
    public bool Enabled { get; set; }

    /// <summary>A StackExchange.Redis configuration (<c>127.0.0.1:6379</c>): Redis as the shared second level, so that every server sees the others' answers.</summary>
    public string? Redis { get; set; }

    /// <summary>How long an answer is kept (in Redis, and at most in memory).</summary>
    /// <value>The default is 10 minutes.</value>
    [Range(1, 7 * 24 * 3600)]
    public double TtlSeconds { get; set; } = 600;

    /// <summary>How long an answer is kept in this server's memory.</summary>
    /// <value>The default is 1 minute.</value>
    [Range(1, 7 * 24 * 3600)]
    public double LocalTtlSeconds { get; set; } = 60;

    public bool IsOn => Enabled || !string.IsNullOrWhiteSpace(Redis);
}

/// <summary>
/// Answers of replicas kept by tenant (its incarnation), model, version and input (HybridCache: this server's memory, and
/// Redis when configured). A model version never changes, so an answer cannot go stale; the time to live
/// only bounds the memory. Only successful answers are kept: a 400 reaches the caller as the replica gave
/// it, and is not cached. Inputs are compared in a canonical form — keys sorted at every level, numbers
/// as their value — so that the same instance written differently is the same entry.
/// </summary>
public sealed class PredictionCache(IOptions<PredictionCacheOptions> options, IServiceProvider services, StrataMetrics metrics, ILogger<PredictionCache> logger)
{
    private readonly HybridCache? _cache = options.Value.IsOn ? services.GetRequiredService<HybridCache>() : null;

    public bool IsOn => _cache is not null;

    /// <summary>A replica's answer that is not to be kept (not a 200): handed back to the caller as it is.</summary>
    private sealed class NotCacheable(int status, string? contentType, byte[] body) : Exception
    {
        public int Status { get; } = status;
        public string? ContentType { get; } = contentType;
        public byte[] Body { get; } = body;
    }

    /// <summary>
    /// Answers from the cache, or from a replica of <paramref name="replicas"/> (which must all serve
    /// <paramref name="version"/>) when the input was not seen; false when no replica could be reached.
    /// Writes the answer with <c>Strata-Cache: hit</c> or <c>miss</c>.
    /// </summary>
    public async Task<bool> AnswerAsync(
        Auth.TenantIncarnation tenant, string modelName, int version, ReadOnlyMemory<byte> body, string? contentType,
        IReadOnlyList<ReplicaEndpoint> replicas, IReadOnlyList<ReplicaEndpoint> all, ReplicaRouter router, HttpResponse response, CancellationToken cancellationToken)
    {
        // By incarnation: a tenant created again under a deleted one's id numbers its models' versions from 1 again.
        var key = Key($"{tenant.TenantId}:{tenant.Uid}", modelName, version, body.Span);
        if (_cache is null || key is null) return await router.ForwardAsync(replicas, all, body, contentType, response, cancellationToken);
        var missed = false;
        byte[] answer;
        try
        {
            answer = await _cache.GetOrCreateAsync<byte[]>(key, async token =>
            {
                missed = true;
                // Nothing to keep when no replica answered; the caller gets a 503 (below), which is not cached.
                if (await router.SendAsync(replicas, all, body, contentType, token) is not var (_, reply)) throw new NotCacheable(0, null, []);
                return reply.Status == 200 ? reply.Body : throw new NotCacheable(reply.Status, reply.ContentType, reply.Body);
            }, cancellationToken: cancellationToken);
        }
        catch (NotCacheable refused)
        {
            Count(tenant.TenantId, hit: false);
            if (refused.Status == 0) return false;
            await WriteAsync(response, refused.Status, refused.ContentType, version, "miss", refused.Body, cancellationToken);
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException && !response.HasStarted)
        {
            // The cache itself failed (Redis unreachable, ...): predictions go on without it.
            logger.LogWarning(e, "The prediction cache failed; answering without it");
            return await router.ForwardAsync(replicas, all, body, contentType, response, cancellationToken);
        }
        Count(tenant.TenantId, hit: !missed);
        await WriteAsync(response, 200, "application/json", version, missed ? "miss" : "hit", answer, cancellationToken);
        return true;
    }

    private void Count(string tenantId, bool hit)
    {
        if (hit) metrics.PredictionCacheHit(tenantId);
        else metrics.PredictionCacheMiss(tenantId);
    }

    private static async Task WriteAsync(HttpResponse response, int status, string? contentType, int version, string cache, byte[] body, CancellationToken cancellationToken)
    {
        response.StatusCode = status;
        if (contentType is not null) response.ContentType = contentType;
        response.Headers[ReplicaRouter.ModelVersionHeader] = version.ToString(System.Globalization.CultureInfo.InvariantCulture);
        response.Headers["Strata-Cache"] = cache;
        await response.Body.WriteAsync(body, cancellationToken);
    }

    /// <summary>The entry of an input: tenant, model, version and the SHA-256 of its canonical form; null when the body is not a JSON object (not cached: the replica says what is wrong).</summary>
    internal static string? Key(string tenantId, string modelName, int version, ReadOnlySpan<byte> body)
    {
        var canonical = Canonical(body);
        if (canonical is null) return null;
        return $"predict:{tenantId}:{modelName}:{version}:{Convert.ToHexStringLower(SHA256.HashData(canonical))}";
    }

    /// <summary>The input with object keys sorted at every level and numbers written as their value; null when it is not a JSON object.</summary>
    internal static byte[]? Canonical(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            using var document = JsonDocument.ParseValue(ref reader);
            if (document.RootElement.ValueKind != JsonValueKind.Object) return null;
            var buffer = new ArrayBufferWriter<byte>(body.Length);
            using (var writer = new Utf8JsonWriter(buffer))
            {
                Write(writer, document.RootElement);
            }
            return buffer.WrittenSpan.ToArray();
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static void Write(Utf8JsonWriter writer, JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var property in element.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(property.Name);
                    Write(writer, property.Value);
                }
                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in element.EnumerateArray()) Write(writer, item);
                writer.WriteEndArray();
                break;
            case JsonValueKind.Number when element.TryGetDouble(out var number) && double.IsFinite(number):
                writer.WriteNumberValue(number);
                break;
            default:
                element.WriteTo(writer);
                break;
        }
    }
}
