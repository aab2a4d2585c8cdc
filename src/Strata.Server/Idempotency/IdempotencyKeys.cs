using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Strata.Server.Storage;

namespace Strata.Server.Idempotency;

/// <summary>
/// The tenants' <c>Idempotency-Key</c>s (docs/idempotency.md): which are in flight on this server (in memory:
/// a second request with one while the first runs is a 409), and which are stored with the answer of the
/// request that created something (durable: the row is committed with what it created, so a retry after a
/// crash finds it). A key lives <see cref="Lifetime"/>; <see cref="IdempotencyKeySweep"/> removes it after.
/// </summary>
public sealed class IdempotencyKeys(Store store, TimeProvider time)
{
    /// <summary>How long a key is remembered (the draft leaves it to the server; 24 h covers a client's retries across an outage).</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(24);

    private readonly ConcurrentDictionary<(string TenantId, string Key), bool> _inFlight = new();

    /// <summary>A claim of the key for this request, which watches its body; <see cref="IdempotencyClaim.TryHold"/> marks the key in flight.</summary>
    public IdempotencyClaim Claim(string tenantId, string key, HttpRequest request) =>
        new(tenantId, key, request, time, () => _inFlight.TryAdd((tenantId, key), true), () => _inFlight.TryRemove((tenantId, key), out _));

    /// <summary>
    /// The stored answer of the key, if it has one that has not expired. An expired row is removed here, so
    /// that the new request with the key can store its own even before the sweep has run.
    /// </summary>
    public async Task<IdempotencyKeyRecord?> FindAsync(string tenantId, string key, CancellationToken cancellationToken)
    {
        await using var db = store.CreateContext();
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var stored = await db.IdempotencyKeys.AsNoTracking().FirstOrDefaultAsync(k => k.TenantId == tenantId && k.Key == key, cancellationToken);
        if (stored is null || stored.ExpiresAtUnixMs > now) return stored;
        await db.IdempotencyKeys.Where(k => k.TenantId == tenantId && k.Key == key && k.ExpiresAtUnixMs <= now).ExecuteDeleteAsync(cancellationToken);
        return null;
    }

    /// <summary>Removes every expired key; how many.</summary>
    public async Task<int> RemoveExpiredAsync(CancellationToken cancellationToken)
    {
        await using var db = store.CreateContext();
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        return await db.IdempotencyKeys.Where(k => k.ExpiresAtUnixMs <= now).ExecuteDeleteAsync(cancellationToken);
    }
}
