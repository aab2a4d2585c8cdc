using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;
using Strata.Contracts;
using Strata.Server.Hosting;
using Strata.Server.Tenants;

namespace Strata.Server.Auth;

/// <summary>Names of the authorization policies. Every route names one; the fallback denies.</summary>
public static class Policies
{
    /// <summary>Platform administrators.</summary>
    public const string Admin = "admin";
    /// <summary>Owners, members and viewers of a tenant.</summary>
    public const string TenantRead = "tenant-read";
    /// <summary>Owners and members of a tenant.</summary>
    public const string TenantWrite = "tenant-write";
    /// <summary>Owners and members of a tenant, and a job's own token (which the endpoint confines to its job: what the job reports about itself).</summary>
    public const string JobReport = "job-report";
}

public static class AuthSetup
{
    public static WebApplicationBuilder AddAuth(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<AuthOptions>().BindConfiguration(AuthOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<TokenIssuer>();
        builder.Services.AddHostedService<AdminTokenWriter>();

        builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer();
        builder.Services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<TokenIssuer>((options, issuer) =>
            {
                options.MapInboundClaims = false;
                options.TokenHandlers.Clear();
                options.TokenHandlers.Add(new AcceptedTokenCache { MapInboundClaims = false });
                options.TokenValidationParameters = issuer.ValidationParameters;
                options.Events = new JwtBearerEvents
                {
                    OnTokenValidated = RejectTokensOfDeletedTenantsAsync,
                    OnChallenge = async context =>
                    {
                        context.HandleResponse();
                        var detail = context.AuthenticateFailure is null
                            ? "Send a bearer token: Authorization: Bearer <token>."
                            : "The bearer token is invalid or expired; ask for a new one.";
                        context.Response.Headers.WWWAuthenticate = "Bearer";
                        await Problems.Problems.WriteAsync(context.HttpContext, 401, "Unauthenticated", detail, ProblemTypes.Unauthenticated);
                    },
                    OnForbidden = context => Problems.Problems.WriteAsync(context.HttpContext, 403, "Forbidden",
                        "This token's role may not do that.", ProblemTypes.Forbidden),
                };
            });

        builder.Services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build())
            .AddPolicy(Policies.Admin, p => p.RequireClaim(StrataClaims.Role, Roles.Admin))
            .AddPolicy(Policies.TenantRead, p => p.RequireClaim(StrataClaims.Tenant).RequireClaim(StrataClaims.Role, Roles.Owner, Roles.Member, Roles.Viewer))
            .AddPolicy(Policies.TenantWrite, p => p.RequireClaim(StrataClaims.Tenant).RequireClaim(StrataClaims.Role, Roles.Owner, Roles.Member))
            .AddPolicy(Policies.JobReport, p => p.RequireClaim(StrataClaims.Tenant).RequireClaim(StrataClaims.Role, Roles.Owner, Roles.Member, Roles.Job));
        return builder;
    }

    /// <summary>A tenant's tokens stop working the moment the tenant is deleted.</summary>
    private static async Task RejectTokensOfDeletedTenantsAsync(TokenValidatedContext context)
    {
        var tenant = context.Principal?.FindFirst(StrataClaims.Tenant)?.Value;
        if (tenant is null)
        {
            if (context.Principal?.FindFirst(StrataClaims.Role)?.Value != Roles.Admin)
            {
                context.Fail("A non-admin token must name its tenant.");
            }
            return;
        }
        var directory = context.HttpContext.RequestServices.GetRequiredService<TenantDirectory>();
        if (!await directory.ExistsAsync(tenant, context.HttpContext.RequestAborted))
        {
            context.Fail("The token's tenant does not exist.");
        }
    }
}

/// <summary>
/// Writes <c>admin-token</c> (mode 0600) to the data folder on start, unless the one there is still valid,
/// so that the first user has a way in.
/// </summary>
public sealed class AdminTokenWriter(DataFolder data, TokenIssuer issuer, IOptions<AuthOptions> options) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (File.Exists(data.AdminToken) && await issuer.IsValidAsync((await File.ReadAllTextAsync(data.AdminToken, cancellationToken)).Trim()))
        {
            return;
        }
        var (token, _) = issuer.Issue("admin", Roles.Admin, tenantId: null, TimeSpan.FromDays(options.Value.AdminTokenDays));
        DataFolder.WriteSecret(data.AdminToken, token + "\n");
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
