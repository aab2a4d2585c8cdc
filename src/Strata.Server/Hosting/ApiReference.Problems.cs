using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.OpenApi;

namespace Strata.Server.Hosting;

/// <summary>
/// The problems each operation can answer, so that none looks as if it could not fail. Most follow from what the
/// route is: a protected route (401, 403, and 404 when it names an object), a route with a body (400, 413, and 415
/// for JSON that <c>JsonBody</c> reads), a route under the per-tenant rate limit (429). The rest are particular to
/// one operation (<see cref="Particular"/>): a name already taken, a quota, a replica not ready.
/// </summary>
internal static partial class ApiReference
{
    /// <summary>What each problem status means, where the operation does not say more (<see cref="Particular"/>).</summary>
    private static readonly Dictionary<string, string> ProblemMeanings = new(StringComparer.Ordinal)
    {
        ["400"] = "The request is malformed or invalid: a validation problem's `errors` names each wrong field and why; nothing was changed.",
        ["401"] = "No token, or one that is not valid (expired, revoked, of a deleted tenant).",
        ["403"] = "The token's role may not do this.",
        ["404"] = "No such object in the caller's tenant (another tenant's is not found either).",
        ["413"] = "The body is larger than this route accepts (docs/limits.md).",
        ["415"] = "The body is not sent as application/json.",
        ["429"] = "The caller's tenant sent more requests than its rate limit allows (docs/limits.md): `Retry-After` says in how many seconds " +
            "to retry. Admin tokens and requests without a token are not limited.",
    };

    private const string NoSuchTenant = "No tenant has this id.";

    // The routes that take an Idempotency-Key (WithIdempotencyKey) answer these two.
    private const string KeyInFlight = "A request with the same Idempotency-Key is still being answered: retry this one unchanged once it has been.";
    private const string KeyReused = "The Idempotency-Key was used before with another request: a retry repeats its request unchanged, a new request takes a new key.";

    private const string AmbiguousJobReference = "The job reference (an id prefix or a name) names several of the tenant's jobs: `candidates` lists them " +
        "(`id`, `name`, `status`, `created_at`; the newest 10 at most) and `count` says how many there are.";

    private const string RateLimited = "The caller's tenant sent more requests than its rate limit allows: `Retry-After` says when to retry";

    /// <summary>Problems particular to an operation (by its name), or what a common one means there.</summary>
    internal static readonly Dictionary<string, Dictionary<string, string>> Particular = new(StringComparer.Ordinal)
    {
        ["GetHealth"] = new() { ["429"] = "Sent with a tenant's token, the request counts toward that tenant's rate limit: a probe sends no token and is never limited." },
        ["CreateTenant"] = new() { ["409"] = "A tenant with this id exists, or is still being deleted." },
        ["GetTenant"] = new() { ["404"] = NoSuchTenant },
        ["DeleteTenant"] = new() { ["404"] = NoSuchTenant },
        ["SetTenantQuota"] = new() { ["404"] = NoSuchTenant },
        ["CreateToken"] = new() { ["404"] = NoSuchTenant, ["409"] = "The tenant is being deleted: it issues no tokens." },
        ["SubmitTrainingJob"] = new()
        {
            ["409"] = "The tenant has a pending or running job of this name. " + KeyInFlight,
            ["422"] = "The job asks for more than the tenant's whole quota, so it could never run. " + KeyReused,
            ["429"] = RateLimited + "; or the job would take the tenant over its quota (`resource`, `limit`, `used`, `requested`, `used_by_jobs`, `used_by_deployments`) " +
                "and the spec's on_quota_exceeded is reject.",
        },
        ["UploadArtifact"] = new() { ["409"] = KeyInFlight, ["422"] = KeyReused },
        ["CancelTrainingJob"] = new() { ["409"] = "The job has already ended: there is nothing to cancel." },
        ["ReportTrainingJobMetrics"] = new() { ["409"] = "The job already holds as many metric points as it may (docs/limits.md): none of these was recorded." },
        ["CreateModel"] = new() { ["409"] = "The tenant has a model of this name." },
        ["RegisterModelVersion"] = new() { ["503"] = "The model file could not be read in time (a slow disk or file system): `Retry-After` says when to retry." },
        ["CreateDeployment"] = new()
        {
            ["409"] = "The tenant has a deployment of this name (change it with PATCH). " + KeyInFlight,
            ["422"] = KeyReused,
            ["429"] = RateLimited + "; or the deployment would take the tenant over its max_deployments or max_replicas quota.",
        },
        ["UpdateDeployment"] = new() { ["429"] = RateLimited + "; or the change would take the tenant over its max_replicas quota." },
        ["GetDeploymentHealth"] = new() { ["503"] = "No replica is ready: the same answer, with status unhealthy." },
        ["Predict"] = new()
        {
            ["400"] = "The body is not a JSON object, or an instance does not match the model's inputs: `errors` is keyed by field " +
                "(`instances[3].tenure_months`), `detail` names the first five. Nothing was predicted.",
            ["413"] = "The body is larger than 16 MiB: send the instances in several requests.",
            ["500"] = "The model failed on input that matched its inputs (an ONNX operator's error, for one): `detail` has its message.",
            ["503"] = "No replica of the deployment is ready yet (it is starting, or scaling up from zero): `Retry-After` says when to retry.",
        },
    };

    /// <summary>
    /// Routes that pass their body on as they received it rather than read it with <c>JsonBody</c>, so that a media type
    /// other than JSON is not refused with a 415: a prediction goes to a replica, which reads any body as JSON.
    /// </summary>
    private static readonly HashSet<string> ForwardedBodies = new(StringComparer.Ordinal) { "Predict" };

    private static Task AddProblems(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var metadata = context.Description.ActionDescriptor.EndpointMetadata;
        var name = operation.OperationId ?? "";
        var statuses = new List<string>();
        // Every route needs a token unless it allows anonymous callers (the fallback policy, AuthSetup).
        if (!metadata.OfType<IAllowAnonymous>().Any())
        {
            statuses.AddRange(["401", "403"]);
            if (context.Description.RelativePath?.Contains('{') == true) statuses.Add("404");
        }
        if (operation.RequestBody is { } body)
        {
            statuses.AddRange(["400", "413"]);
            if (body.Content?.ContainsKey("application/json") == true && !ForwardedBodies.Contains(name)) statuses.Add("415");
        }
        // The per-tenant limit counts every request with a tenant's token, whatever its route, unless the route opts out.
        if (!metadata.OfType<DisableRateLimitingAttribute>().Any()) statuses.Add("429");
        var particular = Particular.GetValueOrDefault(name) ?? [];
        if (TakesJobReference(context.Description))
        {
            particular = new(particular) { ["409"] = particular.TryGetValue("409", out var other) ? $"{other} Or: {AmbiguousJobReference}" : AmbiguousJobReference };
        }
        statuses.AddRange(particular.Keys);

        operation.Responses ??= [];
        foreach (var status in statuses.Distinct())
        {
            if (!operation.Responses.ContainsKey(status)) operation.Responses[status] = new OpenApiResponse();
        }
        foreach (var (status, response) in operation.Responses.Where(r => r.Key[0] is '4' or '5').ToList())
        {
            if (response is not OpenApiResponse editable) continue;
            // The routes' own ProducesProblem and typed results describe a problem by its reason phrase ("Bad Request"): say what it means here.
            var meaning = particular.GetValueOrDefault(status) ?? ProblemMeanings.GetValueOrDefault(status);
            if (meaning is not null && (string.IsNullOrEmpty(editable.Description) || editable.Description == ReasonPhrases.GetReasonPhrase(int.Parse(status))))
            {
                editable.Description = meaning;
            }
            // One schema for every problem: ProblemDetails, which describes a validation problem's `errors` too (ApiReference.cs).
            if (editable.Content is null || editable.Content.Count == 0 || editable.Content.ContainsKey("application/problem+json"))
            {
                editable.Content = new Dictionary<string, OpenApiMediaType>
                {
                    ["application/problem+json"] = new() { Schema = new OpenApiSchemaReference("ProblemDetails", context.Document) },
                };
            }
        }
        return Task.CompletedTask;
    }
}
