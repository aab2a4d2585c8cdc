namespace Strata.Server.Runtime;

/// <summary>
/// What a runtime keeps for a tenant besides its attempts and replicas (on Kubernetes: the tenant's namespace,
/// with its quota, roles and policies), removed when the tenant is deleted.
/// </summary>
public interface ITenantTeardown
{
    /// <summary>
    /// Removes what the runtime keeps for <paramref name="tenantId"/>, or starts to; true once nothing of it is
    /// left. Idempotent: called again until it returns true.
    /// </summary>
    Task<bool> TearDownAsync(string tenantId, CancellationToken cancellationToken);
}

/// <summary>The local runtime keeps nothing per tenant beyond its attempts' folders, which go with the attempts.</summary>
public sealed class NoTenantTeardown : ITenantTeardown
{
    public Task<bool> TearDownAsync(string tenantId, CancellationToken cancellationToken) => Task.FromResult(true);
}
