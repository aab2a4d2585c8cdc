using System.Net;
using Microsoft.Extensions.Http.Resilience;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Strata.Client;

/// <summary>
/// The client's resilience pipeline, outermost first: the call's deadline, the retries, one attempt's
/// timeout. What is retried: a connection error, an attempt that timed out, 502, 503 and 504, and a 429 or
/// 409 that says <c>Retry-After</c> (a quota's 429 says none: waiting does not free quota; an idempotency key's
/// 409 while its first request runs says one). Only a request that
/// may be sent twice is retried (<see cref="MayRepeat"/>). The wait before a retry is the server's
/// <c>Retry-After</c>, else full jitter over an exponential backoff; a retry whose wait would end past the
/// deadline is not made.
/// </summary>
internal static class RequestRetries
{
    /// <summary>Whether this call's request may be sent again.</summary>
    public static readonly ResiliencePropertyKey<bool> Repeatable = new("strata.repeatable");

    private static readonly ResiliencePropertyKey<DateTimeOffset> Started = new("strata.started");
    private static readonly ResiliencePropertyKey<TimeSpan> NextDelay = new("strata.next-delay");

    public const string IdempotencyKeyHeader = "Idempotency-Key";

    /// <summary>
    /// GET, HEAD, PUT and DELETE are idempotent (RFC 9110); a POST only when it carries an idempotency key,
    /// with which the server answers a repeat with the first answer and creates nothing.
    /// </summary>
    public static bool MayRepeat(HttpMethod method, string? idempotencyKey) =>
        method == HttpMethod.Get || method == HttpMethod.Head || method == HttpMethod.Put || method == HttpMethod.Delete
        || (method == HttpMethod.Post && idempotencyKey is not null);

    public static ResiliencePipeline<HttpResponseMessage> Build(StrataClientOptions options)
    {
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = options.TimeProvider };
        builder.AddTimeout(options.Deadline);
        if (options.MaxAttempts > 1)
        {
            builder.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = options.MaxAttempts - 1,
                ShouldHandle = args => ValueTask.FromResult(ShouldRetry(args.Outcome, args.Context, args.AttemptNumber, options)),
                // Decided with the retry itself, so that the deadline check and the wait agree.
                DelayGenerator = args => ValueTask.FromResult<TimeSpan?>(args.Context.Properties.GetValue(NextDelay, TimeSpan.Zero)),
            });
        }

        builder.AddTimeout(options.AttemptTimeout);
        return builder.Build();
    }

    /// <summary>Starts a call: what the pipeline needs to know of it.</summary>
    public static ResilienceContext StartCall(bool repeatable, TimeProvider time, CancellationToken cancellationToken)
    {
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        context.Properties.Set(Repeatable, repeatable);
        context.Properties.Set(Started, time.GetUtcNow());
        return context;
    }

    /// <summary>
    /// Whether a failure the client's own retries gave up on may pass if tried again later (what a long wait,
    /// such as <c>jobs wait</c>, keeps polling through): no answer, 502, 503, 504 or a rate limit.
    /// </summary>
    public static bool IsTransient(Exception e) =>
        e is StrataConnectionException or RateLimitedException
        || (e is StrataApiException { Status: 502 or 503 or 504 });

    private static bool ShouldRetry(Outcome<HttpResponseMessage> outcome, ResilienceContext context, int attemptNumber, StrataClientOptions options)
    {
        if (!context.Properties.GetValue(Repeatable, false) || context.CancellationToken.IsCancellationRequested) return false;
        TimeSpan? retryAfter = null;
        if (outcome.Exception is { } e)
        {
            // HttpClient reports its own timeout as a cancellation the caller did not ask for.
            if (!HttpClientResiliencePredicates.IsTransient(outcome) && e is not OperationCanceledException) return false;
        }
        else if (outcome.Result is { } response)
        {
            retryAfter = RetryAfter(response, options.TimeProvider);
            var transient = response.StatusCode switch
            {
                HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout => true,
                // A rate limit, or a repeat of a request whose first answer is still coming (the idempotency key's 409).
                HttpStatusCode.TooManyRequests or HttpStatusCode.Conflict => retryAfter is not null,
                _ => false,
            };
            if (!transient) return false;
        }

        var delay = retryAfter ?? FullJitter(attemptNumber, options);
        var deadline = context.Properties.GetValue(Started, options.TimeProvider.GetUtcNow()) + options.Deadline;
        if (options.TimeProvider.GetUtcNow() + delay >= deadline) return false;
        context.Properties.Set(NextDelay, delay);
        return true;
    }

    /// <summary>A random wait in [0, min(MaxDelay, BaseDelay × 2^attempt)]; <paramref name="attemptNumber"/> counts from 0.</summary>
    internal static TimeSpan FullJitter(int attemptNumber, StrataClientOptions options)
    {
        var cap = Math.Min(options.MaxDelay.TotalSeconds, options.BaseDelay.TotalSeconds * Math.Pow(2, Math.Min(attemptNumber, 30)));
        return TimeSpan.FromSeconds(cap * options.Random());
    }

    /// <summary>The <c>Retry-After</c> header as a wait from now (seconds or a date); null without one.</summary>
    internal static TimeSpan? RetryAfter(HttpResponseMessage response, TimeProvider time)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta) return delta;
        if (header?.Date is { } date)
        {
            var wait = date - time.GetUtcNow();
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }

        return null;
    }

    /// <summary>Why a call timed out, for <see cref="StrataConnectionException"/>.</summary>
    public static TimeoutException Describe(TimeoutRejectedException e) =>
        new($"no answer within {e.Timeout.TotalSeconds:0.#} s", e);
}
