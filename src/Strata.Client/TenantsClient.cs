using Strata.Contracts;

namespace Strata.Client;

/// <summary>Tenants: <c>/v1/tenants</c>. Admin only.</summary>
public sealed class TenantsClient
{
    private readonly StrataClient _client;

    internal TenantsClient(StrataClient client) => _client = client;

    /// <summary>Creates a tenant.</summary>
    /// <exception cref="ValidationException">The id is not a DNS-1123 label, or another field is invalid.</exception>
    /// <exception cref="ConflictException">A tenant with this id exists.</exception>
    /// <exception cref="ForbiddenException">The token is not an admin's.</exception>
    /// <exception cref="StrataConnectionException">The server could not be reached.</exception>
    public Task<Tenant> CreateAsync(CreateTenantRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return _client.SendAsync<Tenant>(HttpMethod.Post, "v1/tenants", request, cancellationToken);
    }

    /// <summary>Lists every tenant.</summary>
    /// <exception cref="ForbiddenException">The token is not an admin's.</exception>
    /// <exception cref="StrataConnectionException">The server could not be reached.</exception>
    public Task<IReadOnlyList<Tenant>> ListAsync(CancellationToken cancellationToken = default) =>
        ReadListAsync(cancellationToken);

    private async Task<IReadOnlyList<Tenant>> ReadListAsync(CancellationToken cancellationToken) =>
        await _client.SendAsync<List<Tenant>>(HttpMethod.Get, "v1/tenants", null, cancellationToken);

    /// <summary>Reads one tenant.</summary>
    /// <exception cref="NotFoundException">No tenant has this id.</exception>
    /// <exception cref="StrataConnectionException">The server could not be reached.</exception>
    public Task<Tenant> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        return _client.SendAsync<Tenant>(HttpMethod.Get, $"v1/tenants/{StrataClient.Escape(id)}", null, cancellationToken);
    }

    /// <summary>Replaces a tenant's quota: fields left null take the server's defaults.</summary>
    /// <returns>The quota in force afterwards.</returns>
    /// <exception cref="ValidationException">A field is out of range (all such fields are named).</exception>
    /// <exception cref="NotFoundException">No tenant has this id.</exception>
    /// <exception cref="ForbiddenException">The token is not an admin's.</exception>
    /// <exception cref="StrataConnectionException">The server could not be reached.</exception>
    public Task<TenantQuota> SetQuotaAsync(string id, TenantQuotaSpec quota, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        ArgumentNullException.ThrowIfNull(quota);
        return _client.SendAsync<TenantQuota>(HttpMethod.Put, $"v1/tenants/{StrataClient.Escape(id)}/quota", quota, cancellationToken);
    }

    /// <summary>
    /// Asks for a tenant's deletion: its tokens are refused from then on, and the server stops and removes its
    /// deployments, jobs, models and artifacts. <see cref="GetAsync"/> shows it <c>deleting</c> until it is
    /// gone, then throws <see cref="NotFoundException"/>.
    /// </summary>
    /// <returns>The tenant, <c>deleting</c>.</returns>
    /// <exception cref="NotFoundException">No tenant has this id.</exception>
    /// <exception cref="ForbiddenException">The token is not an admin's.</exception>
    /// <exception cref="StrataConnectionException">The server could not be reached.</exception>
    public Task<Tenant> DeleteAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        return _client.SendAsync<Tenant>(HttpMethod.Delete, $"v1/tenants/{StrataClient.Escape(id)}", null, cancellationToken);
    }
}

/// <summary>Tokens: <c>/v1/tenants/{id}/tokens</c>, and <c>/v1/admin/tokens</c> for tokens of no tenant.</summary>
public sealed class TokensClient
{
    private readonly StrataClient _client;

    internal TokensClient(StrataClient client) => _client = client;

    /// <summary>Issues a signed token for a tenant (admin, or the tenant's owner).</summary>
    /// <exception cref="ValidationException">The role or lifetime is invalid.</exception>
    /// <exception cref="NotFoundException">No tenant has this id.</exception>
    /// <exception cref="ForbiddenException">The caller may not issue tokens for this tenant.</exception>
    /// <exception cref="StrataConnectionException">The server could not be reached.</exception>
    public Task<TokenResponse> CreateAsync(string tenantId, CreateTokenRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(tenantId);
        ArgumentNullException.ThrowIfNull(request);
        return _client.SendAsync<TokenResponse>(HttpMethod.Post, $"v1/tenants/{StrataClient.Escape(tenantId)}/tokens", request, cancellationToken);
    }

    /// <summary>
    /// Issues a signed token of a platform role, which belongs to no tenant (admin): <c>metrics-reader</c>
    /// (<see cref="Roles.MetricsReader"/>), which reads the replicas' scrape targets and nothing else.
    /// </summary>
    /// <exception cref="ValidationException">The role or lifetime is invalid.</exception>
    /// <exception cref="ForbiddenException">The token is not an admin's.</exception>
    /// <exception cref="StrataConnectionException">The server could not be reached.</exception>
    public Task<TokenResponse> CreatePlatformAsync(CreateTokenRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return _client.SendAsync<TokenResponse>(HttpMethod.Post, "v1/admin/tokens", request, cancellationToken);
    }
}
