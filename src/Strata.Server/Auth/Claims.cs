using System.Security.Claims;
using Strata.Contracts;

namespace Strata.Server.Auth;

/// <summary>The claims Strata's tokens carry besides the registered ones.</summary>
public static class StrataClaims
{
    public const string Tenant = "tenant";
    /// <summary>The incarnation of the tenant the token was issued for (<c>TenantRecord.Uid</c>): a tenant created again under the same id does not accept it.</summary>
    public const string TenantUid = "tenant_uid";
    public const string Role = "role";
    public const string Job = "job";
    /// <summary>A job token's attempt number; with <see cref="Job"/>, the attempt the token lives and dies with.</summary>
    public const string Attempt = "attempt";
    /// <summary>A model-fetch token's model (<see cref="Roles.ModelFetch"/>): the one model of its tenant it may read.</summary>
    public const string Model = "model";
}

/// <summary>Who is calling, read from a validated token.</summary>
public sealed record Caller(string Subject, string Role, string? TenantId, string? JobId, DateTimeOffset? ExpiresAt, string? TenantUid = null, string? ModelName = null)
{
    /// <summary>The tenant incarnation the token was issued for (checked on every request: it is the tenant's current one); null for admins.</summary>
    public TenantIncarnation? Tenant => TenantId is not null && TenantUid is not null ? new TenantIncarnation(TenantId, TenantUid) : null;

    public bool IsAdmin => Role == Roles.Admin;

    /// <summary>May read inside <see cref="TenantId"/>.</summary>
    public bool CanRead => TenantId is not null && Role is Roles.Owner or Roles.Member or Roles.Viewer;

    /// <summary>
    /// May read model <paramref name="name"/>'s versions and files: a tenant's reader, or a model-fetch token
    /// issued for that model.
    /// </summary>
    public bool CanReadModel(string name) => CanRead || (TenantId is not null && Role == Roles.ModelFetch && ModelName == name);

    /// <summary>May submit and change jobs inside <see cref="TenantId"/>.</summary>
    public bool CanWrite => TenantId is not null && Role is Roles.Owner or Roles.Member;

    public static Caller From(ClaimsPrincipal principal)
    {
        var expires = principal.FindFirstValue("exp") is { } exp && long.TryParse(exp, out var seconds)
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : (DateTimeOffset?)null;
        return new Caller(
            principal.FindFirstValue("sub") ?? "unknown",
            principal.FindFirstValue(StrataClaims.Role) ?? "",
            principal.FindFirstValue(StrataClaims.Tenant),
            principal.FindFirstValue(StrataClaims.Job),
            expires,
            principal.FindFirstValue(StrataClaims.TenantUid),
            principal.FindFirstValue(StrataClaims.Model));
    }
}

public static class CallerExtensions
{
    public static Caller Caller(this HttpContext context) =>
        context.Items[typeof(Caller)] as Caller ?? (Caller)(context.Items[typeof(Caller)] = Auth.Caller.From(context.User));
}
