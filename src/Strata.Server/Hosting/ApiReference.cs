using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Strata.Server.Hosting;

/// <summary>
/// What the OpenAPI document (and /docs, which renders it) says beyond what each route declares: what the API
/// is, what each tag holds, and the problems every protected route can answer (401, 403, and 404 for a route
/// that names an object), so that no operation looks as if it could not fail.
/// </summary>
internal static class ApiReference
{
    public const string Description =
        "Strata's REST API: training jobs, their attempts, logs and metrics; artifacts; the model registry; deployments and " +
        "predictions; tenants, tokens, quotas and usage. Every route but health takes a bearer token (a tenant's, a job's " +
        "or the admin's); errors are RFC 9457 problem details (application/problem+json) whose `type` names the problem.";

    /// <summary>Every tag the routes use, and what it groups.</summary>
    public static readonly IReadOnlyDictionary<string, string> Tags = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["Health"] = "Whether the server answers and is ready.",
        ["Tenants"] = "Tenants (teams), their tokens, and who the caller is.",
        ["Quota"] = "A tenant's quota and what it uses of it.",
        ["Training jobs"] = "Submit, follow, cancel and compare training jobs; their attempts and logs.",
        ["Tracking"] = "Metrics that jobs report, and comparing runs.",
        ["Usage"] = "Resource usage, per tenant and job, with right-sizing hints.",
        ["Artifacts"] = "Uploaded data and code, named as artifact:// URIs.",
        // Not "Models": /docs lists the schemas under that name.
        ["Model registry"] = "Models, their versions and aliases.",
        ["Deployments"] = "Models served as autoscaled endpoints: rollouts, canaries, predictions.",
        ["Recommendations"] = "Which compute a workload should ask for.",
        ["Monitoring"] = "The platform's capacity and its Prometheus targets (admin).",
    };

    public static void Configure(OpenApiOptions options)
    {
        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Description = Description;
            // A server URL ends without a slash: the paths begin with one.
            foreach (var server in document.Servers ?? []) server.Url = server.Url?.TrimEnd('/');
            document.Tags = new HashSet<OpenApiTag>(Tags.Select(tag => new OpenApiTag { Name = tag.Key, Description = tag.Value }));
            // Every route but health takes a bearer JWT: say so, so that /docs offers to send one.
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes["bearer"] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                BearerFormat = "JWT",
                Description = "A token from POST /v1/tenants/{id}/tokens, or the admin token in the data folder.",
            };
            document.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("bearer", document)] = [] }];
            return Task.CompletedTask;
        });
        options.AddOperationTransformer((operation, context, _) =>
        {
            var metadata = context.Description.ActionDescriptor.EndpointMetadata;
            // Every route needs a token unless it allows anonymous callers (the fallback policy, AuthSetup).
            if (metadata.OfType<IAllowAnonymous>().Any()) return Task.CompletedTask;
            operation.Responses ??= [];
            Add(operation, context, "401", "No token, or one that is not valid (expired, revoked, of a deleted tenant).");
            Add(operation, context, "403", "The token's role may not do this.");
            if (context.Description.RelativePath?.Contains('{') == true)
            {
                Add(operation, context, "404", "No such object in the caller's tenant (another tenant's is not found either).");
            }
            return Task.CompletedTask;
        });
    }

    private static void Add(OpenApiOperation operation, OpenApiOperationTransformerContext context, string status, string description)
    {
        if (operation.Responses!.ContainsKey(status)) return;
        operation.Responses[status] = new OpenApiResponse
        {
            Description = description,
            Content = new Dictionary<string, OpenApiMediaType>
            {
                ["application/problem+json"] = new() { Schema = new OpenApiSchemaReference("ProblemDetails", context.Document) },
            },
        };
    }
}
