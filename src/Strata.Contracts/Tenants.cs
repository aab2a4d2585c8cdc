namespace Strata.Contracts;

/// <summary>Body of <c>POST /v1/tenants</c>.</summary>
public sealed record CreateTenantRequest
{
    /// <summary>A DNS-1123 label of at most 40 characters (it becomes the namespace <c>ml-&lt;id&gt;</c>).</summary>
    public string? Id { get; init; }
    public string? Name { get; init; }
    public string? CostCenter { get; init; }
    /// <summary>The tenant's quota; fields left out take the server's defaults.</summary>
    public TenantQuotaSpec? Quota { get; init; }
}

public sealed record Tenant
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public string? CostCenter { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    /// <summary>
    /// <see cref="TenantStatuses.Active"/>, or <see cref="TenantStatuses.Deleting"/> from its deletion's request
    /// until everything it owned is gone (then the tenant is 404).
    /// </summary>
    public string Status { get; init; } = TenantStatuses.Active;
    /// <summary>When its deletion was asked for; null while it is active.</summary>
    public DateTimeOffset? DeletingSince { get; init; }
    /// <summary>The quota in force (the tenant's own values, else the server's defaults).</summary>
    public TenantQuota? Quota { get; init; }
}

/// <summary>The states of a tenant.</summary>
public static class TenantStatuses
{
    /// <summary>In use: its tokens work.</summary>
    public const string Active = "active";
    /// <summary>Its deletion was asked for and is under way: its tokens are refused, its jobs and deployments are being stopped and removed.</summary>
    public const string Deleting = "deleting";
}

/// <summary>The roles a token can carry.</summary>
public static class Roles
{
    /// <summary>The platform's operators: every tenant, every route.</summary>
    public const string Admin = "admin";
    /// <summary>Runs a tenant: everything inside it, including issuing its tokens.</summary>
    public const string Owner = "owner";
    /// <summary>Submits and manages jobs inside a tenant.</summary>
    public const string Member = "member";
    /// <summary>Reads inside a tenant.</summary>
    public const string Viewer = "viewer";
    /// <summary>A running job's own token: reports metrics and outputs for that job only.</summary>
    public const string Job = "job";
    /// <summary>
    /// The platform's monitoring (Prometheus): reads the replicas' scrape targets
    /// (<c>GET /v1/admin/prometheus/replicas</c>) and <c>/metrics</c>, and nothing else. Belongs to no tenant.
    /// </summary>
    public const string MetricsReader = "metrics-reader";
    /// <summary>
    /// A deployment's model delivery (<c>strata-worker fetch</c>): reads one model's versions and their files
    /// (<c>GET /v1/models/{name}/versions/{v}</c> and <c>.../file</c>) in its tenant, and nothing else. The server
    /// issues it for a deployment; it is not one of <see cref="TenantRoles"/>.
    /// </summary>
    public const string ModelFetch = "model-fetch";

    /// <summary>The roles a tenant's token can carry (<c>POST /v1/tenants/{id}/tokens</c>).</summary>
    public static readonly IReadOnlyList<string> TenantRoles = [Owner, Member, Viewer];

    /// <summary>The roles of tokens that belong to no tenant and that an admin can issue (<c>POST /v1/admin/tokens</c>).</summary>
    public static readonly IReadOnlyList<string> PlatformRoles = [MetricsReader];
}

/// <summary>Body of <c>POST /v1/tenants/{id}/tokens</c> and of <c>POST /v1/admin/tokens</c>.</summary>
public sealed record CreateTokenRequest
{
    /// <summary>
    /// For a tenant: <c>owner</c>, <c>member</c> (the default) or <c>viewer</c>. For the platform:
    /// <c>metrics-reader</c> (the default there).
    /// </summary>
    public string? Role { get; init; }
    /// <summary>Lifetime in days, 1 to 365; the default is 30.</summary>
    public int? ExpiresInDays { get; init; }
    /// <summary>Who or what the token is for; becomes its subject.</summary>
    public string? Subject { get; init; }
}

public sealed record TokenResponse
{
    public required string Token { get; init; }
    public string? TenantId { get; init; }
    public required string Role { get; init; }
    public required DateTimeOffset ExpiresAt { get; init; }
}

/// <summary>Response of <c>GET /v1/me</c>.</summary>
public sealed record Me
{
    public required string Subject { get; init; }
    public string? TenantId { get; init; }
    public required string Role { get; init; }
    public DateTimeOffset? ExpiresAt { get; init; }
}

/// <summary>Response of <c>GET /v1/health</c> (the seed course's shape).</summary>
public sealed record HealthResponse
{
    public required string Status { get; init; }
    public required string Service { get; init; }
    public string? Version { get; init; }
}
