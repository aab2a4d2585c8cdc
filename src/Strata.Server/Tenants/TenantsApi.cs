using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Strata.Contracts;
using Strata.Core.Jobs;
using Strata.Core.Quotas;
using Strata.Core.Text;
using Strata.Server.Auth;
using Strata.Server.Jobs;
using Strata.Server.Problems;
using Strata.Server.Quotas;
using Strata.Server.Storage;

namespace Strata.Server.Tenants;

/// <summary>Tenants (admin), their tokens, and <c>/v1/me</c>.</summary>
public static partial class TenantsApi
{
    public const int TenantIdLength = 40;
    public const int TenantNameLength = 200;
    public const int CostCenterLength = 63;
    public const int MaxTokenDays = 365;
    public const int DefaultTokenDays = 30;

    public static WebApplicationBuilder AddTenants(this WebApplicationBuilder builder)
    {
        return builder;
    }

    public static IEndpointRouteBuilder MapTenantsApi(this IEndpointRouteBuilder app)
    {
        var tenants = app.MapGroup("/v1/tenants").WithTags("Tenants");
        tenants.MapPost("", CreateAsync).RequireAuthorization(Policies.Admin).WithName("CreateTenant")
            .WithSummary("Create a tenant (admin).").Accepts<CreateTenantRequest>("application/json");
        tenants.MapGet("", ListAsync).RequireAuthorization(Policies.Admin).WithName("ListTenants").WithSummary("List tenants (admin).");
        tenants.MapGet("{id}", GetAsync).WithName("GetTenant").WithSummary("Get a tenant (admin, or its own members).");
        tenants.MapDelete("{id}", DeleteAsync).RequireAuthorization(Policies.Admin).WithName("DeleteTenant")
            .WithSummary("Delete a tenant, its tokens and its jobs; running attempts are stopped (admin).");
        tenants.MapPost("{id}/tokens", CreateTokenAsync).WithName("CreateToken")
            .WithSummary("Issue a token for a tenant (admin, or the tenant's owner).").Accepts<CreateTokenRequest>("application/json");
        app.MapGet("/v1/me", GetMe).WithTags("Tenants").WithName("GetMe").WithSummary("Who the token belongs to.");
        return app;
    }

    private static async Task<Results<Created<Tenant>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        HttpRequest request, StoreWriter writer, TenantQuotas quotas, TimeProvider time, CancellationToken cancellationToken)
    {
        var (body, problem) = await JsonBody.ReadAsync<CreateTenantRequest>(request, BodyLimits.Tenants, cancellationToken);
        if (problem is not null) return problem;
        var errors = new ValidationErrors();
        if (string.IsNullOrEmpty(body!.Id))
        {
            errors.Add("id", "is required");
        }
        else if (!Names.IsDnsLabel(body.Id, TenantIdLength))
        {
            errors.Add("id", $"must be a DNS-1123 label of at most {TenantIdLength} characters: lower-case letters, digits and '-'");
        }
        if (body.Name is not null && (string.IsNullOrWhiteSpace(body.Name) || body.Name.Length > TenantNameLength))
        {
            errors.Add("name", $"must be 1 to {TenantNameLength} characters");
        }
        else
        {
            TextRules.Check(errors, "name", body.Name, TextKind.Line);
        }
        if (body.CostCenter is not null && (body.CostCenter.Length > CostCenterLength || !LabelValue().IsMatch(body.CostCenter)))
        {
            errors.Add("cost_center", $"must be a label value: at most {CostCenterLength} letters, digits, '-', '_' or '.', starting and ending alphanumeric");
        }
        if (body.Quota is not null)
        {
            QuotaSpecValidator.Validate(body.Quota, errors, "quota.");
        }
        if (!errors.IsEmpty) return Problem.Validation(errors.ToDictionary());

        var record = new TenantRecord { Id = body.Id!, Name = body.Name ?? body.Id!, CostCenter = body.CostCenter, CreatedAt = time.GetUtcNow() };
        if (body.Quota is not null) QuotaMapping.Apply(record, body.Quota);
        try
        {
            await writer.WriteAsync(db => db.Tenants.Add(record), cancellationToken);
        }
        catch (Exception e) when (Store.IsUniqueViolation(e))
        {
            return Problem.Conflict($"A tenant with id '{record.Id}' already exists.");
        }
        quotas.Set(record);
        return TypedResults.Created($"/v1/tenants/{record.Id}", ToContract(record, quotas));
    }

    private static async Task<Ok<Tenant[]>> ListAsync(Store store, TenantQuotas quotas, CancellationToken cancellationToken)
    {
        await using var db = store.CreateContext();
        var records = await db.Tenants.AsNoTracking().OrderBy(t => t.Id).ToListAsync(cancellationToken);
        return TypedResults.Ok(records.Select(r => ToContract(r, quotas)).ToArray());
    }

    private static async Task<Results<Ok<Tenant>, ProblemHttpResult>> GetAsync(
        string id, HttpContext context, Store store, TenantQuotas quotas, CancellationToken cancellationToken)
    {
        var caller = context.Caller();
        if (!caller.IsAdmin && caller.TenantId != id)
        {
            return Problem.NotFound($"Tenant '{id}' was not found.");
        }
        await using var db = store.CreateContext();
        var record = await db.Tenants.AsNoTracking().FirstOrDefaultAsync(t => t.Id == id, cancellationToken);
        return record is null ? Problem.NotFound($"Tenant '{id}' was not found.") : TypedResults.Ok(ToContract(record, quotas));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
        string id, StoreWriter writer, TenantDirectory directory, TenantQuotas quotas, JobService jobs, Artifacts.ArtifactStore artifacts, CancellationToken cancellationToken)
    {
        var deleted = await writer.WriteAsync(db =>
        {
            var tenant = db.Tenants.Find(id);
            if (tenant is null) return false;
            db.Tenants.Remove(tenant);
            db.Attempts.RemoveRange(db.Attempts.Where(a => a.TenantId == id));
            db.Jobs.RemoveRange(db.Jobs.Where(j => j.TenantId == id));
            // A tenant created later under the same id must not inherit these (executed in the writer's transaction).
            db.Metrics.Where(m => m.TenantId == id).ExecuteDelete();
            db.MetricSeries.Where(m => m.TenantId == id).ExecuteDelete();
            db.Artifacts.Where(a => a.TenantId == id).ExecuteDelete();
            // A tenant created later under the same id must not inherit these models.
            db.ModelAliases.RemoveRange(db.ModelAliases.Where(a => a.TenantId == id));
            db.ModelVersions.RemoveRange(db.ModelVersions.Where(v => v.TenantId == id));
            db.Models.RemoveRange(db.Models.Where(m => m.TenantId == id));
            return true;
        }, cancellationToken);
        if (!deleted)
        {
            return Problem.NotFound($"Tenant '{id}' was not found.");
        }
        directory.Forget(id);
        await artifacts.DeleteTenantAsync(id, cancellationToken);
        quotas.Forget(id);
        // The tenant's attempts are now orphans: the reconciler stops them and discards their files.
        jobs.TenantDeleted(id);
        return TypedResults.NoContent();
    }

    private static async Task<Results<Created<TokenResponse>, ValidationProblem, ProblemHttpResult>> CreateTokenAsync(
        string id, HttpRequest request, TokenIssuer issuer, TenantDirectory directory, CancellationToken cancellationToken)
    {
        var caller = request.HttpContext.Caller();
        if (!caller.IsAdmin && caller.TenantId != id)
        {
            return Problem.NotFound($"Tenant '{id}' was not found.");
        }
        if (!caller.IsAdmin && caller.Role != Roles.Owner)
        {
            return Problem.Forbidden("Only an admin or the tenant's owner can issue tokens.");
        }
        var (body, problem) = await JsonBody.ReadAsync<CreateTokenRequest>(request, BodyLimits.Tenants, cancellationToken);
        if (problem is not null) return problem;
        var errors = new ValidationErrors();
        var role = body!.Role ?? Roles.Member;
        if (!Roles.TenantRoles.Contains(role))
        {
            errors.Add("role", $"must be one of {string.Join(", ", Roles.TenantRoles)}");
        }
        var days = body.ExpiresInDays ?? DefaultTokenDays;
        if (days is < 1 or > MaxTokenDays)
        {
            errors.Add("expires_in_days", $"must be 1 to {MaxTokenDays}");
        }
        if (body.Subject is not null && (body.Subject.Length is 0 or > 200))
        {
            errors.Add("subject", "must be 1 to 200 characters");
        }
        else
        {
            TextRules.Check(errors, "subject", body.Subject, TextKind.Line);
        }
        if (!errors.IsEmpty) return Problem.Validation(errors.ToDictionary());
        if (!await directory.ExistsAsync(id, cancellationToken))
        {
            return Problem.NotFound($"Tenant '{id}' was not found.");
        }
        var subject = body.Subject ?? $"{id}-{role}";
        var (token, expires) = issuer.Issue(subject, role, id, TimeSpan.FromDays(days));
        return TypedResults.Created($"/v1/tenants/{id}", new TokenResponse { Token = token, TenantId = id, Role = role, ExpiresAt = expires });
    }

    private static Ok<Me> GetMe(HttpContext context)
    {
        var caller = context.Caller();
        return TypedResults.Ok(new Me { Subject = caller.Subject, TenantId = caller.TenantId, Role = caller.Role, ExpiresAt = caller.ExpiresAt });
    }

    private static Tenant ToContract(TenantRecord record, TenantQuotas quotas) =>
        new() { Id = record.Id, Name = record.Name, CostCenter = record.CostCenter, CreatedAt = record.CreatedAt, Quota = quotas.ToEntry(record).Quota };

    [GeneratedRegex("^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")]
    private static partial Regex LabelValue();
}
