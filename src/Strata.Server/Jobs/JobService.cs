using Microsoft.Extensions.Options;
using Strata.Contracts;
using Strata.Core.Jobs;
using Strata.Core.Runtime;
using Strata.Server.Hosting;
using Strata.Server.Observability;
using Strata.Server.Scheduling;
using Strata.Server.Storage;

namespace Strata.Server.Jobs;

/// <summary>The outcome of a submission.</summary>
public abstract record SubmitResult
{
    public sealed record Accepted(JobRecord Job, TrainingJobSpec Spec) : SubmitResult;
    public sealed record Invalid(IReadOnlyDictionary<string, string[]> Errors) : SubmitResult;
    public sealed record NameTaken(string Name) : SubmitResult;
}

/// <summary>Submits and cancels jobs: validation, the durable write, then a nudge to the scheduler.</summary>
public sealed class JobService(
    StoreWriter writer,
    JobQueue queue,
    Scheduler scheduler,
    Reconciler reconciler,
    IJobRuntime runtime,
    DataFolder data,
    IOptions<StrataOptions> strata,
    IOptions<JobsOptions> jobs,
    IOptions<Runtime.Local.LocalRuntimeOptions> local,
    IOptions<Runtime.Kubernetes.KubernetesRuntimeOptions> kubernetes,
    TimeProvider time,
    StrataMetrics metrics,
    ILogger<JobService> logger)
{
    private readonly JobDefaults _defaults = new()
    {
        CpuCores = jobs.Value.DefaultCpuCores ?? (runtime.Kind == Runtime.RuntimeOptions.Kubernetes ? kubernetes.Value.DefaultCpuCores : local.Value.DefaultCpuCores),
        MemoryGb = jobs.Value.DefaultMemoryGb ?? (runtime.Kind == Runtime.RuntimeOptions.Kubernetes ? kubernetes.Value.DefaultMemoryGb : local.Value.DefaultMemoryGb),
        MaxAttempts = jobs.Value.DefaultMaxAttempts,
    };
    private readonly List<string> _dataRoots = strata.Value.DataRoots.Count > 0 ? strata.Value.DataRoots : [Environment.CurrentDirectory];

    public async Task<SubmitResult> SubmitAsync(string tenantId, TrainingJobSpec spec, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var id = Guid.CreateVersion7(now).ToString();
        using var scope = logger.BeginScope(new JobLogScope(tenantId, id));
        var paths = new PathPolicy(data.TenantArtifacts(tenantId), _dataRoots, data.Root);
        var defaultOutput = Path.Combine(data.TenantArtifacts(tenantId), "jobs", id, "output");
        if (!JobSpecValidator.TryValidate(spec, tenantId, _defaults, paths, defaultOutput, runtime.Capacity, out var validated, out var errors))
        {
            return new SubmitResult.Invalid(errors.ToDictionary());
        }
        var normalized = validated!.Spec;
        var record = new JobRecord
        {
            Id = id,
            TenantId = tenantId,
            Name = normalized.Name!,
            Status = JobStatus.Pending,
            Priority = normalized.Priority ?? 0,
            CpuCores = validated.PerWorker.CpuCores,
            MemoryBytes = validated.PerWorker.MemoryBytes,
            Gpus = validated.PerWorker.Gpus,
            Workers = validated.Workers,
            SpecJson = JobMapping.WriteSpec(normalized),
            CreatedAt = now,
        };
        try
        {
            await writer.WriteAsync(db => JobInserts.Insert(db, record), cancellationToken);
        }
        catch (Exception e) when (Store.IsUniqueViolation(e))
        {
            return new SubmitResult.NameTaken(record.Name);
        }
        queue.Enqueue(JobTransitions.ToPending(record), record.CreatedAt);
        metrics.JobCreated(tenantId);
        scheduler.Wake();
        return new SubmitResult.Accepted(record, normalized);
    }

    /// <summary>Cancels an active job of the tenant.</summary>
    public async Task<CancelOutcome> CancelAsync(string tenantId, string jobId, CancellationToken cancellationToken)
    {
        using var scope = logger.BeginScope(new JobLogScope(tenantId, jobId));
        var outcome = await writer.WriteAsync(db => JobTransitions.Cancel(db, tenantId, jobId, time.GetUtcNow()), cancellationToken);
        if (!outcome.WasActive) return outcome;
        queue.Remove(jobId);
        metrics.JobEnded(JobEnded.Of(outcome.Job!));
        if (outcome.LiveAttempt is { } attempt)
        {
            // Stop outside the request: the worker sends SIGTERM, waits its grace, then SIGKILL, and
            // the reconciler records the attempt's end when the runtime reports it.
            _ = Task.Run(async () =>
            {
                try
                {
                    await runtime.StopAsync(attempt, CancellationToken.None);
                }
                catch (Exception e)
                {
                    logger.LogWarning(e, "Stopping attempt {Attempt} failed; the reconciler retries", attempt);
                }
            }, CancellationToken.None);
        }
        return outcome;
    }

    /// <summary>A deleted tenant's jobs leave the queue; the reconciler stops their attempts as orphans.</summary>
    public void TenantDeleted(string tenantId)
    {
        queue.RemoveTenant(tenantId);
        metrics.TenantDeleted(tenantId);
        reconciler.Kick();
    }
}
