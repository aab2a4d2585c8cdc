using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Strata.Server.Storage;

namespace Strata.Server.Runtime.Kubernetes;

/// <summary>What one provisioning pass did.</summary>
public sealed record ProvisioningPass(int Tenants, int Created, int NamespacesDeleted, int Failed);

/// <summary>
/// Level-triggered tenant provisioning. Each pass (every <see cref="KubernetesRuntimeOptions.ProvisionSeconds"/>)
/// applies every tenant's objects (<see cref="TenantManifests"/>, server-side apply): what is missing is created,
/// what drifted from Strata's fields (a deleted quota, a removed label) is put back, a field another manager took
/// over is reported as a conflict and left alone; and the namespace of a tenant that
/// no longer exists, or is being deleted, is deleted with everything in it. A pass is safe to run twice, and on
/// several servers. A tenant's deletion removes its namespace through <see cref="TearDownAsync"/> and waits until it is gone.
/// </summary>
public sealed class TenantProvisioner(
    ClusterApi api,
    Store store,
    IOptions<KubernetesRuntimeOptions> options,
    Quotas.TenantQuotas quotas,
    TimeProvider time,
    ILogger<TenantProvisioner> logger) : BackgroundService, ITenantTeardown
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.ProvisionSeconds), time);
        do
        {
            try
            {
                var pass = await ReconcileAllAsync(stoppingToken);
                if (pass.Created > 0 || pass.NamespacesDeleted > 0 || pass.Failed > 0)
                {
                    logger.LogInformation("Provisioned {Tenants} tenants: {Created} objects created, {Deleted} namespaces deleted, {Failed} tenants failed",
                        pass.Tenants, pass.Created, pass.NamespacesDeleted, pass.Failed);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogError(e, "Provisioning pass failed; the next one retries");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>One pass over every tenant, then over the namespaces of deleted ones.</summary>
    public async Task<ProvisioningPass> ReconcileAllAsync(CancellationToken cancellationToken)
    {
        List<TenantRecord> tenants;
        await using (var db = store.CreateContext())
        {
            // A tenant being deleted is not provisioned again: its namespace goes, as a deleted tenant's does.
            tenants = await db.Tenants.AsNoTracking().Where(t => t.DeletingSince == null).ToListAsync(cancellationToken);
        }
        int created = 0, failed = 0;
        foreach (var tenant in tenants)
        {
            try
            {
                created += await ApplyAsync(tenant, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                failed++;
                logger.LogWarning(e, "Provisioning tenant {TenantId} failed; the next pass retries", tenant.Id);
            }
        }

        var deleted = 0;
        var existing = tenants.Select(t => t.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var ns in (await api.ListTenantNamespacesAsync(cancellationToken)).Items)
        {
            var labels = ns.Metadata.Labels;
            if (labels is null || !labels.TryGetValue(KubernetesNames.TenantLabel, out var tenantId)) continue;
            // Only the namespace Strata names after the tenant: never one that merely carries its labels.
            if (existing.Contains(tenantId) || ns.Metadata.Name != KubernetesNames.Namespace(tenantId)) continue;
            if (ns.Status?.Phase == "Terminating") continue;
            logger.LogInformation("Deleting namespace {Namespace}: its tenant is gone", ns.Metadata.Name);
            await api.DeleteNamespaceAsync(ns.Metadata.Name, cancellationToken);
            deleted++;
        }
        return new ProvisioningPass(tenants.Count, created, deleted, failed);
    }

    /// <summary>Provisions one tenant now (a job is about to start in a namespace the last pass has not made); false when there is no such tenant.</summary>
    public async Task<bool> ProvisionAsync(string tenantId, CancellationToken cancellationToken)
    {
        TenantRecord? tenant;
        await using (var db = store.CreateContext())
        {
            tenant = await db.Tenants.AsNoTracking().FirstOrDefaultAsync(t => t.Id == tenantId, cancellationToken);
        }
        if (tenant is null || tenant.IsDeleting) return false;
        await ApplyAsync(tenant, cancellationToken);
        return true;
    }

    /// <summary>Deletes the tenant's namespace (only the one Strata made for it); true once it is gone.</summary>
    public async Task<bool> TearDownAsync(string tenantId, CancellationToken cancellationToken)
    {
        var name = KubernetesNames.Namespace(tenantId);
        var ns = await api.ReadNamespaceAsync(name, cancellationToken);
        if (ns is null) return true;
        // Never a namespace that merely has the name: only one labelled as this tenant's.
        if (ns.Metadata.Labels is not { } labels || !labels.TryGetValue(KubernetesNames.TenantLabel, out var owner) || owner != tenantId) return true;
        if (ns.Status?.Phase != "Terminating")
        {
            logger.LogInformation("Deleting namespace {Namespace}: its tenant is being deleted", name);
            await api.DeleteNamespaceAsync(name, cancellationToken);
        }
        return false;
    }

    /// <summary>
    /// Applies the tenant's objects (server-side apply), the namespace first; returns how many were created. A
    /// drifted field of Strata's is put back by the apply itself; one another manager changed is a conflict
    /// (<see cref="ApplyConflictException"/>), which fails this tenant's pass and is logged, not overwritten.
    /// </summary>
    private async Task<int> ApplyAsync(TenantRecord tenant, CancellationToken cancellationToken)
    {
        using var scope = logger.BeginScope(new Dictionary<string, object> { ["tenant_id"] = tenant.Id });
        var created = 0;
        foreach (var item in TenantManifests.Build(new TenantNamespace(tenant.Id, tenant.CostCenter, QuotaFor(tenant)), options.Value))
        {
            var applied = await api.ApplyAsync(item, cancellationToken)
                ?? throw new InvalidOperationException($"the namespace {item.Metadata.NamespaceProperty} of {item.Kind} {item.Metadata.Name} is gone");
            if (!applied.Created) continue;
            created++;
            logger.LogInformation("Created {Kind} {Name} of tenant {TenantId}", item.Kind, item.Metadata.Name, tenant.Id);
        }
        return created;
    }

    /// <summary>
    /// The tenant's limits for its ResourceQuota: cores, memory and GPUs from the tenant's own quota (the
    /// cluster then enforces what Strata's admission already does); pods, Job objects and volumes, which
    /// Strata's quota does not name, from <see cref="KubernetesRuntimeOptions.TenantQuota"/>.
    /// </summary>
    private TenantQuotaLimits QuotaFor(TenantRecord tenant)
    {
        var quota = quotas.ToEntry(tenant).Quota;
        return options.Value.TenantQuota with { CpuCores = quota.CpuCores, MemoryGb = quota.MemoryGb, GpuCount = quota.GpuCount };
    }
}
