using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Strata.Server.Storage;

namespace Strata.Server.Auth;

/// <summary>One incarnation of a tenant: its id, and the uid it was created with (<see cref="TenantRecord.Uid"/>).</summary>
public readonly record struct TenantIncarnation(string TenantId, string Uid);

/// <summary>What the directory knows of a tenant: its incarnation, and whether it is being deleted.</summary>
public sealed record TenantEntry(TenantIncarnation Incarnation, bool Deleting);

/// <summary>
/// Answers "is this tenant here, and is it the incarnation a token was issued for?" on every authenticated
/// request without a query each time: what the store said is cached for <see cref="CacheFor"/>, a deletion on
/// this server evicts at once (<see cref="Forget"/>), and another server's deletion is seen within
/// <see cref="CacheFor"/>. A token naming another incarnation than the cached one makes the store be asked
/// again, so that a tenant created again elsewhere is not refused for a stale entry.
/// </summary>
public sealed class TenantDirectory(Store store, TimeProvider time)
{
    /// <summary>How long what the store said of a tenant is trusted.</summary>
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<string, (TenantEntry Entry, DateTimeOffset Until)> _known = new(StringComparer.Ordinal);

    /// <summary>The tenant as the store has it (or had it less than <see cref="CacheFor"/> ago); null when there is none.</summary>
    public async Task<TenantEntry?> FindAsync(string tenantId, CancellationToken cancellationToken)
    {
        if (_known.TryGetValue(tenantId, out var known) && known.Until > time.GetUtcNow()) return known.Entry;
        return await ReadAsync(tenantId, cancellationToken);
    }

    /// <summary>
    /// True when <paramref name="tenantId"/> exists, is not being deleted, and is the incarnation
    /// <paramref name="uid"/> names: what a tenant's token needs to be accepted.
    /// </summary>
    public async Task<bool> AcceptsAsync(string tenantId, string? uid, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(uid)) return false;
        var entry = await FindAsync(tenantId, cancellationToken);
        if (entry is not null && entry.Incarnation.Uid != uid)
        {
            // Perhaps cached before the tenant was deleted and created again (on another server).
            entry = await ReadAsync(tenantId, cancellationToken);
        }
        return entry is { Deleting: false } && entry.Incarnation.Uid == uid;
    }

    /// <summary>The tenant was deleted or marked deleting here: the next question goes to the store.</summary>
    public void Forget(string tenantId) => _known.TryRemove(tenantId, out _);

    private async Task<TenantEntry?> ReadAsync(string tenantId, CancellationToken cancellationToken)
    {
        await using var db = store.CreateContext();
        var found = await db.Tenants.AsNoTracking().Where(t => t.Id == tenantId)
            .Select(t => new { t.Uid, t.DeletingSince }).FirstOrDefaultAsync(cancellationToken);
        if (found is null)
        {
            _known.TryRemove(tenantId, out _);
            return null;
        }
        var entry = new TenantEntry(new TenantIncarnation(tenantId, found.Uid), found.DeletingSince is not null);
        _known[tenantId] = (entry, time.GetUtcNow() + CacheFor);
        return entry;
    }
}
