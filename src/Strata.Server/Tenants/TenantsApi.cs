using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Strata.Contracts;
using Strata.Core.Jobs;
using Strata.Core.Quotas;
using Strata.Core.Text;
using Strata.Server.Auth;
using Strata.Server.Leadership;
using Strata.Server.Problems;
using Strata.Server.Quotas;
using Strata.Server.Storage;

namespace Strata.Server.Tenants;

/// <summary>Tenants (admin), their tokens, and <c>/v1/me</c>. Deleting a tenant is <see cref="TenantDeletion"/>'s.</summary>
public static partial class TenantsApi
{
    public const int TenantIdLength = 40;
    public const int TenantNameLength = 200;
    public const int CostCenterLength = 63;
    public const int MaxTokenDays = 365;
    public const int DefaultTokenDays = 30;

    public static WebApplicationBuilder AddTenants(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<TenantDeletion>();
        builder.Services.AddSingleton<TenantDeletions>();
        builder.Services.AddLeaderService<TenantDeletions>();
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
            .WithSummary("Delete a tenant and everything it owns: 202 while it is being deleted, then GET is 404 (admin).");
        tenants.MapPost("{id}/tokens", CreateTokenAsync).WithName("CreateToken")
            .WithSummary("Issue a token for a tenant (admin, or the tenant's owner).").Accepts<CreateTokenRequest>("application/json");
        app.MapPost("/v1/admin/tokens", CreatePlatformTokenAsync).RequireAuthorization(Policies.Admin).WithTags("Tenants").WithName("CreatePlatformToken")
            .WithSummary("Issue a token that belongs to no tenant: metrics-reader, for Prometheus (admin).").Accepts<CreateTokenRequest>("application/json");
        app.MapGet("/v1/me", GetMe).WithTags("Tenants").WithName("GetMe").WithSummary("Who the token belongs to.");
        return app;
    }

    private static async Task<Results<Created<Tenant>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        HttpRequest request, StoreWriter writer, TenantQuotas quotas, TenantDirectory directory, TimeProvider time, CancellationToken cancellationToken)
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
            return await directory.FindAsync(record.Id, cancellationToken) is { Deleting: true }
                ? Problem.Conflict($"Tenant '{record.Id}' is being deleted; create it again once GET /v1/tenants/{record.Id} is 404.")
                : Problem.Conflict($"A tenant with id '{record.Id}' already exists.");
        }
        quotas.Set(record);
        // What this server remembers of an earlier tenant under the id (deleting, by another server) is stale.
        directory.Forget(record.Id);
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

    /// <summary>
    /// Marks the tenant deleting and answers 202 with it; the leader takes it apart (<see cref="TenantDeletion"/>),
    /// and GET is 404 once it is gone. Its tokens are refused from the 202 on. Asking again while it is being
    /// deleted is 202 again.
    /// </summary>
    private static async Task<Results<Accepted<Tenant>, ProblemHttpResult>> DeleteAsync(
        string id, TenantDeletion deletion, TenantDeletions deletions, TenantQuotas quotas, CancellationToken cancellationToken)
    {
        var record = await deletion.RequestAsync(id, cancellationToken);
        if (record is null)
        {
            return Problem.NotFound($"Tenant '{id}' was not found.");
        }
        deletions.Kick();
        return TypedResults.Accepted($"/v1/tenants/{id}", ToContract(record, quotas));
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
        var role = body!.Role ?? Roles.Member;
        var errors = CheckToken(body, role, Roles.TenantRoles, out var days);
        if (!errors.IsEmpty) return Problem.Validation(errors.ToDictionary());
        var tenant = await directory.FindAsync(id, cancellationToken);
        if (tenant is null)
        {
            return Problem.NotFound($"Tenant '{id}' was not found.");
        }
        if (tenant.Deleting)
        {
            return Problem.Conflict($"Tenant '{id}' is being deleted; it issues no tokens.");
        }
        var subject = body.Subject ?? $"{id}-{role}";
        var (token, expires) = issuer.Issue(subject, role, tenant.Incarnation, TimeSpan.FromDays(days));
        return TypedResults.Created($"/v1/tenants/{id}", new TokenResponse { Token = token, TenantId = id, Role = role, ExpiresAt = expires });
    }

    /// <summary>
    /// A token of a platform role (<see cref="Roles.PlatformRoles"/>), which names no tenant: the metrics reader
    /// that Prometheus scrapes with, so that it need not hold the admin token.
    /// </summary>
    private static async Task<Results<Created<TokenResponse>, ValidationProblem, ProblemHttpResult>> CreatePlatformTokenAsync(
        HttpRequest request, TokenIssuer issuer, CancellationToken cancellationToken)
    {
        var (body, problem) = await JsonBody.ReadAsync<CreateTokenRequest>(request, BodyLimits.Tenants, cancellationToken);
        if (problem is not null) return problem;
        var role = body!.Role ?? Roles.MetricsReader;
        var errors = CheckToken(body, role, Roles.PlatformRoles, out var days);
        if (!errors.IsEmpty) return Problem.Validation(errors.ToDictionary());
        var (token, expires) = issuer.Issue(body.Subject ?? role, role, tenant: null, TimeSpan.FromDays(days));
        // A token is signed, not stored: there is nothing to locate.
        return TypedResults.Created((string?)null, new TokenResponse { Token = token, Role = role, ExpiresAt = expires });
    }

    private static ValidationErrors CheckToken(CreateTokenRequest body, string role, IReadOnlyList<string> roles, out int days)
    {
        var errors = new ValidationErrors();
        if (!roles.Contains(role))
        {
            errors.Add("role", $"must be one of {string.Join(", ", roles)}");
        }
        days = body.ExpiresInDays ?? DefaultTokenDays;
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
        return errors;
    }

    private static Ok<Me> GetMe(HttpContext context)
    {
        var caller = context.Caller();
        return TypedResults.Ok(new Me { Subject = caller.Subject, TenantId = caller.TenantId, Role = caller.Role, ExpiresAt = caller.ExpiresAt });
    }

    private static Tenant ToContract(TenantRecord record, TenantQuotas quotas) => new()
    {
        Id = record.Id,
        Name = record.Name,
        CostCenter = record.CostCenter,
        CreatedAt = record.CreatedAt,
        Status = record.IsDeleting ? TenantStatuses.Deleting : TenantStatuses.Active,
        DeletingSince = record.DeletingSince,
        Quota = quotas.ToEntry(record).Quota,
    };

    [GeneratedRegex("^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")]
    private static partial Regex LabelValue();
}
