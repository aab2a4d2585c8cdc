using System.Buffers.Text;
using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Strata.Contracts;
using Strata.Core.Jobs;
using Strata.Core.Runtime;
using Strata.Server.Auth;
using Strata.Server.Hosting;
using Strata.Server.Idempotency;
using Strata.Server.Problems;
using Strata.Server.Queue;
using Strata.Server.Quotas;
using Strata.Server.Retention;
using Strata.Server.Storage;
using Strata.Server.Usage;

namespace Strata.Server.Jobs;

/// <summary>The training jobs API (DESIGN.md, "Training job"). Every query is scoped to the caller's tenant.</summary>
public static class JobsApi
{
    public static WebApplicationBuilder AddJobs(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<JobsOptions>().BindConfiguration(JobsOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<JobService>();
        builder.Services.AddSingleton<IDiskSweep, CheckpointSweep>();
        return builder;
    }

    public static IEndpointRouteBuilder MapJobsApi(this IEndpointRouteBuilder app)
    {
        var jobs = app.MapGroup("/v1/jobs/training").WithTags("Training jobs");
        jobs.MapPost("", SubmitAsync).RequireAuthorization(Policies.TenantWrite).WithName("SubmitTrainingJob")
            .WithSummary("Submit a training job; with `dry_run=true`, check it (spec, paths, quota now) and create nothing.").Accepts<TrainingJobSpec>("application/json")
            .WithIdempotencyKey(_ => BodyLimits.JobSpec);
        jobs.MapGet("", ListAsync).RequireAuthorization(Policies.TenantRead).WithName("ListTrainingJobs")
            .WithSummary("List the tenant's training jobs, newest first; the next page is in the Link header.");
        jobs.MapGet("{id}", GetAsync).RequireAuthorization(Policies.TenantRead).WithName("GetTrainingJob").WithSummary("Get a training job.");
        jobs.MapDelete("{id}", CancelAsync).RequireAuthorization(Policies.TenantWrite).WithName("CancelTrainingJob")
            .WithSummary("Cancel a training job: a pending one is cancelled at once; a running one is `cancelling` until its processes have stopped, then `cancelled`. Cancelling a cancelled job again is a no-op.");
        jobs.MapGet("{id}/attempts", AttemptsAsync).RequireAuthorization(Policies.TenantRead).WithName("ListTrainingJobAttempts")
            .WithSummary("The attempts of a training job, first to last.");
        jobs.MapGet("{id}/logs", JobLogs.StreamAsync).RequireAuthorization(Policies.TenantRead).WithName("GetTrainingJobLogs")
            .WithSummary("An attempt's output: the last `tail` lines, and with `follow=true` a stream until it ends; `rank=N` picks a distributed job's worker (0 by default), `rank=all` interleaves them, each line prefixed `[rank N]`.")
            .Produces<string>(200, "text/plain").ProducesProblem(404).ProducesProblem(400);
        return app;
    }

    private static async Task<Results<Created<TrainingJob>, Ok<DryRunResult>, ValidationProblem, ProblemHttpResult>> SubmitAsync(
        HttpRequest request, JobService service, CancellationToken cancellationToken)
    {
        var caller = request.HttpContext.Caller();
        var dryRunText = request.Query["dry_run"].ToString();
        if (dryRunText.Length > 0 && dryRunText is not ("true" or "false"))
        {
            return Problem.Validation("dry_run", "must be true or false");
        }
        var (spec, problem) = await JsonBody.ReadAsync<TrainingJobSpec>(request, BodyLimits.JobSpec, cancellationToken);
        if (problem is not null) return problem;
        if (spec!.TenantId is not null && spec.TenantId != caller.TenantId)
        {
            return Problem.Forbidden($"tenant_id '{spec.TenantId}' is not this token's tenant; omit it or use '{caller.TenantId}'.");
        }
        var dryRun = dryRunText == "true";
        var result = await service.SubmitAsync(caller.TenantId!, spec, dryRun ? null : IdempotencyFilter.ClaimOf(request.HttpContext), cancellationToken, dryRun);
        switch (result)
        {
            case SubmitResult.WouldBeAccepted would:
                return TypedResults.Ok(new DryRunResult { Spec = would.Spec, WouldWaitForQuota = would.WouldWaitForQuota });
            case SubmitResult.Invalid invalid:
                return Problem.Validation(invalid.Errors);
            case SubmitResult.OverQuota over:
                return Problem.QuotaExceeded(over.Excess);
            case SubmitResult.LargerThanQuota larger:
                return Problem.RequestExceedsQuota(larger.Excess);
            case SubmitResult.NameTaken taken:
                return Problem.Conflict($"The tenant already has an active job named '{taken.Name}'; names are unique among pending and running jobs.");
            case SubmitResult.Accepted accepted:
                // No queue position yet: the scheduler places the job in its next cycle (GET shows it).
                return TypedResults.Created(JobMapping.LocationOf(accepted.Job.Id), JobMapping.ToContract(accepted.Job, accepted.Spec, null, null));
            default:
                throw new InvalidOperationException("Unknown submit result.");
        }
    }

    private static async Task<Results<Ok<TrainingJob[]>, ValidationProblem>> ListAsync(
        HttpContext context, Store store, IJobMetrics metricStore, JobQueue queue, IOptions<UsageOptions> usage, CancellationToken cancellationToken)
    {
        var query = context.Request.Query;
        var errors = new ValidationErrors();
        JobStatus? status = null;
        if (query.TryGetValue("status", out var statusText) && !string.IsNullOrEmpty(statusText))
        {
            if (Enum.TryParse<JobStatus>(statusText, ignoreCase: true, out var parsed) && !int.TryParse(statusText, out _))
            {
                status = parsed;
            }
            else
            {
                errors.Add("status", "must be one of pending, running, succeeded, failed, cancelled");
            }
        }
        var (limit, before) = Paging.Read(query, JobsOptions.DefaultPageSize, JobsOptions.MaxPageSize, errors);
        if (!errors.IsEmpty) return Problem.Validation(errors.ToDictionary());

        var tenantId = context.Caller().TenantId!;
        await using var db = store.CreateContext();
        var jobs = db.Jobs.AsNoTracking().Where(j => j.TenantId == tenantId);
        if (status is { } s) jobs = jobs.Where(j => j.Status == s);
        if (before is { } b) jobs = jobs.Where(j => j.Seq < b);
        var page = await jobs.OrderByDescending(j => j.Seq).Take(limit + 1).ToListAsync(cancellationToken);
        if (page.Count > limit)
        {
            page.RemoveAt(limit);
            Paging.SetNextLink(context, limit, page[^1].Seq, ("status", status is null ? null : statusText.ToString()));
        }
        var metrics = await metricStore.LatestAsync(page.Select(j => j.Id).ToArray(), cancellationToken);
        return TypedResults.Ok(page.Select(job => ToContract(job, queue, usage.Value, metrics.GetValueOrDefault(job.Id))).ToArray());
    }

    private static async Task<Results<Ok<TrainingJob>, ProblemHttpResult>> GetAsync(
        string id, HttpContext context, JobStore jobs, IJobMetrics metricStore, JobQueue queue, TenantQuotas quotas, IOptions<UsageOptions> usage,
        CancellationToken cancellationToken)
    {
        var lookup = await jobs.ResolveAsync(context.Caller().TenantId!, id, cancellationToken);
        if (lookup.Job is not { } job) return JobMapping.Unresolved(id, lookup);
        var metrics = await metricStore.LatestAsync([job.Id], cancellationToken);
        var contract = ToContract(job, queue, usage.Value, metrics.GetValueOrDefault(job.Id));
        if (contract.StatusReason == StatusReasons.WaitingForQuota && await quotas.GetAsync(job.TenantId, cancellationToken) is { } quota
            && queue.QuotaWait(job.Id, quota.Limits) is { } wait)
        {
            contract = contract with { StatusMessage = $"waiting for quota: {wait.Describe()}" };
        }
        return TypedResults.Ok(contract);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> CancelAsync(
        string id, HttpContext context, JobStore jobs, JobService service, CancellationToken cancellationToken)
    {
        var tenantId = context.Caller().TenantId!;
        var lookup = await jobs.ResolveAsync(tenantId, id, cancellationToken);
        if (lookup.Job is not { } job) return JobMapping.Unresolved(id, lookup);
        var outcome = await service.CancelAsync(tenantId, job.Id, cancellationToken);
        if (outcome.Job is null) return Problem.JobNotFound(id);
        // Idempotent: a job already cancelled, or still cancelling, is what the caller asks for.
        if (!outcome.WasActive && !outcome.IsCancelled)
        {
            return Problem.Conflict($"Job '{job.Id}' has already ended ({outcome.Job.Status.ToString().ToLowerInvariant()}); there is nothing to cancel.");
        }
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<JobAttempt[]>, ProblemHttpResult>> AttemptsAsync(
        string id, HttpContext context, Store store, JobStore jobs, CancellationToken cancellationToken)
    {
        var tenantId = context.Caller().TenantId!;
        var lookup = await jobs.ResolveAsync(tenantId, id, cancellationToken);
        if (lookup.Job is not { } job) return JobMapping.Unresolved(id, lookup);
        await using var db = store.CreateContext();
        var attempts = await db.Attempts.AsNoTracking()
            .Where(a => a.JobId == job.Id && a.TenantId == tenantId)
            .OrderBy(a => a.Number)
            .ToListAsync(cancellationToken);
        return TypedResults.Ok(attempts.Select(JobMapping.ToContract).ToArray());
    }

    private static TrainingJob ToContract(JobRecord job, JobQueue queue, UsageOptions usage, Dictionary<string, double>? metrics)
    {
        var (reason, position) = job.Status == JobStatus.Pending ? queue.Describe(job.Id) : (null, null);
        return JobMapping.ToContract(job, job.ReadSpec(), reason?.ToStatusReason(), position, usage.HintMinSeconds) with { Metrics = metrics ?? [] };
    }
}
