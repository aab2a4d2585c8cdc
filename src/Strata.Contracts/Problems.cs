namespace Strata.Contracts;

/// <summary>
/// The stable <c>type</c> URIs of Strata's RFC 9457 problem details. Clients switch on these, never on
/// the human-readable <c>title</c> or <c>detail</c>.
/// </summary>
public static class ProblemTypes
{
    private const string Prefix = "urn:strata:problem:";
    public const string Validation = Prefix + "validation";
    public const string MalformedRequest = Prefix + "malformed-request";
    public const string PayloadTooLarge = Prefix + "payload-too-large";
    public const string UnsupportedMediaType = Prefix + "unsupported-media-type";
    public const string MethodNotAllowed = Prefix + "method-not-allowed";
    public const string Unauthenticated = Prefix + "unauthenticated";
    public const string Forbidden = Prefix + "forbidden";
    public const string NotFound = Prefix + "not-found";
    public const string Conflict = Prefix + "conflict";
    /// <summary>
    /// 409: a job reference (an id prefix or a name) names more than one job; the problem lists them in
    /// <c>candidates</c> (<see cref="JobCandidate"/>, at most <see cref="JobCandidate.MaxListed"/>) and their number in <c>count</c>.
    /// </summary>
    public const string AmbiguousReference = Prefix + "ambiguous-reference";
    public const string QuotaExceeded = Prefix + "quota-exceeded";
    /// <summary>422: the request alone is larger than the tenant's whole quota; it could never be accepted.</summary>
    public const string RequestExceedsQuota = Prefix + "request-exceeds-quota";
    /// <summary>422: an <c>Idempotency-Key</c> already used with another request (another body, route or query); use a new key for a new request.</summary>
    public const string IdempotencyKeyReused = Prefix + "idempotency-key-reused";
    /// <summary>409: the first request with this <c>Idempotency-Key</c> is still being processed; retry it later, unchanged.</summary>
    public const string IdempotencyKeyInFlight = Prefix + "idempotency-key-in-flight";
    public const string RateLimited = Prefix + "rate-limited";
    public const string Unavailable = Prefix + "unavailable";
    public const string Internal = Prefix + "internal";
}
