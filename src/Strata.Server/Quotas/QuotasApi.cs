using Microsoft.AspNetCore.Http.HttpResults;
using Strata.Contracts;
using Strata.Core.Jobs;
using Strata.Core.Quotas;
using Strata.Server.Auth;
using Strata.Server.Problems;
using Strata.Server.Queue;
using Strata.Server.Storage;

namespace Strata.Server.Quotas;

/// <summary>Tenant quotas: set by admins, read by the tenant (docs/quotas-and-scheduling.md).</summary>
public static class QuotasApi
{

    public static WebApplicationBuilder AddQuotas(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<QuotaDefaults>().BindConfiguration(QuotaDefaults.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<TenantQuotas>();
        return builder;
    }

    public static IEndpointRouteBuilder MapQuotasApi(this IEndpointRouteBuilder app)
    {
        app.MapPut("/v1/tenants/{id}/quota", SetAsync).RequireAuthorization(Policies.Admin).WithTags("Tenants").WithName("SetTenantQuota")
            .WithSummary("Replace a tenant's quota; fields left out take the server's defaults (admin).").Accepts<TenantQuotaSpec>("application/json");
        app.MapGet("/v1/quota", GetAsync).RequireAuthorization(Policies.TenantRead).WithTags("Quota").WithName("GetQuota")
            .WithSummary("The caller's tenant's quota: limit, used and pending per resource.");
        return app;
    }

    private static async Task<Results<Ok<TenantQuota>, ValidationProblem, ProblemHttpResult>> SetAsync(
        string id, HttpRequest request, StoreWriter writer, TenantQuotas quotas, SchedulerWakeUp wakeUp, CancellationToken cancellationToken)
    {
        var (body, problem) = await JsonBody.ReadAsync<TenantQuotaSpec>(request, BodyLimits.Quotas, cancellationToken);
        if (problem is not null) return problem;
        var errors = new ValidationErrors();
        QuotaSpecValidator.Validate(body!, errors);
        if (!errors.IsEmpty) return Problem.Validation(errors.ToDictionary());

        var record = await writer.WriteAsync(db =>
        {
            var tenant = db.Tenants.Find(id);
            if (tenant is null) return null;
            QuotaMapping.Apply(tenant, body!);
            return tenant;
        }, cancellationToken);
        if (record is null) return Problem.NotFound($"Tenant '{id}' was not found.");
        var entry = quotas.Set(record);
        // A larger quota may let jobs waiting for quota start; a new weight changes the order.
        wakeUp.Wake();
        return TypedResults.Ok(entry.Quota);
    }

    private static async Task<Results<Ok<QuotaStatus>, ProblemHttpResult>> GetAsync(
        HttpContext context, TenantQuotas quotas, JobQueue queue, CancellationToken cancellationToken)
    {
        var tenantId = context.Caller().TenantId!;
        var entry = await quotas.GetAsync(tenantId, cancellationToken);
        if (entry is null) return Problem.NotFound($"Tenant '{tenantId}' was not found.");
        return TypedResults.Ok(QuotaMapping.ToStatus(tenantId, entry.Quota, queue.QuotaUse(tenantId)));
    }
}
