using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Strata.Contracts;
using Strata.Core.Quotas;
using Strata.Server.Storage;

namespace Strata.Server.Quotas;

/// <summary>
/// Every tenant's quota in force, in memory: a submission checks it without a query. Loaded from the store
/// on first use of a tenant (and for all tenants when the scheduler starts); a change on this server
/// (create, <c>PUT .../quota</c>, delete) updates it at once.
/// </summary>
public sealed class TenantQuotas(Store store, IOptions<QuotaDefaults> defaults)
{
    private readonly ConcurrentDictionary<string, Entry> _tenants = new(StringComparer.Ordinal);

    /// <summary>A tenant's quota as the API shows it and as the scheduler uses it.</summary>
    public sealed record Entry(TenantQuota Quota, QuotaLimits Limits);

    /// <summary>The tenant's quota, or null when there is no such tenant.</summary>
    public async ValueTask<Entry?> GetAsync(string tenantId, CancellationToken cancellationToken)
    {
        if (_tenants.TryGetValue(tenantId, out var entry)) return entry;
        await using var db = store.CreateContext();
        var record = await db.Tenants.AsNoTracking().FirstOrDefaultAsync(t => t.Id == tenantId, cancellationToken);
        return record is null ? null : Set(record);
    }

    /// <summary>Loads every tenant's quota (on start, so that metrics and the scheduler know them all).</summary>
    public async Task LoadAllAsync(CancellationToken cancellationToken)
    {
        await using var db = store.CreateContext();
        foreach (var record in await db.Tenants.AsNoTracking().ToListAsync(cancellationToken))
        {
            Set(record);
        }
    }

    /// <summary>Records the tenant's quota as stored now.</summary>
    public Entry Set(TenantRecord record)
    {
        var entry = ToEntry(record);
        _tenants[record.Id] = entry;
        return entry;
    }

    public void Forget(string tenantId) => _tenants.TryRemove(tenantId, out _);

    /// <summary>The known tenants and their quotas, for the metrics and the scheduler's snapshot.</summary>
    public IEnumerable<KeyValuePair<string, Entry>> All => _tenants;

    /// <summary>The scheduler's view: limits and weight by tenant.</summary>
    public Dictionary<string, QuotaLimits> Limits()
    {
        var limits = new Dictionary<string, QuotaLimits>(_tenants.Count, StringComparer.Ordinal);
        foreach (var (tenant, entry) in _tenants) limits[tenant] = entry.Limits;
        return limits;
    }

    /// <summary>The quota in force for <paramref name="record"/>: its own values, the defaults where it has none.</summary>
    public Entry ToEntry(TenantRecord record)
    {
        var d = defaults.Value;
        var quota = new TenantQuota
        {
            CpuCores = record.QuotaCpuCores ?? d.CpuCores,
            MemoryGb = record.QuotaMemoryGb ?? d.MemoryGb,
            GpuCount = record.QuotaGpuCount ?? d.GpuCount,
            MaxRunningJobs = record.QuotaMaxRunningJobs ?? d.MaxRunningJobs,
            MaxPendingJobs = record.QuotaMaxPendingJobs ?? d.MaxPendingJobs,
            MaxDeployments = record.QuotaMaxDeployments ?? d.MaxDeployments,
            MaxReplicas = record.QuotaMaxReplicas ?? d.MaxReplicas,
            OnQuotaExceeded = record.OnQuotaExceeded ?? d.OnQuotaExceeded,
            FairShareWeight = record.FairShareWeight ?? d.FairShareWeight,
        };
        return new Entry(quota, QuotaLimits.From(quota));
    }
}
