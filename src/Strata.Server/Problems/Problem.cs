using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Strata.Contracts;

namespace Strata.Server.Problems;

/// <summary>The problem+json answers of the API, each with a stable <see cref="ProblemTypes"/> type.</summary>
public static class Problem
{
    public static ProblemHttpResult NotFound(string detail) =>
        TypedResults.Problem(detail, statusCode: 404, title: "Not found", type: ProblemTypes.NotFound);

    public static ProblemHttpResult JobNotFound(string id) => NotFound($"Training job '{id}' was not found.");

    /// <summary>409: a job reference (an id prefix or a name) names several jobs; the caller picks one of the <c>candidates</c>.</summary>
    public static ProblemHttpResult AmbiguousJobReference(string reference, IReadOnlyList<JobCandidate> candidates, int count) =>
        TypedResults.Problem(
            $"'{reference}' names {count} training jobs{(count > candidates.Count ? $" (the newest {candidates.Count} are listed)" : "")}; " +
            "use a longer id prefix or the full id.",
            statusCode: 409, title: "Ambiguous reference", type: ProblemTypes.AmbiguousReference,
            extensions: new Dictionary<string, object?> { ["candidates"] = candidates, ["count"] = count });

    public static ProblemHttpResult Forbidden(string detail) =>
        TypedResults.Problem(detail, statusCode: 403, title: "Forbidden", type: ProblemTypes.Forbidden);

    public static ProblemHttpResult Conflict(string detail) =>
        TypedResults.Problem(detail, statusCode: 409, title: "Conflict", type: ProblemTypes.Conflict);

    public static ProblemHttpResult Malformed(string detail) =>
        TypedResults.Problem(detail, statusCode: 400, title: "Malformed request", type: ProblemTypes.MalformedRequest);

    /// <summary>
    /// 429: the submission would take the tenant over its quota. The body names the <c>resource</c>, its
    /// <c>limit</c>, what is <c>used</c> and what was <c>requested</c> (the seed course's fields).
    /// </summary>
    public static ProblemHttpResult QuotaExceeded(Core.Quotas.QuotaExcess excess) =>
        TypedResults.Problem(
            $"Quota exceeded for {excess.Describe()}. {FreeingAdvice(excess)}, ask an admin for more quota, " +
            "or submit with on_quota_exceeded: queue (the CLI's --on-quota-exceeded queue) to wait for it.",
            statusCode: 429, title: "Quota exceeded", type: ProblemTypes.QuotaExceeded, extensions: QuotaFields(excess));

    /// <summary>What the user can free, from who holds the quota: a deployment's reservation does not end by waiting.</summary>
    private static string FreeingAdvice(Core.Quotas.QuotaExcess excess) => excess.Holders switch
    {
        { Jobs: > 0, ByDeployments: > 0 } => "Wait for running jobs to end, cancel pending ones, or scale down or delete a deployment",
        { ByDeployments: > 0 } => "Scale down or delete a deployment (they hold it, not jobs)",
        _ => "Wait for running jobs to end, or cancel pending ones",
    };

    /// <summary>429: a deployment (or more replicas) would take the tenant over <c>max_deployments</c> or <c>max_replicas</c>; same fields as for jobs.</summary>
    public static ProblemHttpResult DeploymentQuotaExceeded(Core.Quotas.QuotaExcess excess) =>
        TypedResults.Problem(
            $"Quota exceeded for {excess.Describe()}. Delete a deployment or lower another's max_replicas, or ask an admin for more quota.",
            statusCode: 429, title: "Quota exceeded", type: ProblemTypes.QuotaExceeded, extensions: QuotaFields(excess));

    /// <summary>422: the request alone is larger than the tenant's whole quota, so it could never be accepted.</summary>
    public static ProblemHttpResult RequestExceedsQuota(Core.Quotas.QuotaExcess excess) =>
        TypedResults.Problem(
            $"The job asks for more than the tenant's whole quota ({excess.Resource.Name()}: quota {excess.Limit}, asked {excess.Requested}); " +
            "it could never run. Ask for less, or ask an admin to raise the quota.",
            statusCode: 422, title: "Request exceeds the quota", type: ProblemTypes.RequestExceedsQuota, extensions: QuotaFields(excess));

    /// <summary>422: the <c>Idempotency-Key</c> was sent before with another request; its first answer is not this request's.</summary>
    public static ProblemHttpResult IdempotencyKeyReused(string key) =>
        TypedResults.Problem(
            $"The Idempotency-Key '{key}' was used with another request (another body, route or query) in the last 24 hours; " +
            "a retry must repeat the request unchanged, and a new request needs a new key.",
            statusCode: 422, title: "Idempotency key reused", type: ProblemTypes.IdempotencyKeyReused);

    /// <summary>409: the first request with this <c>Idempotency-Key</c> has not been answered yet.</summary>
    public static ProblemHttpResult IdempotencyKeyInFlight(string key) =>
        TypedResults.Problem(
            $"A request with the Idempotency-Key '{key}' is still being processed; retry this one unchanged once it has been answered.",
            statusCode: 409, title: "Idempotency key in flight", type: ProblemTypes.IdempotencyKeyInFlight);

    private static Dictionary<string, object?> QuotaFields(Core.Quotas.QuotaExcess excess)
    {
        var fields = new Dictionary<string, object?>
        {
            ["resource"] = excess.Resource.Name(),
            ["limit"] = excess.Limit,
            ["used"] = excess.Used,
            ["requested"] = excess.Requested,
        };
        if (excess.Holders is { } holders)
        {
            // Who holds what is used: the jobs' share, and each deployment's reservation.
            fields["used_by_jobs"] = holders.Jobs;
            fields["used_by_deployments"] = holders.Deployments.Select(d => new Dictionary<string, object> { ["name"] = d.Name, ["amount"] = d.Amount }).ToArray();
        }
        return fields;
    }

    /// <summary>503 with <c>Retry-After</c> (whole seconds): the server cannot do this now, but will.</summary>
    public static ProblemHttpResult Unavailable(HttpContext context, string detail, TimeSpan retryAfter)
    {
        context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return TypedResults.Problem(detail, statusCode: 503, title: "Unavailable", type: ProblemTypes.Unavailable);
    }

    public static ProblemHttpResult TooLarge(string detail) =>
        TypedResults.Problem(detail, statusCode: 413, title: "Request too large", type: ProblemTypes.PayloadTooLarge);

    public static ValidationProblem Validation(IReadOnlyDictionary<string, string[]> errors) =>
        TypedResults.ValidationProblem(
            errors.ToDictionary(e => e.Key, e => e.Value),
            detail: "The request has invalid fields: " + string.Join(", ", errors.Keys.Order(StringComparer.Ordinal)) + ".",
            title: "Validation failed",
            type: ProblemTypes.Validation);

    public static ValidationProblem Validation(string field, string message) =>
        Validation(new Dictionary<string, string[]> { [field] = [message] });

    /// <summary>A detail for a problem the framework raised without one, from its status.</summary>
    public static string? DetailFor(int status) => status switch
    {
        400 => "The request could not be read.",
        404 => "There is no such resource.",
        405 => "This resource does not support that HTTP method.",
        413 => "The request body is larger than this route accepts.",
        415 => JsonBody.UnsupportedMediaTypeDetail,
        _ => null,
    };

    /// <summary>The type of a problem that was raised without one (by the framework), from its status.</summary>
    public static string TypeFor(int status) => status switch
    {
        400 => ProblemTypes.MalformedRequest,
        401 => ProblemTypes.Unauthenticated,
        403 => ProblemTypes.Forbidden,
        404 => ProblemTypes.NotFound,
        409 => ProblemTypes.Conflict,
        405 => ProblemTypes.MethodNotAllowed,
        413 => ProblemTypes.PayloadTooLarge,
        415 => ProblemTypes.UnsupportedMediaType,
        429 => ProblemTypes.RateLimited,
        503 => ProblemTypes.Unavailable,
        _ => status >= 500 ? ProblemTypes.Internal : "about:blank",
    };

    /// <summary>Writes a problem from outside an endpoint (authentication handlers, middleware).</summary>
    public static async Task WriteAsync(HttpContext context, int status, string title, string detail, string type)
    {
        context.Response.StatusCode = status;
        var service = context.RequestServices.GetRequiredService<IProblemDetailsService>();
        await service.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = new ProblemDetails { Status = status, Title = title, Detail = detail, Type = type },
        });
    }
}
