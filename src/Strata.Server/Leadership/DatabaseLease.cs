using Microsoft.EntityFrameworkCore;
using Strata.Server.Storage;

namespace Strata.Server.Leadership;

/// <summary>
/// A lease in the database: one row per lease with its holder and expiry, taken or renewed by a single
/// conditional UPDATE (the holder renews; anyone takes an expired lease), so two replicas can never both
/// succeed. Works on SQLite and PostgreSQL alike. Replicas' clocks are assumed to agree within a small
/// fraction of the lease's length (NTP), as with Kubernetes' own Lease.
/// </summary>
public sealed class DatabaseLease(Store store, TimeProvider time, string name, string holder, TimeSpan duration)
{
    public string Holder => holder;

    /// <summary>Takes the lease if it is free or expired, or renews it if held; true when this replica holds it now.</summary>
    public async Task<bool> TryAcquireAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var expires = now + (long)duration.TotalMilliseconds;
        await using var db = store.CreateContext();
        var taken = await db.Leases
            .Where(l => l.Name == name && (l.Holder == holder || l.ExpiresAt < now))
            .ExecuteUpdateAsync(s => s.SetProperty(l => l.Holder, holder).SetProperty(l => l.ExpiresAt, expires), cancellationToken);
        if (taken == 1) return true;
        if (await db.Leases.AnyAsync(l => l.Name == name, cancellationToken)) return false;
        try
        {
            db.Leases.Add(new LeaseRecord { Name = name, Holder = holder, ExpiresAt = expires });
            await db.SaveChangesAsync(cancellationToken);
            return true;
        }
        catch (DbUpdateException e) when (Store.IsUniqueViolation(e))
        {
            return false; // another replica created it first
        }
    }

    /// <summary>Gives the lease up (on a clean shutdown), so that another replica need not wait for it to expire.</summary>
    public async Task ReleaseAsync(CancellationToken cancellationToken)
    {
        await using var db = store.CreateContext();
        await db.Leases.Where(l => l.Name == name && l.Holder == holder)
            .ExecuteUpdateAsync(s => s.SetProperty(l => l.ExpiresAt, 0L), cancellationToken);
    }
}
