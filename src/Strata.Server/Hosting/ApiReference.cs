using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Strata.Server.Hosting;

/// <summary>
/// What the OpenAPI document (and /docs, which renders it) says beyond what each route declares: what the API
/// is and under which licence, what each tag holds, the problems every operation can answer
/// (<c>ApiReference.Problems.cs</c>), the prediction bodies and an example of every body
/// (<c>ApiReference.Examples.cs</c>). The document lints clean with Redocly's recommended rules (ApiReferenceTests).
/// </summary>
internal static partial class ApiReference
{
    public const string Description =
        "Strata's REST API: training jobs, their attempts, logs and metrics; artifacts; the model registry; deployments and " +
        "predictions; tenants, tokens, quotas and usage. Every route but health takes a bearer token (a tenant's, a job's " +
        "or the admin's); errors are RFC 9457 problem details (application/problem+json) whose `type` names the problem.";

    /// <summary>The repository's licence (LICENSE): Strata is not open source. An SPDX reference names a licence SPDX does not list.</summary>
    public static readonly OpenApiLicense License = new() { Name = "Proprietary", Identifier = "LicenseRef-Proprietary" };

    /// <summary>Every tag the routes use, and what it groups.</summary>
    public static readonly IReadOnlyDictionary<string, string> Tags = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["Health"] = "Whether the server answers and is ready.",
        ["Tenants"] = "Tenants (teams), their tokens, and who the caller is.",
        ["Quota"] = "A tenant's quota and what it uses of it.",
        ["Training jobs"] = "Submit, follow, cancel and compare training jobs; their attempts, logs and metrics.",
        ["Usage"] = "Resource usage, per tenant and job, with right-sizing hints.",
        ["Artifacts"] = "Uploaded data and code, named as artifact:// URIs.",
        // Not "Models": /docs lists the schemas under that name.
        ["Model registry"] = "Models, their versions and aliases.",
        ["Deployments"] = "Models served as autoscaled endpoints: rollouts, canaries, predictions.",
        ["Recommendations"] = "Which compute a workload should ask for.",
        ["Monitoring"] = "The platform's capacity and its Prometheus targets (admin).",
        ["Dashboard"] = "Signing a browser in to the web dashboard at /ui (strata ui).",
    };

    public static void Configure(OpenApiOptions options)
    {
        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "Strata API";
            document.Info.Description = Description;
            document.Info.License = License;
            // A server URL ends without a slash: the paths begin with one.
            foreach (var server in document.Servers ?? []) server.Url = server.Url?.TrimEnd('/');
            document.Tags = new HashSet<OpenApiTag>(Tags.Select(tag => new OpenApiTag { Name = tag.Key, Description = tag.Value }));
            document.Components ??= new OpenApiComponents();
            // Every problem refers to ProblemDetails (AddProblems): the framework's schema of a validation problem is left unused.
            document.Components.Schemas?.Remove("HttpValidationProblemDetails");
            // Every route but health takes a bearer JWT: say so, so that /docs offers to send one.
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
        options.AddSchemaTransformer((schema, context, _) =>
        {
            if (typeof(ProblemDetails).IsAssignableFrom(context.JsonTypeInfo.Type)) DescribeProblemSchema(schema);
            return Task.CompletedTask;
        });
        // In this order: the prediction's bodies (which the problems of a body follow), the problems, then an example of every body.
        options.AddOperationTransformer(DescribePrediction);
        options.AddOperationTransformer(AddProblems);
        options.AddOperationTransformer(DescribeSuccesses);
        options.AddOperationTransformer(AddExamples);
        options.AddOperationTransformer(DescribeJobReference);
    }

    /// <summary>What the <c>{id}</c> of a training job's routes may be (JobStore.ResolveAsync, docs/tracking.md).</summary>
    public const string JobReferenceDescription =
        "The job: its full id; or a unique prefix of its id (at least 4 characters, any case); or its name, when one job of the tenant " +
        "that has not ended has it, or (none having it) one job of all the tenant's. Several matches are a 409 listing the candidates.";

    private static bool TakesJobReference(Microsoft.AspNetCore.Mvc.ApiExplorer.ApiDescription description) =>
        description.RelativePath?.StartsWith("v1/jobs/training/{id}", StringComparison.Ordinal) == true;

    private static Task DescribeJobReference(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        if (!TakesJobReference(context.Description)) return Task.CompletedTask;
        foreach (var parameter in operation.Parameters ?? [])
        {
            if (parameter is OpenApiParameter { Name: "id", In: ParameterLocation.Path } editable) editable.Description = JobReferenceDescription;
        }
        return Task.CompletedTask;
    }

    /// <summary>What an answer without a body of its own, or one that creates, tells the caller, rather than its bare reason phrase.</summary>
    private static readonly Dictionary<string, string> SuccessMeanings = new(StringComparer.Ordinal)
    {
        ["201"] = "Created: the body is the new object, and the Location header its URL.",
        ["202"] = "Accepted: the work goes on after the answer; the body is the object as it is now.",
        ["204"] = "Done: the answer has no body.",
    };

    private static Task DescribeSuccesses(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        foreach (var (status, response) in operation.Responses ?? [])
        {
            if (SuccessMeanings.TryGetValue(status, out var meaning) && response is OpenApiResponse editable
                && editable.Description == Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(int.Parse(status)))
            {
                editable.Description = meaning;
            }
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// A problem carries more than RFC 9457's five members: every one a <c>trace_id</c>, a validation problem its
    /// <c>errors</c>, a quota problem its <c>resource</c>, <c>limit</c>, ... The schema says so rather than forbid them.
    /// </summary>
    private static void DescribeProblemSchema(OpenApiSchema schema)
    {
        schema.Description = "An RFC 9457 problem: `type` names it (urn:strata:problem:...), `detail` says what to do; " +
            "some problems add members of their own (a validation problem's `errors`, a quota problem's `resource`, `limit`, `used`, `requested`, and who holds what is used: `used_by_jobs`, `used_by_deployments`).";
        schema.AdditionalProperties = new OpenApiSchema();
        schema.Properties ??= new Dictionary<string, IOpenApiSchema>();
        schema.Properties["errors"] = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = "A validation problem's: each wrong field (`compute.memory_gb`, `instances[3].tenure_months`) and what is wrong with it.",
            AdditionalProperties = new OpenApiSchema { Type = JsonSchemaType.Array, Items = new OpenApiSchema { Type = JsonSchemaType.String } },
        };
        schema.Properties["trace_id"] = new OpenApiSchema
        {
            Type = JsonSchemaType.String,
            Description = "The request's W3C trace id: the server's log lines and traces of this request carry it.",
        };
    }
}
