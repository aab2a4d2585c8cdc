using Microsoft.Extensions.Options;
using Strata.Contracts;
using Strata.Core.Jobs;
using Strata.Core.Quotas;
using Strata.Core.Runtime;
using Strata.Server.Hosting;
using Strata.Server.Idempotency;
using Strata.Server.Observability;
using Strata.Server.Attempts;
using Strata.Server.Queue;
using Strata.Server.Storage;

namespace Strata.Server.Jobs;

/// <summary>The outcome of a submission.</summary>
public abstract record SubmitResult
{
    public sealed record Accepted(JobRecord Job, TrainingJobSpec Spec) : SubmitResult;
    public sealed record Invalid(IReadOnlyDictionary<string, string[]> Errors) : SubmitResult;
    public sealed record NameTaken(string Name) : SubmitResult;
    /// <summary>The job would take the tenant over its quota (or its pending-jobs limit), and it did not choose to wait.</summary>
    public sealed record OverQuota(QuotaExcess Excess) : SubmitResult;
    /// <summary>The job alone asks for more than the tenant's whole quota: it could never run.</summary>
    public sealed record LargerThanQuota(QuotaExcess Excess) : SubmitResult;
    /// <summary>A dry run found nothing wrong: the spec as a submission would store it; nothing was created or held.</summary>
    public sealed record WouldBeAccepted(TrainingJobSpec Spec, bool WouldWaitForQuota) : SubmitResult;
}

/// <summary>Submits and cancels jobs: validation, quota, the durable write, then a nudge to the scheduler; a cancel is the attempt lifecycle's.</summary>
public sealed class JobService(
    StoreWriter writer,
    JobQueue queue,
    SchedulerWakeUp wakeUp,
    Quotas.TenantQuotas quotas,
    AttemptLifecycle attempts,
    Reconciler reconciler,
    IJobRuntime runtime,
    IRuntimeProfile profile,
    DataFolder data,
    TenantPaths tenantPaths,
    IOptions<JobsOptions> jobs,
    IOptions<Artifacts.CodeOptions> code,
    Artifacts.ArtifactStore artifacts,
    TimeProvider time,
    StrataMetrics metrics,
    ILogger<JobService> logger)
{
    private readonly JobDefaults _defaults = new()
    {
        CpuCores = jobs.Value.DefaultCpuCores ?? profile.DefaultCpuCores,
        MemoryGb = jobs.Value.DefaultMemoryGb ?? profile.DefaultMemoryGb,
        MaxAttempts = jobs.Value.DefaultMaxAttempts,
    };

    /// <param name="idempotency">The request's <c>Idempotency-Key</c>, if it sent one: its answer is committed with the job.</param>
    /// <param name="dryRun">
    /// Check everything a submission checks (the spec, the quota as it stands now) and create nothing: a client asks
    /// before it uploads, naming what it will upload <see cref="ArtifactUri.ToBeUploaded"/>.
    /// </param>
    public async Task<SubmitResult> SubmitAsync(string tenantId, TrainingJobSpec spec, IdempotencyClaim? idempotency, CancellationToken cancellationToken, bool dryRun = false)
    {
        var now = time.GetUtcNow();
        var id = Guid.CreateVersion7(now).ToString();
        using var scope = logger.BeginScope(new JobLogScope(tenantId, id));
        var paths = tenantPaths.For(tenantId);
        var defaultOutput = Path.Combine(data.TenantArtifacts(tenantId), "jobs", id, "output");
        var valid = JobSpecValidator.TryValidate(spec, tenantId, _defaults, paths, defaultOutput, runtime.Capacity, out var validated, out var errors);
        var sources = await CheckSourcesAsync(tenantId, spec, paths, dryRun, cancellationToken);
        if (valid) CheckLocalFiles(validated!.Spec, sources);
        if (valid) CheckGpuType(validated!.Spec, sources);
        if (!valid || !sources.IsEmpty)
        {
            var all = new Dictionary<string, string[]>(errors.ToDictionary(), StringComparer.Ordinal);
            foreach (var (field, messages) in sources.ToDictionary())
            {
                all[field] = [.. all.GetValueOrDefault(field, []), .. messages];
            }
            return new SubmitResult.Invalid(all);
        }
        var normalized = validated!.Spec;

        // Quota: taken in memory, atomically, before the write; given back if the write fails.
        if (!queue.Loaded.IsCompleted) await queue.Loaded.WaitAsync(cancellationToken);
        var quota = await quotas.GetAsync(tenantId, cancellationToken) ?? throw new InvalidOperationException($"Tenant '{tenantId}' has no quota.");
        if (QuotaMath.LargerThanQuota(quota.Limits.Resources, validated.Total) is { } tooLarge)
        {
            return new SubmitResult.LargerThanQuota(tooLarge);
        }
        var queueWhenExceeded = (normalized.OnQuotaExceeded ?? quota.Quota.OnQuotaExceeded) == QuotaPolicies.Queue;
        if (dryRun)
        {
            var wouldExceed = queue.WouldRefuse(tenantId, validated.Total, quota.Limits);
            return wouldExceed is { } refusal && (!queueWhenExceeded || refusal.Resource == QuotaResource.MaxPendingJobs)
                ? new SubmitResult.OverQuota(refusal)
                : new SubmitResult.WouldBeAccepted(normalized, wouldExceed is not null);
        }
        var reservation = queue.Reserve(tenantId, id, validated.Total, quota.Limits, queueWhenExceeded, out var excess);
        if (reservation == Reservation.Refused)
        {
            return new SubmitResult.OverQuota(excess!.Value);
        }

        var record = new JobRecord
        {
            Id = id,
            TenantId = tenantId,
            Name = normalized.Name!,
            Status = JobStatus.Pending,
            StatusReason = reservation == Reservation.Queued ? PendingReason.WaitingForQuota.ToStatusReason() : null,
            Priority = normalized.Priority ?? 0,
            CpuCores = validated.PerWorker.CpuCores,
            MemoryBytes = validated.PerWorker.MemoryBytes,
            Gpus = normalized.Compute?.GpuCount ?? 0,
            GpuFraction = normalized.Compute?.GpuFraction,
            GpuType = normalized.Compute?.GpuType,
            Workers = validated.Workers,
            SpecJson = JobRecord.WriteSpec(normalized),
            CreatedAt = now,
        };
        try
        {
            // Not cancelled with the request: once queued, the write commits, and the job must then be in the queue too.
            // The key and its answer in the same commit as the job: a crash after it, and a retry, find the job.
            await writer.WriteAsync(db =>
            {
                JobInserts.Insert(db, record);
                idempotency?.Record(db, StatusCodes.Status201Created, JobMapping.LocationOf(id), JobMapping.ToContract(record, normalized, null, null));
            }, CancellationToken.None);
        }
        catch (Exception e)
        {
            queue.CancelReservation(tenantId, id);
            if (Store.IsUniqueViolation(e)) return new SubmitResult.NameTaken(record.Name);
            throw;
        }
        queue.Accept(QueueEntries.ToPending(record), record.CreatedAt);
        metrics.JobCreated(tenantId);
        wakeUp.Wake();
        return new SubmitResult.Accepted(record, normalized);
    }


    /// <summary>
    /// Where the runtime knows its GPUs, a <c>gpu_type</c> must name one of them, and there must be as many devices
    /// (of the type) as a worker asks for: else the job would wait for ever.
    /// </summary>
    private void CheckGpuType(TrainingJobSpec spec, ValidationErrors errors)
    {
        if (spec.Compute?.GpuCount is not { } count || profile.GpuDevices is not { Count: > 0 } devices) return;
        var type = spec.Compute.GpuType;
        var matching = devices.Count(d => type is null || GpuDevices.Matches(type, d.Name));
        if (matching >= count) return;
        if (matching == 0)
        {
            var names = string.Join(", ", devices.Select(d => d.Name).Distinct(StringComparer.Ordinal));
            errors.Add("compute.gpu_type", $"no GPU of this runtime is a {type}; it has: {names}");
        }
        else
        {
            errors.Add("compute.gpu_count", $"this runtime has {matching} GPU(s){(type is null ? "" : $" of type {type}")}; a worker cannot have {count}");
        }
    }

    /// <summary>The artifacts a spec names must be the tenant's own (another tenant's is as missing), and its repository one the server may clone.</summary>
    private async Task<ValidationErrors> CheckSourcesAsync(string tenantId, TrainingJobSpec spec, PathPolicy paths, bool dryRun, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        foreach (var (field, value) in new[] { ("data_path", spec.DataPath), ("code_artifact", spec.CodeArtifact) })
        {
            if (!ArtifactUri.TryParse(value, out var id)) continue;
            if (dryRun && string.Equals(value, ArtifactUri.ToBeUploaded, StringComparison.OrdinalIgnoreCase)) continue;
            var artifact = await artifacts.FindAsync(tenantId, id, cancellationToken);
            if (artifact is null) errors.Add(field, $"artifact {id} was not found in this tenant; upload it first (POST /v1/artifacts)");
            else if (field == "code_artifact" && artifact.Kind != ArtifactKinds.Archive) errors.Add(field, $"artifact {id} is a single file; code must be a tar.gz archive");
        }
        if (spec.CodeRepo is { Length: > 0 } repo && repo.Length <= JobLimits.PathLength
            && !new CodeRepoPolicy(code.Value.AllowedHosts).TryCheck(repo, spec.CodeCommit, paths, out _, out var repoErrors))
        {
            foreach (var (field, messages) in repoErrors.ToDictionary())
            {
                foreach (var message in messages) errors.Add(field, message);
            }
        }
        return errors;
    }

    /// <summary>
    /// The local paths a spec names must be files or folders, never a FIFO, a socket or a device, whether named
    /// or reached through a link: the server and the job would block on one, or touch the machine's hardware.
    /// Only examined (<c>lstat</c>, <c>stat</c>), never opened; a path that does not exist yet is fine (the
    /// output, or data still to come), and where a link leads is the sandbox's check at the start.
    /// </summary>
    private static void CheckLocalFiles(TrainingJobSpec spec, ValidationErrors errors)
    {
        var repo = spec.CodeRepo is { } r && r.StartsWith("file://", StringComparison.OrdinalIgnoreCase) ? r["file://".Length..] : spec.CodeRepo;
        foreach (var (field, path) in new[] { ("data_path", spec.DataPath), ("model_output_path", spec.ModelOutputPath), ("code_repo", repo) })
        {
            if (path is null || !Path.IsPathRooted(path)) continue;
            var kind = SafeFiles.KindOf(path);
            if (kind == FileKind.SymbolicLink) kind = SafeFiles.KindOfTarget(path);
            if (kind is FileKind.Fifo or FileKind.Socket or FileKind.CharacterDevice or FileKind.BlockDevice)
            {
                errors.Add(field, $"is {SafeFiles.Describe(kind)}: {path}; name a regular file or a folder");
            }
        }
    }

    /// <summary>Cancels an active job of the tenant; its live attempt stops.</summary>
    public Task<CancelOutcome> CancelAsync(string tenantId, string jobId, CancellationToken cancellationToken)
    {
        using var scope = logger.BeginScope(new JobLogScope(tenantId, jobId));
        return attempts.CancelAsync(tenantId, jobId, cancellationToken);
    }

    /// <summary>
    /// A deleted tenant (its jobs cancelled and their attempts ended first, by its deletion) leaves the queue and
    /// the quota ledger, jobs' and deployments' shares alike; the reconciler stops any attempt of it left as an orphan.
    /// </summary>
    public void TenantDeleted(string tenantId)
    {
        queue.RemoveTenant(tenantId);
        metrics.TenantDeleted(tenantId);
        reconciler.Kick();
    }
}
