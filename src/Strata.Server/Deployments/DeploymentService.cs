using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Strata.Contracts;
using Strata.Core.Deployments;
using Strata.Core.Quotas;
using Strata.Server.Models;
using Strata.Core.Runtime;
using Strata.Server.Quotas;
using Strata.Server.Queue;
using Strata.Server.Storage;

namespace Strata.Server.Deployments;

/// <summary>What an update came to: the updated deployment, or why not (a field's error, the quota), or nothing when it is gone.</summary>
public sealed record UpdateOutcome(DeploymentRecord? Updated, QuotaExcess? Excess = null, (string Field, string Message)? Invalid = null);

/// <summary>A change of a deployment's canary: a new version (with or without a weight), a new weight, or weight 0 alone to remove it.</summary>
public sealed record CanaryChange(ResolvedModel? Model, double? Weight);

/// <summary>A model reference resolved to a registered version.</summary>
public sealed record ResolvedModel(string Reference, string Name, ModelVersionRecord Version);

/// <summary>
/// Creates, changes and removes deployments: the record in the store first (the acknowledged state),
/// then the runtime is told. Quota (<c>max_deployments</c>, and <c>max_replicas</c> counted as the sum
/// of the deployments' maximums, what they may scale to) is checked under a per-tenant lock, so that two
/// concurrent creations cannot both take the last place. Compute (<c>cpu_cores</c>, <c>memory_gb</c>) is
/// shared with the tenant's jobs: a deployment reserves its replicas' compute at their most in the job
/// queue's quota ledger, where job admission takes its own, so that neither can take what the other holds.
/// </summary>
public sealed class DeploymentService(
    Store store, TenantQuotas quotas, JobQueue ledger, IDeploymentRuntime runtime, PredictionWindow predictions, TimeProvider time, ILogger<DeploymentService> logger)
{
    private const int MaxStoredEvents = 20;
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _tenantLocks = new(StringComparer.Ordinal);

    /// <summary>Resolves <c>model@version</c>, <c>model@alias</c> or <c>model</c> (latest) in the tenant; null with a reason when it cannot.</summary>
    public async Task<(ResolvedModel? Model, string? Problem)> ResolveAsync(string tenantId, string reference, CancellationToken cancellationToken)
    {
        var at = reference.IndexOf('@', StringComparison.Ordinal);
        var name = at < 0 ? reference : reference[..at];
        var version = at < 0 ? ModelNames.Latest : reference[(at + 1)..];
        if (ModelNames.CheckModelName(name) is not null || version.Length == 0)
        {
            return (null, "must be model@version or model@alias (churn@3, churn@production), or a model's name for its latest version");
        }
        await using var db = store.CreateContext();
        var model = await db.Models.AsNoTracking().FirstOrDefaultAsync(m => m.TenantId == tenantId && m.Name == name, cancellationToken);
        if (model is null) return (null, $"the tenant has no model '{name}'");
        var number = ModelNames.AsNumber(version)
            ?? (version == ModelNames.Latest ? (model.LatestVersion > 0 ? model.LatestVersion : null)
                : (await db.ModelAliases.AsNoTracking().FirstOrDefaultAsync(a => a.TenantId == tenantId && a.ModelName == name && a.Alias == version, cancellationToken))?.Version);
        var record = number is null ? null : await db.ModelVersions.AsNoTracking()
            .FirstOrDefaultAsync(v => v.TenantId == tenantId && v.ModelName == name && v.Version == number, cancellationToken);
        if (record is null) return (null, $"model '{name}' has no version or alias '{version}'");
        return (new ResolvedModel(reference, name, record), null);
    }

    /// <summary>The most replicas a deployment may run: its maximum, and its canary's share of it.</summary>
    public static int MostReplicas(int maxReplicas, double? canaryWeight) =>
        maxReplicas + (canaryWeight is { } weight ? CanaryTarget.ReplicasFor(maxReplicas, weight) : 0);

    /// <summary>What a deployment holds of its tenant's compute quota: its replicas' compute, at the most replicas it may run.</summary>
    public static ResourceRequest Reservation(DeploymentRecord record) =>
        ResourceRequest.FromGb(record.CpuCores, record.MemoryGb, 0) * MostReplicas(record.MaxReplicas, record.CanaryWeight);

    /// <summary>Reserves the deployment's compute in place of what it reserved before; the excess when that does not fit.</summary>
    private async Task<QuotaExcess?> ReserveAsync(DeploymentRecord record, CancellationToken cancellationToken) =>
        ledger.ReserveForDeployment(record.TenantId, record.Name, Reservation(record),
            MostReplicas(record.MaxReplicas, record.CanaryWeight), (await quotas.GetAsync(record.TenantId, cancellationToken))?.Limits);

    /// <summary>The quota excess that taking <paramref name="maxReplicas"/> more replicas (and one more deployment when <paramref name="isNew"/>) would cause.</summary>
    private async Task<QuotaExcess?> CheckQuotaAsync(StrataDbContext db, string tenantId, string? replacing, int maxReplicas, bool isNew, CancellationToken cancellationToken)
    {
        var quota = (await quotas.GetAsync(tenantId, cancellationToken))?.Quota;
        if (quota is null) return null;
        var others = (await db.Deployments.AsNoTracking().Where(d => d.TenantId == tenantId && d.Name != replacing)
            .Select(d => new { d.MaxReplicas, d.CanaryWeight }).ToListAsync(cancellationToken))
            .Select(d => MostReplicas(d.MaxReplicas, d.CanaryWeight)).ToList();
        if (isNew && others.Count + 1 > quota.MaxDeployments)
        {
            return new QuotaExcess(QuotaResource.MaxDeployments, quota.MaxDeployments, others.Count, 1);
        }
        if (others.Sum() + maxReplicas > quota.MaxReplicas)
        {
            return new QuotaExcess(QuotaResource.MaxReplicas, quota.MaxReplicas, others.Sum(), maxReplicas);
        }
        return null;
    }

    /// <summary>Stores a new deployment and starts it; the outcome says which of created, over quota or taken it was.</summary>
    /// <param name="alsoWrite">Adds what must commit with the deployment (its idempotency key), or null.</param>
    public async Task<(DeploymentRecord? Created, QuotaExcess? Excess)> CreateAsync(DeploymentRecord record, Action<StrataDbContext>? alsoWrite, CancellationToken cancellationToken)
    {
        var gate = _tenantLocks.GetOrAdd(record.TenantId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            await using var db = store.CreateContext();
            // The name is checked first: a taken name is a conflict whatever the quota, and nothing may be
            // reserved under it (a taken name's reservation is its deployment's).
            if (await db.Deployments.AnyAsync(d => d.TenantId == record.TenantId && d.Name == record.Name, cancellationToken)) return (null, null);
            var most = MostReplicas(record.MaxReplicas, record.CanaryWeight);
            if (await CheckQuotaAsync(db, record.TenantId, null, most, isNew: true, cancellationToken) is { } excess) return (null, excess);
            if (await ReserveAsync(record, cancellationToken) is { } computeExcess) return (null, computeExcess);
            record.EventsJson = AddEvent("[]", "created", $"created serving {Describe(record)} ({record.ModelRef})");
            db.Deployments.Add(record);
            alsoWrite?.Invoke(db);
            try
            {
                await db.SaveChangesAsync(cancellationToken);
            }
            catch (DbUpdateException e) when (Store.IsUniqueViolation(e))
            {
                // Another server on the same database took the name between the check and the insert.
                ledger.ReleaseDeployment(record.TenantId, record.Name);
                return (null, null);
            }
            catch
            {
                ledger.ReleaseDeployment(record.TenantId, record.Name);
                throw;
            }
        }
        finally
        {
            gate.Release();
        }
        await ApplyAsync(record, cancellationToken);
        return (record, null);
    }

    /// <summary>
    /// Applies <paramref name="change"/> (which returns a field's error, or null), then the new
    /// <paramref name="model"/> and <paramref name="canary"/>, to the stored deployment and tells the runtime;
    /// nothing is stored when the change is invalid or over quota. A change of version remembers the
    /// version it replaces (for a rollback); a model set to the canary's version promotes the canary.
    /// </summary>
    public async Task<UpdateOutcome> UpdateAsync(
        string tenantId, string name, Func<DeploymentRecord, (string Field, string Message)?> change, ResolvedModel? model, CanaryChange? canary, CancellationToken cancellationToken)
    {
        var gate = _tenantLocks.GetOrAdd(tenantId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        DeploymentRecord? record;
        try
        {
            await using var db = store.CreateContext();
            record = await db.Deployments.FirstOrDefaultAsync(d => d.TenantId == tenantId && d.Name == name, cancellationToken);
            if (record is null) return new UpdateOutcome(null);
            var before = Describe(record);
            var (reservedBefore, replicasBefore) = (Reservation(record), MostReplicas(record.MaxReplicas, record.CanaryWeight));
            var servedBefore = record.ModelVersion;
            if (change(record) is { } invalid) return new UpdateOutcome(null, Invalid: invalid);
            if (model is not null)
            {
                if (model.Name != record.ModelName)
                {
                    return new UpdateOutcome(null, Invalid: ("model", $"the deployment serves model '{record.ModelName}'; a new version must be of it (deploy '{model.Name}' as another deployment)"));
                }
                record.ModelRef = model.Reference;
                record.ModelVersion = model.Version.Version;
            }
            if (canary is not null)
            {
                if (ChangeCanary(record, canary) is { } canaryInvalid) return new UpdateOutcome(null, Invalid: canaryInvalid);
            }
            else if (record.CanaryModelVersion == record.ModelVersion)
            {
                // The deployment now serves its canary's version: the canary is promoted, no longer a canary.
                ClearCanary(record);
            }
            if (record.ModelVersion != servedBefore) record.PreviousModelVersion = servedBefore;
            var most = MostReplicas(record.MaxReplicas, record.CanaryWeight);
            if (await CheckQuotaAsync(db, tenantId, name, most, isNew: false, cancellationToken) is { } excess) return new UpdateOutcome(null, excess);
            if (await ReserveAsync(record, cancellationToken) is { } computeExcess) return new UpdateOutcome(null, computeExcess);
            record.UpdatedAt = time.GetUtcNow();
            record.EventsJson = AddEvent(record.EventsJson, "updated", $"updated: {before} → {Describe(record)}");
            try
            {
                await db.SaveChangesAsync(cancellationToken);
            }
            catch
            {
                ledger.ReserveForDeployment(tenantId, name, reservedBefore, replicasBefore, limits: null);
                throw;
            }
        }
        finally
        {
            gate.Release();
        }
        await ApplyAsync(record, cancellationToken);
        return new UpdateOutcome(record);
    }

    /// <summary>Sets, reweighs or (weight 0 alone) removes the canary; a field's error when that cannot be.</summary>
    private static (string Field, string Message)? ChangeCanary(DeploymentRecord record, CanaryChange canary)
    {
        if (canary.Model is null && canary.Weight == 0)
        {
            ClearCanary(record);
            return null;
        }
        if (canary.Model is { } model)
        {
            if (model.Name != record.ModelName)
            {
                return ("canary.model", $"must be a version of the deployment's model '{record.ModelName}'");
            }
            record.CanaryModelRef = model.Reference;
            record.CanaryModelVersion = model.Version.Version;
        }
        else if (record.CanaryModelVersion is null)
        {
            return ("canary.model", "is required: the deployment has no canary to reweigh");
        }
        if (record.CanaryModelVersion == record.ModelVersion)
        {
            return ("canary.model", $"must be another version than the one the deployment serves ({record.ModelVersion})");
        }
        record.CanaryWeight = canary.Weight ?? record.CanaryWeight;
        return record.CanaryWeight is null ? ("canary.weight", "is required: the share of predictions the canary answers, above 0 and below 1") : null;
    }

    private static void ClearCanary(DeploymentRecord record)
    {
        record.CanaryModelRef = null;
        record.CanaryModelVersion = null;
        record.CanaryWeight = null;
    }

    /// <summary>
    /// What an event says the deployment is: "churn version 2, 1 to 4 replicas at 8 requests in flight each", or "... at 70% CPU"
    /// in mode cpu, and ", canary version 3 taking 10%". The scaling mode's target is named, so that a change of mode shows.
    /// </summary>
    private static string Describe(DeploymentRecord record) =>
        $"{record.ModelName} version {record.ModelVersion}, {record.MinReplicas} to {record.MaxReplicas} replicas at "
        + (record.ScalingMode == ScalingModes.Cpu
            ? $"{record.TargetCpuPercent.ToString(CultureInfo.InvariantCulture)}% CPU"
            : $"{record.TargetInFlight.ToString(CultureInfo.InvariantCulture)} requests in flight each")
        + (record.CanaryModelVersion is { } canary
            ? $", canary version {canary} taking {(record.CanaryWeight!.Value * 100).ToString("0.##", CultureInfo.InvariantCulture)}%"
            : "");

    /// <summary>Removes the deployment and stops its replicas; false when there was none.</summary>
    public async Task<bool> DeleteAsync(string tenantId, string name, CancellationToken cancellationToken)
    {
        var gate = _tenantLocks.GetOrAdd(tenantId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            await using var db = store.CreateContext();
            var removed = await db.Deployments.Where(d => d.TenantId == tenantId && d.Name == name).ExecuteDeleteAsync(cancellationToken);
            if (removed == 0) return false;
            ledger.ReleaseDeployment(tenantId, name);
        }
        finally
        {
            gate.Release();
        }
        await runtime.RemoveAsync(new DeploymentKey(tenantId, name), cancellationToken);
        // A deployment made again under this name starts with an empty window.
        predictions.Forget(new DeploymentKey(tenantId, name));
        return true;
    }

    /// <summary>
    /// Tells the runtime to run every stored deployment (on start: replicas do not outlive the server; then every
    /// <see cref="DeploymentsOptions.ResyncSeconds"/>: drift is repaired), but those of a tenant being deleted, whose
    /// deletion removes them; then has it remove what it runs that is stored no more.
    /// </summary>
    public async Task ResyncAsync(CancellationToken cancellationToken)
    {
        var listedAt = time.GetUtcNow();
        await using var db = store.CreateContext();
        var deployments = db.Deployments.AsNoTracking().Where(d => !db.Tenants.Any(t => t.Id == d.TenantId && t.DeletingSince != null));
        var stored = (await deployments.Select(d => new { d.TenantId, d.Name }).ToListAsync(cancellationToken))
            .Select(d => new DeploymentKey(d.TenantId, d.Name)).ToHashSet();
        foreach (var key in stored)
        {
            // Read again and applied under the tenant's lock: a deployment deleted or changed since the list above is
            // neither brought back nor rolled back to what the list said (a change's own apply comes after this one).
            var gate = _tenantLocks.GetOrAdd(key.TenantId, _ => new SemaphoreSlim(1, 1));
            await gate.WaitAsync(cancellationToken);
            try
            {
                await using var fresh = store.CreateContext();
                if (await fresh.Deployments.AsNoTracking().FirstOrDefaultAsync(d => d.TenantId == key.TenantId && d.Name == key.Name, cancellationToken) is not { } record) continue;
                // What was accepted keeps its reservation, even if the quota was lowered since.
                ledger.ReserveForDeployment(record.TenantId, record.Name, Reservation(record),
                    MostReplicas(record.MaxReplicas, record.CanaryWeight), limits: null);
                await ApplyAsync(record, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // One deployment the runtime refuses (a conflict with another manager's field) does not stop the others.
                logger.LogError(e, "Deployment {Deployment} could not be applied", key);
            }
            finally
            {
                gate.Release();
            }
        }
        await runtime.RetainOnlyAsync(stored, listedAt, cancellationToken);
    }

    private async Task ApplyAsync(DeploymentRecord record, CancellationToken cancellationToken)
    {
        await using var db = store.CreateContext();
        int[] wanted = record.CanaryModelVersion is { } canaryVersion ? [record.ModelVersion, canaryVersion] : [record.ModelVersion];
        var versions = await db.ModelVersions.AsNoTracking()
            .Where(v => v.TenantId == record.TenantId && v.ModelName == record.ModelName && wanted.Contains(v.Version))
            .ToDictionaryAsync(v => v.Version, cancellationToken);
        var missing = wanted.FirstOrDefault(v => !versions.ContainsKey(v));
        if (missing != 0)
        {
            logger.LogWarning("Deployment {Tenant}/{Name}: model {Model} version {Version} is gone; its replicas cannot start",
                record.TenantId, record.Name, record.ModelName, missing);
            return;
        }
        var version = versions[record.ModelVersion];
        var mode = record.ScalingMode;
        if (!runtime.SupportedScalingModes.Contains(mode))
        {
            // Stored under a runtime that ran it (the server has since moved from Kubernetes to local, say): the
            // deployment still serves, sized by an autoscaler this runtime has, rather than not at all.
            mode = runtime.SupportedScalingModes[0];
            logger.LogWarning("Deployment {Tenant}/{Name} asks for scaling mode {Stored}, which this runtime does not run; it scales in mode {Mode}",
                record.TenantId, record.Name, record.ScalingMode, mode);
        }
        var canary = record.CanaryModelVersion is { } v
            ? new CanaryTarget(v, versions[v].Uri, versions[v].InputSchemaJson, record.CanaryWeight!.Value)
            : null;
        try
        {
            await runtime.ApplyAsync(new DeploymentTarget(
                new DeploymentKey(record.TenantId, record.Name), record.ModelName, record.ModelVersion, version.Uri, version.InputSchemaJson,
                record.MinReplicas, record.MaxReplicas, record.TargetInFlight, record.CpuCores, record.MemoryGb, canary,
                mode, record.TargetCpuPercent), cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // What is stored stands (it was accepted): the runtime failed to act on it (a cluster refusing an object,
            // unreachable past its retries). The owner sees why in the deployment's events; each resync tries again.
            logger.LogError(e, "Deployment {Tenant}/{Name} could not be applied; the resync tries again", record.TenantId, record.Name);
            await db.Deployments.Where(d => d.TenantId == record.TenantId && d.Name == record.Name && d.UpdatedAt == record.UpdatedAt)
                .ExecuteUpdateAsync(u => u.SetProperty(d => d.EventsJson, AddEvent(record.EventsJson, "apply_failed", $"the runtime could not apply it: {e.Message}")), cancellationToken);
        }
    }

    private string AddEvent(string json, string reason, string message)
    {
        var events = JsonSerializer.Deserialize<List<DeploymentEvent>>(json, StrataJson.Options) ?? [];
        events.Add(new DeploymentEvent { Time = time.GetUtcNow(), Reason = reason, Message = message });
        if (events.Count > MaxStoredEvents) events.RemoveRange(0, events.Count - MaxStoredEvents);
        return JsonSerializer.Serialize(events, StrataJson.Options);
    }
}

/// <summary>Starts the stored deployments' replicas when the server starts, then resyncs them every <see cref="DeploymentsOptions.ResyncSeconds"/>.</summary>
public sealed class DeploymentsResync(DeploymentService deployments, IOptions<DeploymentsOptions> options, TimeProvider time, ILogger<DeploymentsResync> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await deployments.ResyncAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogError(e, "Could not resync the stored deployments");
            }
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(options.Value.ResyncSeconds), time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
