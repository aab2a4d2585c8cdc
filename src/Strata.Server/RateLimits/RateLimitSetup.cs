using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using Strata.Contracts;
using Strata.Server.Auth;
using Strata.Server.Problems;

namespace Strata.Server.RateLimits;

/// <summary>
/// A token bucket per tenant (ASP.NET Core's rate limiter, partitioned by the token's <c>tenant</c> claim),
/// so that one tenant's burst never slows another. Every token of a tenant — its people's and its jobs'
/// — draws from the tenant's bucket. Not limited: admins (the platform's operators, who must be able to
/// act during an incident) and requests without a valid token (health, metrics and docs, which probes
/// and scrapers call; any other route answers them 401 before doing work). A refused request gets 429
/// problem+json with <c>Retry-After</c>.
/// </summary>
public static class RateLimitSetup
{
    public static WebApplicationBuilder AddRateLimits(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<RateLimitOptions>().BindConfiguration(RateLimitOptions.Section).ValidateDataAnnotations()
            .Validate(o => !o.TenantErrors().Any(), $"{RateLimitOptions.Section}:Tenants has an invalid entry: Burst and TokensPerPeriod must be 1 to 1000000, PeriodSeconds 0.01 to 86400.")
            .ValidateOnStart();
        builder.Services.AddRateLimiter(_ => { });
        builder.Services.AddOptions<RateLimiterOptions>().Configure<IOptions<RateLimitOptions>>((options, limits) =>
        {
            var settings = limits.Value;
            options.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            options.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
            {
                var tenant = settings.Enabled ? context.User.FindFirst(StrataClaims.Tenant)?.Value : null;
                if (tenant is null) return RateLimitPartition.GetNoLimiter("");
                return RateLimitPartition.GetTokenBucketLimiter(tenant, id =>
                {
                    var (burst, tokens, period) = settings.For(id);
                    return new TokenBucketRateLimiterOptions
                    {
                        TokenLimit = burst,
                        TokensPerPeriod = tokens,
                        ReplenishmentPeriod = period,
                        QueueLimit = 0,
                        AutoReplenishment = true,
                    };
                });
            });
            options.OnRejected = (context, _) => RejectAsync(context, settings);
        });
        return builder;
    }

    private static async ValueTask RejectAsync(OnRejectedContext context, RateLimitOptions settings)
    {
        var http = context.HttpContext;
        var tenant = http.User.FindFirst(StrataClaims.Tenant)?.Value ?? "";
        var (burst, tokens, period) = settings.For(tenant);
        // The limiter knows when the next token arrives; a client must never be told to retry at once.
        var seconds = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter)
            ? Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds))
            : Math.Max(1, (int)Math.Ceiling(period.TotalSeconds));
        http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        var detail = string.Create(CultureInfo.InvariantCulture,
            $"Tenant '{tenant}' sent more requests than its limit ({burst} at once, then {tokens} every {period.TotalSeconds:0.##} s); retry after {seconds} s.");
        await Problem.WriteAsync(http, StatusCodes.Status429TooManyRequests, "Too many requests", detail, ProblemTypes.RateLimited);
    }
}
