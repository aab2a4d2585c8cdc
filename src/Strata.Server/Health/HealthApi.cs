using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Strata.Contracts;
using Strata.Server.Queue;
using Strata.Server.Storage;

namespace Strata.Server.Health;

/// <summary>
/// <c>/v1/health</c> (the server answers: <c>{status, service, version}</c>), <c>/health/live</c> (the process answers) and
/// <c>/health/ready</c> (the store answers and the scheduler has loaded its queue).
/// </summary>
public static class HealthApi
{
    public const string ServiceName = "strata";

    public static WebApplicationBuilder AddHealth(this WebApplicationBuilder builder)
    {
        builder.Services.AddHealthChecks()
            .AddCheck<StoreHealthCheck>("store", tags: ["ready"])
            .AddCheck<SchedulerHealthCheck>("scheduler", tags: ["ready"]);
        return builder;
    }

    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/health", GetHealth).AllowAnonymous().WithTags("Health").WithName("GetHealth")
            .WithSummary("Whether the server answers: {status, service, version}, without a token.");
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false }).AllowAnonymous();
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains("ready") }).AllowAnonymous();
        return app;
    }

    private static Ok<HealthResponse> GetHealth() =>
        TypedResults.Ok(new HealthResponse { Status = "healthy", Service = ServiceName, Version = typeof(HealthApi).Assembly.GetName().Version?.ToString() });

    private sealed class StoreHealthCheck(Store store) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                await using var db = store.CreateContext();
                return await db.Database.CanConnectAsync(cancellationToken)
                    ? HealthCheckResult.Healthy()
                    : HealthCheckResult.Unhealthy("The store does not answer.");
            }
            catch (Exception e)
            {
                return HealthCheckResult.Unhealthy("The store does not answer.", e);
            }
        }
    }

    private sealed class SchedulerHealthCheck(JobQueue queue) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            Task.FromResult(queue.Loaded.IsCompletedSuccessfully
                ? HealthCheckResult.Healthy()
                : HealthCheckResult.Unhealthy("The scheduler has not loaded its queue yet."));
    }
}
