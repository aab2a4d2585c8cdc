using Microsoft.AspNetCore.Http.HttpResults;
using Strata.Contracts;
using Strata.Core.Jobs;
using Strata.Core.Quotas;
using Strata.Server.Auth;
using Strata.Server.Problems;
using Strata.Server.Scheduling;
using Strata.Server.Storage;

namespace Strata.Server.Quotas;

/// <summary>Tenant quotas: set by admins, read by the tenant (docs/quotas-and-scheduling.md).</summary>
public static class QuotasApi
{
    private const int MaxBodyBytes = 16 * 1024;

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
        string id, HttpRequest request, StoreWriter writer, TenantQuotas quotas, Scheduler scheduler, CancellationToken cancellationToken)
    {
        var (body, problem) = await JsonBody.ReadAsync<TenantQuotaSpec>(request, MaxBodyBytes, cancellationToken);
        if (problem is not null) return problem;
        var errors = new ValidationErrors();
        QuotaSpecValidator.Validate(body!, errors);
        if (!errors.IsEmpty) return Problems.Problems.Validation(errors.ToDictionary());

        var record = await writer.WriteAsync(db =>
        {
            var tenant = db.Tenants.Find(id);
            if (tenant is null) return null;
            Apply(tenant, body!);
            return tenant;
        }, cancellationToken);
        if (record is null) return Problems.Problems.NotFound($"Tenant '{id}' was not found.");
        var entry = quotas.Set(record);
        // A larger quota may let jobs waiting for quota start; a new weight changes the order.
        scheduler.Wake();
        return TypedResults.Ok(entry.Quota);
    }

    /// <summary>Stores <paramref name="spec"/> as the tenant's own quota: a PUT replaces it whole.</summary>
    public static void Apply(TenantRecord tenant, TenantQuotaSpec spec)
    {
        tenant.QuotaCpuCores = spec.CpuCores;
        tenant.QuotaMemoryGb = spec.MemoryGb;
        tenant.QuotaGpuCount = spec.GpuCount;
        tenant.QuotaMaxRunningJobs = spec.MaxRunningJobs;
        tenant.QuotaMaxPendingJobs = spec.MaxPendingJobs;
        tenant.QuotaMaxDeployments = spec.MaxDeployments;
        tenant.QuotaMaxReplicas = spec.MaxReplicas;
        tenant.OnQuotaExceeded = spec.OnQuotaExceeded;
        tenant.FairShareWeight = spec.FairShareWeight;
    }

    private static async Task<Results<Ok<QuotaStatus>, ProblemHttpResult>> GetAsync(
        HttpContext context, TenantQuotas quotas, JobQueue queue, CancellationToken cancellationToken)
    {
        var tenantId = context.Caller().TenantId!;
        var entry = await quotas.GetAsync(tenantId, cancellationToken);
        if (entry is null) return Problems.Problems.NotFound($"Tenant '{tenantId}' was not found.");
        return TypedResults.Ok(Status(tenantId, entry.Quota, queue.QuotaUse(tenantId)));
    }

    public static QuotaStatus Status(string tenantId, TenantQuota quota, TenantQuotaUse use) => new()
    {
        TenantId = tenantId,
        OnQuotaExceeded = quota.OnQuotaExceeded,
        FairShareWeight = quota.FairShareWeight,
        WaitingForQuota = use.WaitingForQuota,
        Resources = new Dictionary<string, QuotaUsage>(StringComparer.Ordinal)
        {
            [QuotaResources.CpuCores] = new() { Limit = quota.CpuCores, Used = use.Held.CpuCores, Pending = use.HeldByPending.CpuCores },
            [QuotaResources.MemoryGb] = new() { Limit = quota.MemoryGb, Used = QuotaMath.Gb(use.Held.MemoryBytes), Pending = QuotaMath.Gb(use.HeldByPending.MemoryBytes) },
            [QuotaResources.GpuCount] = new() { Limit = quota.GpuCount, Used = use.Held.Gpus, Pending = use.HeldByPending.Gpus },
            [QuotaResources.MaxRunningJobs] = new() { Limit = quota.MaxRunningJobs, Used = use.Running, Pending = use.Pending },
            [QuotaResources.MaxPendingJobs] = new() { Limit = quota.MaxPendingJobs, Used = use.Pending },
            [QuotaResources.MaxDeployments] = new() { Limit = quota.MaxDeployments, Used = use.Deployments },
            [QuotaResources.MaxReplicas] = new() { Limit = quota.MaxReplicas, Used = use.Replicas },
        },
    };
}
