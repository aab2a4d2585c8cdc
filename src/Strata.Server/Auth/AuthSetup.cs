using System.Globalization;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;
using Strata.Contracts;
using Strata.Core.Runtime;
using Strata.Server.Hosting;
using Strata.Server.Problems;

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
    /// <summary>Administrators and the platform's monitoring (<see cref="Roles.MetricsReader"/>): the scrape targets.</summary>
    public const string MetricsRead = "metrics-read";
    /// <summary>
    /// Owners, members and viewers of a tenant, and a model-fetch token (<see cref="Roles.ModelFetch"/>), which the
    /// endpoint confines to its model (<see cref="Caller.CanReadModel"/>): a version and its file.
    /// </summary>
    public const string ModelFileRead = "model-file-read";
}

public static class AuthSetup
{
    public static WebApplicationBuilder AddAuth(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<AuthOptions>().BindConfiguration(AuthOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<TokenIssuer>();
        builder.Services.AddSingleton<LiveAttempts>();
        builder.Services.AddSingleton<TenantDirectory>();
        builder.Services.AddSingleton<ModelFetchTokens>();
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
                    OnTokenValidated = RejectRevokedTokensAsync,
                    OnChallenge = async context =>
                    {
                        context.HandleResponse();
                        var detail = context.AuthenticateFailure switch
                        {
                            null => "Send a bearer token: Authorization: Bearer <token>.",
                            JobTokenRefusedException refused => refused.Message,
                            _ => "The bearer token is invalid or expired; ask for a new one.",
                        };
                        context.Response.Headers.WWWAuthenticate = "Bearer";
                        await Problem.WriteAsync(context.HttpContext, 401, "Unauthenticated", detail, ProblemTypes.Unauthenticated);
                    },
                    OnForbidden = context => Problem.WriteAsync(context.HttpContext, 403, "Forbidden",
                        "This token's role may not do that.", ProblemTypes.Forbidden),
                };
            });

        // A route that names no policy is open to every role but the metrics reader and model fetch, which may use
        // only the routes that name them (Policies.MetricsRead, Policies.ModelFileRead) and the anonymous ones.
        var anyRoleButMetricsReader = new AuthorizationPolicyBuilder().RequireAuthenticatedUser()
            .RequireClaim(StrataClaims.Role, Roles.Admin, Roles.Owner, Roles.Member, Roles.Viewer, Roles.Job).Build();
        builder.Services.AddAuthorizationBuilder()
            .SetFallbackPolicy(anyRoleButMetricsReader)
            .SetDefaultPolicy(anyRoleButMetricsReader)
            .AddPolicy(Policies.Admin, p => p.RequireClaim(StrataClaims.Role, Roles.Admin))
            .AddPolicy(Policies.TenantRead, p => p.RequireClaim(StrataClaims.Tenant).RequireClaim(StrataClaims.Role, Roles.Owner, Roles.Member, Roles.Viewer))
            .AddPolicy(Policies.TenantWrite, p => p.RequireClaim(StrataClaims.Tenant).RequireClaim(StrataClaims.Role, Roles.Owner, Roles.Member))
            .AddPolicy(Policies.JobReport, p => p.RequireClaim(StrataClaims.Tenant).RequireClaim(StrataClaims.Role, Roles.Owner, Roles.Member, Roles.Job))
            .AddPolicy(Policies.MetricsRead, p => p.RequireClaim(StrataClaims.Role, Roles.Admin, Roles.MetricsReader))
            .AddPolicy(Policies.ModelFileRead, p => p.RequireClaim(StrataClaims.Tenant)
                .RequireClaim(StrataClaims.Role, Roles.Owner, Roles.Member, Roles.Viewer, Roles.ModelFetch));
        return builder;
    }

    /// <summary>
    /// Revocation, checked on every request (the accepted-token cache remembers signatures, not this): a tenant's
    /// tokens (owner, member, viewer, job, model-fetch) stop working the moment the tenant's deletion is asked for, and are
    /// never accepted by a tenant created later under the same id (they name the incarnation they were issued
    /// for, <see cref="StrataClaims.TenantUid"/>); a job's token also stops the moment its attempt ends.
    /// </summary>
    private static async Task RejectRevokedTokensAsync(TokenValidatedContext context)
    {
        var tenant = context.Principal?.FindFirst(StrataClaims.Tenant)?.Value;
        if (tenant is null)
        {
            if (context.Principal?.FindFirst(StrataClaims.Role)?.Value is not (Roles.Admin or Roles.MetricsReader))
            {
                context.Fail("A token of a tenant's role must name its tenant.");
            }
            return;
        }
        var directory = context.HttpContext.RequestServices.GetRequiredService<TenantDirectory>();
        var uid = context.Principal?.FindFirst(StrataClaims.TenantUid)?.Value;
        if (!await directory.AcceptsAsync(tenant, uid, context.HttpContext.RequestAborted))
        {
            // Gone, being deleted, or another tenant under the same id: a token never outlives the tenant it was issued for.
            context.Fail("The token's tenant does not exist (any more).");
            return;
        }
        var role = context.Principal?.FindFirst(StrataClaims.Role)?.Value;
        if (role == Roles.Job)
        {
            await RejectJobTokensOfEndedAttemptsAsync(context, tenant);
        }
        else if (role == Roles.ModelFetch && string.IsNullOrEmpty(context.Principal?.FindFirst(StrataClaims.Model)?.Value))
        {
            context.Fail("A model-fetch token must name its model.");
        }
    }

    /// <summary>
    /// A job's token works only while its attempt is starting or running (LiveAttempts): once the attempt ends
    /// (succeeded, failed, cancelled, preempted, lost), or its job is cancelled or gone, it is refused. A job
    /// token without an <c>attempt</c> claim (issued before tokens were bound to attempts) is refused too: which
    /// attempt it belonged to cannot be told, so it could not be revoked; a job gets a bound token with its
    /// next attempt.
    /// </summary>
    private static async Task RejectJobTokensOfEndedAttemptsAsync(TokenValidatedContext context, string tenant)
    {
        var principal = context.Principal!;
        var job = principal.FindFirst(StrataClaims.Job)?.Value;
        var attemptClaim = principal.FindFirst(StrataClaims.Attempt)?.Value;
        if (string.IsNullOrEmpty(job)
            || !int.TryParse(attemptClaim, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number < 1)
        {
            context.Fail(new JobTokenRefusedException("This job token names no attempt; a job's token is valid only for the attempt it was issued to."));
            return;
        }
        var live = context.HttpContext.RequestServices.GetRequiredService<LiveAttempts>();
        if (!await live.IsLiveAsync(new AttemptRef(tenant, job, number), context.HttpContext.RequestAborted))
        {
            context.Fail(new JobTokenRefusedException($"Attempt {number} of job '{job}' is over (it ended, or its job was cancelled); a job's token is valid only while its attempt runs."));
        }
    }

    /// <summary>Why a job's token was refused; unlike a bad signature's, its reason is told to the caller.</summary>
    private sealed class JobTokenRefusedException(string message) : Exception(message);
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
        var (token, _) = issuer.Issue("admin", Roles.Admin, tenant: null, TimeSpan.FromDays(options.Value.AdminTokenDays));
        DataFolder.WriteSecret(data.AdminToken, token + "\n");
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
