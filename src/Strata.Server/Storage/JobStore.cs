using Microsoft.EntityFrameworkCore;

namespace Strata.Server.Storage;

/// <summary>Finds a tenant's training jobs; what other features use to check that a job is the caller's.</summary>
public sealed class JobStore(Store store)
{
    /// <summary>The job <paramref name="id"/> of <paramref name="tenantId"/>, or <c>null</c> when the tenant has no such job.</summary>
    public async Task<JobRecord?> FindAsync(string tenantId, string id, CancellationToken cancellationToken)
    {
        await using var db = store.CreateContext();
        return await db.Jobs.AsNoTracking().FirstOrDefaultAsync(j => j.Id == id && j.TenantId == tenantId, cancellationToken);
    }
}
