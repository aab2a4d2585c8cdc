using System.Security.Claims;
using Microsoft.IdentityModel.JsonWebTokens;
using Strata.Contracts;
using Strata.Server.Auth;

namespace Strata.Server.Dashboard;

/// <summary>
/// The dashboard's session: the cookie holds the very token the person signed in with (docs/dashboard.md), so
/// it carries no more rights than that token and dies with it. Every request under <c>/ui</c> is authenticated
/// by the API's own JWT bearer handler reading this cookie (revocation included: a dead tenant's token fails).
/// </summary>
public sealed class DashboardSession(TokenIssuer issuer, TenantDirectory tenants)
{
    public const string CookieName = "strata_ui";
    public const string PathPrefix = "/ui";

    /// <summary>The roles that may sign in: a person's. A job's token and the metrics reader's have no pages.</summary>
    private static readonly string[] PeopleRoles = [Roles.Admin, Roles.Owner, Roles.Member, Roles.Viewer];

    private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false };

    /// <summary>Why a token is refused, by the key the sign-in page words it with (<c>?refused=</c>).</summary>
    public static readonly IReadOnlyDictionary<string, string> Refusals = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["invalid"] = "That token is invalid or expired; ask for a new one (strata login prints how).",
        ["role"] = "That token is not a person's (a job's or the metrics reader's): it cannot sign in to the dashboard.",
        ["tenant"] = "That token's tenant does not exist (any more).",
        ["code"] = "That sign-in link was used already or is over a minute old: run strata ui again.",
    };

    /// <summary>Checks a pasted token as the API would; returns its expiry, or the key of why it is refused.</summary>
    public async Task<(DateTimeOffset? ExpiresAt, string? Refusal)> CheckAsync(string token, CancellationToken cancellationToken)
    {
        var result = await _handler.ValidateTokenAsync(token, issuer.ValidationParameters);
        if (!result.IsValid) return (null, "invalid");
        var identity = new ClaimsPrincipal(result.ClaimsIdentity);
        var caller = Caller.From(identity);
        if (!PeopleRoles.Contains(caller.Role)) return (null, "role");
        if (caller.TenantId is not null && !await tenants.AcceptsAsync(caller.TenantId, caller.TenantUid, cancellationToken))
        {
            return (null, "tenant");
        }
        return (result.SecurityToken.ValidTo is var to && to > DateTime.MinValue ? new DateTimeOffset(to, TimeSpan.Zero) : null, null);
    }

    /// <summary>HttpOnly, SameSite=Strict, Secure over HTTPS, scoped to /ui, expiring with the token.</summary>
    public static void SetCookie(HttpContext context, string token, DateTimeOffset? expiresAt) =>
        context.Response.Cookies.Append(CookieName, token, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = context.Request.IsHttps,
            Path = PathPrefix,
            Expires = expiresAt,
            IsEssential = true,
        });

    public static void DeleteCookie(HttpContext context) =>
        context.Response.Cookies.Delete(CookieName, new CookieOptions { Path = PathPrefix, HttpOnly = true, SameSite = SameSiteMode.Strict, Secure = context.Request.IsHttps });

    /// <summary>A signed-in person: an admin, or a tenant's owner, member or viewer.</summary>
    public static bool IsSignedIn(HttpContext context) =>
        context.User.Identity?.IsAuthenticated == true && PeopleRoles.Contains(context.Caller().Role);
}
