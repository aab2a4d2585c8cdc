using System.Globalization;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.EntityFrameworkCore;
using Strata.Contracts;
using Strata.Core.Jobs;
using Strata.Core.Runtime;
using Strata.Server.Auth;
using Strata.Server.Problems;
using Strata.Server.Storage;

namespace Strata.Server.Jobs;

/// <summary>
/// <c>GET /v1/jobs/training/{id}/logs</c>: an attempt's output as text. <c>tail=N</c> starts N lines from
/// the end; <c>follow=true</c> keeps the response open and streams new output until the attempt ends
/// (for a job still pending, it first waits for its attempt to start). A distributed job's workers each have
/// their log: <c>rank=N</c> picks one (rank 0 by default), <c>rank=all</c> interleaves them line by line, each
/// line prefixed with <c>[rank N]</c> (and <c>tail=N</c> then applies to each rank).
/// </summary>
public static class JobLogs
{
    public const int MaxTailLines = 100_000;
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan StatePollInterval = TimeSpan.FromMilliseconds(500);

    public static async Task<IResult> StreamAsync(
        string id, HttpContext context, Store store, JobStore jobs, IJobRuntime runtime, TimeProvider time, CancellationToken cancellationToken)
    {
        var query = context.Request.Query;
        var errors = new ValidationErrors();
        int? tail = null;
        if (query.TryGetValue("tail", out var tailText) && !string.IsNullOrEmpty(tailText))
        {
            if (int.TryParse(tailText, NumberStyles.None, CultureInfo.InvariantCulture, out var lines) && lines <= MaxTailLines) tail = lines;
            else errors.Add("tail", $"must be 0 to {MaxTailLines}");
        }
        var follow = false;
        if (query.TryGetValue("follow", out var followText) && !string.IsNullOrEmpty(followText) && !bool.TryParse(followText, out follow))
        {
            errors.Add("follow", "must be true or false");
        }
        int? attemptNumber = null;
        if (query.TryGetValue("attempt", out var attemptText) && !string.IsNullOrEmpty(attemptText))
        {
            if (int.TryParse(attemptText, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= 1) attemptNumber = n;
            else errors.Add("attempt", "must be a positive attempt number");
        }
        var rank = 0;
        var rankText = query.TryGetValue("rank", out var rankValue) ? rankValue.ToString() : "";
        if (rankText == "all") rank = LogOptions.AllRanks;
        else if (rankText.Length > 0 && !int.TryParse(rankText, NumberStyles.None, CultureInfo.InvariantCulture, out rank)) errors.Add("rank", "must be a worker's rank (0, 1, ...) or all");
        if (!errors.IsEmpty) return Problem.Validation(errors.ToDictionary());

        var tenantId = context.Caller().TenantId!;
        var lookup = await jobs.ResolveAsync(tenantId, id, cancellationToken);
        var job = lookup.Job;
        if (job is null) return JobMapping.Unresolved(id, lookup);
        // From here on the job's own id: the reference may be a prefix or a name.
        id = job.Id;
        if (rank >= job.Workers)
        {
            return Problem.Validation("rank", $"must be 0 to {job.Workers - 1} or all: the job has {job.Workers} worker(s)");
        }
        if (attemptNumber > job.AttemptCount && !(follow && job.IsActive))
        {
            return Problem.NotFound($"Job '{id}' has no attempt {attemptNumber}.");
        }

        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.Headers.CacheControl = "no-cache";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        var body = context.Response.Body;

        // A pending job has no attempt yet: when following, wait for one (or for the job to end).
        var number = attemptNumber ?? job.AttemptCount;
        while (follow && (number == 0 || number > job.AttemptCount) && job.IsActive)
        {
            await Task.Delay(StatePollInterval, time, cancellationToken);
            job = await jobs.FindAsync(tenantId, id, cancellationToken);
            if (job is null) return Results.Empty;
            number = attemptNumber ?? job.AttemptCount;
        }
        if (number == 0 || number > job.AttemptCount) return Results.Empty;
        var attempt = new AttemptRef(tenantId, id, number);

        Stream? log = null;
        try
        {
            while ((log = await runtime.OpenLogAsync(attempt, new LogOptions(follow, tail, rank), cancellationToken)) is null)
            {
                if (!follow || await HasEndedAsync(store, attempt, cancellationToken)) return Results.Empty;
                await Task.Delay(PollInterval, time, cancellationToken);
            }
            if (tail is { } lines && log.CanSeek) log.Position = LogTail.StartOfLastLines(log, lines);
            var buffer = new byte[16 * 1024];
            var lastStateCheck = time.GetUtcNow();
            var ended = !follow;
            while (true)
            {
                var read = await log.ReadAsync(buffer, cancellationToken);
                if (read > 0)
                {
                    await body.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                    continue;
                }
                await body.FlushAsync(cancellationToken);
                if (ended) break;
                await Task.Delay(PollInterval, time, cancellationToken);
                if (time.GetUtcNow() - lastStateCheck >= StatePollInterval)
                {
                    lastStateCheck = time.GetUtcNow();
                    // One more read after the end is seen, so that the last output is not lost.
                    ended = await HasEndedAsync(store, attempt, cancellationToken);
                }
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
        }
        finally
        {
            if (log is not null) await log.DisposeAsync();
        }
        return Results.Empty;
    }

    private static async Task<bool> HasEndedAsync(Store store, AttemptRef attempt, CancellationToken cancellationToken)
    {
        await using var db = store.CreateContext();
        var status = await db.Attempts.AsNoTracking()
            .Where(a => a.JobId == attempt.JobId && a.Number == attempt.Number)
            .Select(a => (AttemptStatus?)a.Status)
            .FirstOrDefaultAsync(cancellationToken);
        return status is null or not (AttemptStatus.Starting or AttemptStatus.Running);
    }
}
