using System.Globalization;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.HttpResults;
using Strata.Contracts;
using Strata.Core.Jobs;
using Strata.Server.Auth;
using Strata.Server.Problems;

namespace Strata.Server.Usage;

/// <summary>
/// <c>GET /v1/usage</c>: resource-seconds of the attempts that ended in a window and of deployments' replicas
/// inside it, per tenant, for the costliest jobs and deployments and per day, priced by the configured table
/// (docs/usage.md; <see cref="UsageReports"/>). A tenant's token sees its own tenant;
/// an admin's sees every tenant, or one with <c>tenant=</c>.
/// </summary>
public static class UsageApi
{
    /// <summary>How many jobs, and how many deployments, a report lists by default.</summary>
    public const int DefaultJobLimit = 20;
    public const int MaxJobLimit = 200;
    /// <summary>The longest window one request may sum over.</summary>
    public const int MaxWindowDays = 366;

    /// <summary>Admins and every role inside a tenant; job tokens are refused.</summary>
    private static readonly AuthorizationPolicy Readers = new AuthorizationPolicyBuilder()
        .RequireAuthenticatedUser()
        .RequireClaim(StrataClaims.Role, Roles.Admin, Roles.Owner, Roles.Member, Roles.Viewer)
        .Build();

    public static WebApplicationBuilder AddUsage(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<UsageOptions>().BindConfiguration(UsageOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<UsagePriceOptions>().BindConfiguration(UsageOptions.Section + ":Prices").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<ReplicaUsageRecorder>();
        builder.Services.AddSingleton<UsageReports>();
        return builder;
    }

    public static IEndpointRouteBuilder MapUsageApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/usage", GetAsync).RequireAuthorization(Readers).WithTags("Usage").WithName("GetUsage")
            .WithSummary("Reserved and used resource-seconds of the attempts that ended in [from, to) and of deployments' replicas inside it, per tenant, for the costliest jobs and deployments and per UTC day, priced.");
        return app;
    }

    private static async Task<Results<Ok<UsageReport>, ValidationProblem, ProblemHttpResult>> GetAsync(
        HttpContext context, UsageReports reports, TimeProvider time, CancellationToken cancellationToken)
    {
        var caller = context.Caller();
        var query = context.Request.Query;
        var errors = new ValidationErrors();
        var now = time.GetUtcNow();
        var from = ReadTime(query["from"], "from", errors) ?? new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero);
        var to = ReadTime(query["to"], "to", errors) ?? now;
        if (errors.IsEmpty && from >= to)
        {
            errors.Add("from", "must be before to");
        }
        else if (errors.IsEmpty && to - from > TimeSpan.FromDays(MaxWindowDays))
        {
            errors.Add("to", $"must be at most {MaxWindowDays} days after from; ask for a longer span in several windows");
        }
        var limit = DefaultJobLimit;
        if (!string.IsNullOrEmpty(query["limit"])
            && (!int.TryParse(query["limit"], NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit > MaxJobLimit))
        {
            errors.Add("limit", $"must be 0 to {MaxJobLimit}");
        }
        string? tenant = query["tenant"];
        if (string.IsNullOrEmpty(tenant)) tenant = null;
        if (tenant is not null && !Names.IsDnsLabel(tenant, 40))
        {
            errors.Add("tenant", "must be a tenant id");
        }
        if (!errors.IsEmpty) return Problem.Validation(errors.ToDictionary());
        if (!caller.IsAdmin)
        {
            if (tenant is not null && tenant != caller.TenantId)
            {
                return Problem.Forbidden($"A tenant's token sees its own usage only; omit tenant or use '{caller.TenantId}'.");
            }
            tenant = caller.TenantId;
        }

        return TypedResults.Ok(await reports.GetAsync(from, to, tenant, limit, cancellationToken));
    }

    /// <summary>An ISO 8601 date or date-time; one without an offset is UTC. Null when absent.</summary>
    private static DateTimeOffset? ReadTime(string? text, string field, ValidationErrors errors)
    {
        if (string.IsNullOrEmpty(text)) return null;
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var value)
            && char.IsAsciiDigit(text[0]))
        {
            return value;
        }
        errors.Add(field, "must be an ISO 8601 date or date-time, e.g. 2026-11-01 or 2026-11-01T00:00:00Z");
        return null;
    }
}
