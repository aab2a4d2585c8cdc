using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Strata.Server.Storage;

namespace Strata.Server.Auth;

/// <summary>
/// Answers "does this tenant exist?" on every authenticated request without a query each time: known
/// tenants are cached for a short while, and a deletion on this server evicts at once.
/// </summary>
public sealed class TenantDirectory(Store store, TimeProvider time)
{
    private static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(10);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _known = new(StringComparer.Ordinal);

    public async Task<bool> ExistsAsync(string tenantId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (_known.TryGetValue(tenantId, out var until) && until > now)
        {
            return true;
        }
        await using var db = store.CreateContext();
        var exists = await db.Tenants.AsNoTracking().AnyAsync(t => t.Id == tenantId, cancellationToken);
        if (exists)
        {
            _known[tenantId] = now + CacheFor;
        }
        else
        {
            _known.TryRemove(tenantId, out _);
        }
        return exists;
    }

    public void Forget(string tenantId) => _known.TryRemove(tenantId, out _);
}
