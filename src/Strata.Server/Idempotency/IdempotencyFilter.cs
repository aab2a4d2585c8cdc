using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Strata.Server.Auth;
using Strata.Server.Problems;
using Strata.Server.Storage;

namespace Strata.Server.Idempotency;

/// <summary>
/// The <c>Idempotency-Key</c> header on a route that creates something (draft-ietf-httpapi-idempotency-key-header):
/// a request without it runs as if the filter were not there; with it, a repeat of a request that created
/// something gets the first answer again and creates nothing, the same key with another request is a 422, and
/// a repeat while the first still runs is a 409. The route's endpoint records its answer with
/// <see cref="IdempotencyClaim.Record"/> in the write that creates the resource (<see cref="ClaimOf"/>).
/// </summary>
public sealed class IdempotencyFilter(IdempotencyKeys keys, Func<HttpContext, long> maxBodyBytes) : IEndpointFilter
{
    public const string HeaderName = "Idempotency-Key";
    public const int MaxKeyLength = 255;

    /// <summary>The claim of this request's key, for the endpoint to record its answer with; null without a key.</summary>
    public static IdempotencyClaim? ClaimOf(HttpContext context) => context.Features.Get<IdempotencyClaim>();

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var values = http.Request.Headers[HeaderName];
        if (values.Count == 0) return await next(context);
        if (Parse(values) is not { } key)
        {
            return Problem.Validation(HeaderName,
                $"must be one key of 1 to {MaxKeyLength} visible ASCII characters (a UUID, say), optionally quoted as in the draft's \"key\" form");
        }
        var cancellationToken = http.RequestAborted;
        using var claim = keys.Claim(http.Caller().TenantId!, key, http.Request);
        // Looked for before and after taking the hold: a repeat of an answered request is a replay, never a 409,
        // even when the first was answered between the look and the hold.
        if (await keys.FindAsync(claim.TenantId, key, cancellationToken) is { } stored)
        {
            return await AnswerRepeatAsync(http, claim, stored, cancellationToken);
        }
        if (!claim.TryHold())
        {
            // A client that retries on Retry-After (the .NET client, the Python SDK) tries again a moment later.
            http.Response.Headers.RetryAfter = "1";
            return Problem.IdempotencyKeyInFlight(key);
        }
        if (await keys.FindAsync(claim.TenantId, key, cancellationToken) is { } justStored)
        {
            return await AnswerRepeatAsync(http, claim, justStored, cancellationToken);
        }
        http.Features.Set(claim);
        object? result;
        try
        {
            result = await next(context);
        }
        catch (Exception e) when (Store.IsUniqueViolation(e))
        {
            // Another server committed this key first, so this request's row could not be: answer as the repeat it is.
            if (await keys.FindAsync(claim.TenantId, key, cancellationToken) is { } winner)
            {
                return await AnswerRepeatAsync(http, claim, winner, cancellationToken);
            }
            throw;
        }
        if (claim.Answer is { } answer && result is IStatusCodeHttpResult { StatusCode: >= 200 and < 300 })
        {
            // Committed with the resource: the first answer is the stored one, byte for byte, as every repeat's will be.
            return new StoredAnswer(answer);
        }
        // Nothing was created here; another server may have answered the same key meanwhile (its commit came first).
        if (await keys.FindAsync(claim.TenantId, key, cancellationToken) is { } other)
        {
            return await AnswerRepeatAsync(http, claim, other, cancellationToken);
        }
        return result;
    }

    /// <summary>
    /// The key's first request was answered: the same request gets that answer again, another is a 422. The
    /// whole body is read (up to the route's limit; a longer one was never accepted) to compare it.
    /// </summary>
    private async Task<IResult> AnswerRepeatAsync(HttpContext context, IdempotencyClaim claim, IdempotencyKeyRecord stored, CancellationToken cancellationToken)
    {
        var limit = maxBodyBytes(context);
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
        {
            size.MaxRequestBodySize = limit + 1;
        }
        var buffer = new byte[64 * 1024];
        long total = 0;
        try
        {
            int read;
            while ((read = await claim.Body.ReadAsync(buffer, cancellationToken)) > 0)
            {
                total += read;
                if (total > limit) return Problem.IdempotencyKeyReused(claim.Key);
            }
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return Problem.IdempotencyKeyReused(claim.Key);
        }
        catch (BadHttpRequestException e)
        {
            return Problem.Malformed($"The request body could not be read: {e.Message}");
        }
        return claim.Fingerprint() == stored.Fingerprint ? new StoredAnswer(stored) : Problem.IdempotencyKeyReused(claim.Key);
    }

    /// <summary>
    /// The key: one header value of 1 to 255 visible ASCII characters. The draft sends it as a structured-field
    /// string (<c>"abc"</c>); a plain token (<c>abc</c>, as most clients send) is the same key.
    /// </summary>
    public static string? Parse(Microsoft.Extensions.Primitives.StringValues values)
    {
        if (values.Count != 1 || values[0] is not { } value) return null;
        if (value.Length >= 2 && value[0] == '"' && value[^1] == '"')
        {
            value = value[1..^1];
            if (value.Contains('"', StringComparison.Ordinal) || value.Contains('\\', StringComparison.Ordinal)) return null;
        }
        if (value.Length is 0 or > MaxKeyLength) return null;
        foreach (var c in value)
        {
            if (c is < '!' or > '~') return null;
        }
        return value;
    }

    /// <summary>A stored answer, written as it was first written.</summary>
    private sealed class StoredAnswer(IdempotencyKeyRecord stored) : IResult, IStatusCodeHttpResult
    {
        public int? StatusCode => stored.StatusCode;

        public Task ExecuteAsync(HttpContext context)
        {
            context.Response.StatusCode = stored.StatusCode;
            if (stored.Location is not null) context.Response.Headers.Location = stored.Location;
            context.Response.ContentType = "application/json; charset=utf-8";
            return context.Response.WriteAsync(stored.ResponseJson, context.RequestAborted);
        }
    }
}
