using Microsoft.EntityFrameworkCore;
using Strata.Contracts;
using Strata.Core.Deployments;
using Strata.Core.Runtime;
using Strata.Server.Artifacts;
using Strata.Server.Auth;
using Strata.Server.Deployments;
using Strata.Server.Hosting;
using Strata.Server.Jobs;
using Strata.Server.Quotas;
using Strata.Server.Runtime;
using Strata.Server.Storage;

namespace Strata.Server.Tenants;

/// <summary>Where one pass of a tenant's deletion left it.</summary>
public enum DeletionProgress
{
    /// <summary>The tenant is not being deleted (it is active, or gone).</summary>
    NotDeleting,
    /// <summary>Something of the tenant is still being stopped: pass again later.</summary>
    Waiting,
    /// <summary>Everything the tenant owned is gone, and its row with it.</summary>
    Done,
}

/// <summary>
/// Deleting a tenant, as one lifecycle: <see cref="RequestAsync"/> marks it deleting (durably; its tokens are
/// refused from then on), then passes of <see cref="ContinueAsync"/> take it apart in order: its deployments
/// (record, quota reservation, replicas), its active jobs (cancelled: their attempts stop, their quota is
/// freed), then, once no attempt of it is live, what the runtime keeps for it (the Kubernetes namespace), its
/// files (attempts' logs, artifacts, model files, inputs, checkpoints), and last, in one store write, its rows and the
/// tenant's own. Each step is idempotent and reads the store afresh, so a pass is safe to run twice and a
/// deletion a crash interrupted is finished by the next pass after the restart (<see cref="TenantDeletions"/>).
/// </summary>
public sealed class TenantDeletion(
    Store store,
    StoreWriter writer,
    TenantDirectory directory,
    TenantQuotas quotas,
    JobService jobs,
    DeploymentService deployments,
    IDeploymentRuntime deploymentRuntime,
    IJobRuntime jobRuntime,
    ITenantTeardown runtimeTeardown,
    ArtifactStore artifacts,
    DataFolder data,
    TimeProvider time,
    ILogger<TenantDeletion> logger)
{
    /// <summary>Marks the tenant deleting (if it is not already); the tenant as stored, or null when there is none.</summary>
    public async Task<TenantRecord?> RequestAsync(string tenantId, CancellationToken cancellationToken)
    {
        var record = await writer.WriteAsync(db =>
        {
            var tenant = db.Tenants.Find(tenantId);
            if (tenant is not null) tenant.DeletingSince ??= time.GetUtcNow();
            return tenant;
        }, cancellationToken);
        // Its tokens are refused on this server from here on; other servers see it within TenantDirectory.CacheFor.
        directory.Forget(tenantId);
        return record;
    }

    /// <summary>The tenants whose deletion was asked for and is not finished.</summary>
    public async Task<List<string>> PendingAsync(CancellationToken cancellationToken)
    {
        await using var db = store.CreateContext();
        return await db.Tenants.AsNoTracking().Where(t => t.DeletingSince != null).OrderBy(t => t.Id).Select(t => t.Id).ToListAsync(cancellationToken);
    }

    /// <summary>Takes the tenant apart as far as it can now; see the class.</summary>
    public async Task<DeletionProgress> ContinueAsync(string tenantId, CancellationToken cancellationToken)
    {
        using var scope = logger.BeginScope(new Dictionary<string, object> { ["tenant_id"] = tenantId });
        TenantRecord? tenant;
        await using (var db = store.CreateContext())
        {
            tenant = await db.Tenants.AsNoTracking().FirstOrDefaultAsync(t => t.Id == tenantId, cancellationToken);
        }
        if (tenant is not { IsDeleting: true }) return DeletionProgress.NotDeleting;
        directory.Forget(tenantId);

        // 1. Deployments: the record and its quota reservation, then the replicas; and any replica the runtime
        //    still runs for the tenant without a record (a crash between the two).
        foreach (var name in await DeploymentNamesAsync(tenantId, cancellationToken))
        {
            await deployments.DeleteAsync(tenantId, name, cancellationToken);
        }
        foreach (var key in deploymentRuntime.Deployments().Where(k => k.TenantId == tenantId))
        {
            await deploymentRuntime.RemoveAsync(key, cancellationToken);
        }

        // 2. Jobs: every active one is cancelled, which frees its quota and stops its live attempt.
        foreach (var jobId in await ActiveJobsAsync(tenantId, cancellationToken))
        {
            await jobs.CancelAsync(tenantId, jobId, cancellationToken);
        }

        // 3. Wait until each stopped attempt's end is recorded (the reconciler does it when the runtime reports
        //    the stop): that is what gives back the capacity it held. Removing the rows sooner would leave the
        //    attempts to run on as orphans.
        if (await HasLiveAttemptsAsync(tenantId, cancellationToken))
        {
            return DeletionProgress.Waiting;
        }

        // 4. What the runtime keeps for the tenant (its Kubernetes namespace): gone before the tenant is.
        if (!await runtimeTeardown.TearDownAsync(tenantId, cancellationToken))
        {
            return DeletionProgress.Waiting;
        }

        // 5. Files, while the row still says whose they are (a crash here is finished by the next pass).
        await DeleteFilesAsync(tenantId, cancellationToken);

        // 6. The rows, the tenant's own last, in one write: a tenant created later under the same id starts empty.
        var uid = tenant.Uid;
        await writer.WriteAsync(db =>
        {
            db.Attempts.Where(a => a.TenantId == tenantId).ExecuteDelete();
            db.Jobs.Where(j => j.TenantId == tenantId).ExecuteDelete();
            db.Metrics.Where(m => m.TenantId == tenantId).ExecuteDelete();
            db.MetricSeries.Where(m => m.TenantId == tenantId).ExecuteDelete();
            db.Artifacts.Where(a => a.TenantId == tenantId).ExecuteDelete();
            db.ModelAliases.Where(a => a.TenantId == tenantId).ExecuteDelete();
            db.ModelVersions.Where(v => v.TenantId == tenantId).ExecuteDelete();
            db.Models.Where(m => m.TenantId == tenantId).ExecuteDelete();
            db.Deployments.Where(d => d.TenantId == tenantId).ExecuteDelete();
            // Its replicas' usage goes with its attempts' (docs/usage.md); their last intervals were stored as they stopped, in step 1.
            db.ReplicaUsage.Where(u => u.TenantId == tenantId).ExecuteDelete();
            // A key must not replay a deleted job (or deployment) to a tenant created later under the same id.
            db.IdempotencyKeys.Where(k => k.TenantId == tenantId).ExecuteDelete();
            db.Tenants.Where(t => t.Id == tenantId && t.Uid == uid).ExecuteDelete();
        }, cancellationToken);

        // 7. What this server holds in memory for it: the queue's and the ledger's leftovers, its quota, the directory.
        jobs.TenantDeleted(tenantId);
        quotas.Forget(tenantId);
        directory.Forget(tenantId);
        logger.LogInformation("Tenant {TenantId} is deleted", tenantId);
        return DeletionProgress.Done;
    }

    private async Task<List<string>> DeploymentNamesAsync(string tenantId, CancellationToken cancellationToken)
    {
        await using var db = store.CreateContext();
        return await db.Deployments.AsNoTracking().Where(d => d.TenantId == tenantId).Select(d => d.Name).ToListAsync(cancellationToken);
    }

    private async Task<List<string>> ActiveJobsAsync(string tenantId, CancellationToken cancellationToken)
    {
        await using var db = store.CreateContext();
        return await db.Jobs.AsNoTracking()
            .Where(j => j.TenantId == tenantId && (j.Status == JobStatus.Pending || j.Status == JobStatus.Running))
            .Select(j => j.Id).ToListAsync(cancellationToken);
    }

    private async Task<bool> HasLiveAttemptsAsync(string tenantId, CancellationToken cancellationToken)
    {
        await using var db = store.CreateContext();
        return await db.Attempts.AsNoTracking()
            .AnyAsync(a => a.TenantId == tenantId && (a.Status == AttemptStatus.Starting || a.Status == AttemptStatus.Running), cancellationToken);
    }

    private async Task DeleteFilesAsync(string tenantId, CancellationToken cancellationToken)
    {
        await artifacts.DeleteTenantAsync(tenantId, cancellationToken);
        List<string> jobIds;
        List<AttemptRef> attempts;
        await using (var db = store.CreateContext())
        {
            jobIds = await db.Jobs.AsNoTracking().Where(j => j.TenantId == tenantId).Select(j => j.Id).ToListAsync(cancellationToken);
            attempts = (await db.Attempts.AsNoTracking().Where(a => a.TenantId == tenantId).Select(a => new { a.JobId, a.Number }).ToListAsync(cancellationToken))
                .Select(a => new AttemptRef(tenantId, a.JobId, a.Number)).ToList();
        }
        // The attempts' logs and folders, which the runtime keeps after an attempt ends while its job exists.
        foreach (var attempt in attempts)
        {
            await jobRuntime.ForgetAsync(attempt, discardLogs: true, cancellationToken);
        }
        foreach (var jobId in jobIds)
        {
            FileTrees.Delete(data.JobCheckpoints(jobId));
        }
        FileTrees.Delete(data.TenantArtifacts(tenantId));
        FileTrees.Delete(data.TenantModels(tenantId));
        FileTrees.Delete(Path.Combine(data.Inputs, tenantId));
    }
}
