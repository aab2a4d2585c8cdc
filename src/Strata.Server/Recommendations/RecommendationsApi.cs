using Microsoft.AspNetCore.Http.HttpResults;
using Strata.Contracts;
using Strata.Core.Jobs;
using Strata.Core.Recommendations;
using Strata.Core.Runtime;
using Strata.Server.Auth;
using Strata.Server.Problems;

namespace Strata.Server.Recommendations;

/// <summary><c>POST /v1/recommendations/compute</c>: which compute a workload should ask for, and why (docs/recommendations.md).</summary>
public static class RecommendationsApi
{
    public const string ComputePath = "/v1/recommendations/compute";

    public static WebApplicationBuilder AddRecommendations(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<SimilarJobsHistory>();
        return builder;
    }

    public static IEndpointRouteBuilder MapRecommendationsApi(this IEndpointRouteBuilder app)
    {
        // Those who may submit jobs ask: the answer is a job spec's compute, drawn from the tenant's own jobs.
        app.MapPost(ComputePath, RecommendComputeAsync).RequireAuthorization(Policies.TenantWrite).WithTags("Recommendations")
            .WithName("RecommendCompute")
            .WithSummary("Recommend shared, dedicated or distributed compute for a workload, with the reasons; refined by the tenant's similar jobs.")
            .Accepts<ComputeRecommendationRequest>("application/json");
        return app;
    }

    private static async Task<Results<Ok<ComputeRecommendation>, ValidationProblem, ProblemHttpResult>> RecommendComputeAsync(
        HttpContext context, IJobRuntime runtime, SimilarJobsHistory history, CancellationToken cancellationToken)
    {
        var (body, problem) = await JsonBody.ReadAsync<ComputeRecommendationRequest>(context.Request, BodyLimits.Recommendations, cancellationToken);
        if (problem is not null) return problem;
        var errors = new ValidationErrors();
        ComputeRequestValidator.Validate(body!, errors);
        if (!errors.IsEmpty) return Problem.Validation(errors.ToDictionary());

        var pastJobs = await history.ReadAsync(context.Caller().TenantId!, cancellationToken);
        return TypedResults.Ok(ComputeAdvisor.Recommend(body!.DatasetSizeGb!.Value, (long)body.ModelParams!.Value, body.Framework, runtime.Capacity, pastJobs));
    }
}
