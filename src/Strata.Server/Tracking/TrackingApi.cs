using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Strata.Contracts;
using Strata.Core.Jobs;
using Strata.Core.Tracking;
using Strata.Server.Attempts;
using Strata.Server.Auth;
using Strata.Server.Hosting;
using Strata.Server.Jobs;
using Strata.Server.Problems;
using Strata.Server.Storage;

namespace Strata.Server.Tracking;

/// <summary>
/// Experiment tracking: <c>POST /v1/jobs/training/{id}/metrics</c> (one point or an array of them, with the
/// job's own token or a tenant member's), <c>GET</c> the history. <c>STRATA_METRIC</c> lines of a job's
/// output are recorded by <see cref="LogMetricsCollector"/>.
/// </summary>
public static class TrackingApi
{
    public const int DefaultPageSize = 1000;
    public const int MaxPageSize = 10_000;

    public static WebApplicationBuilder AddTracking(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<TrackingOptions>().BindConfiguration(TrackingOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<MetricStore>();
        builder.Services.AddSingleton<IJobMetrics>(services => services.GetRequiredService<MetricStore>());
        builder.Services.AddSingleton<LogMetricsCollector>();
        builder.Services.AddSingleton<IAttemptMetrics>(services => services.GetRequiredService<LogMetricsCollector>());
        builder.Services.AddHostedService(services => services.GetRequiredService<LogMetricsCollector>());
        return builder;
    }

    public static IEndpointRouteBuilder MapTrackingApi(this IEndpointRouteBuilder app)
    {
        var metrics = app.MapGroup("/v1/jobs/training/{id}/metrics").WithTags("Training jobs");
        metrics.MapPost("", ReportAsync).RequireAuthorization(Policies.JobReport).WithName("ReportTrainingJobMetrics")
            .WithSummary("Record metric points of a job: one {name, value, step, time} or an array of them.")
            .Accepts<MetricPoint[]>("application/json");
        metrics.MapGet("", HistoryAsync).RequireAuthorization(Policies.TenantRead).WithName("GetTrainingJobMetrics")
            .WithSummary("A job's metric points in the order recorded, optionally of one name; the next page is in the Link header.");
        return app;
    }

    private static async Task<Results<Ok<MetricsRecorded>, ValidationProblem, ProblemHttpResult>> ReportAsync(
        string id, HttpRequest request, JobStore jobs, StoreWriter writer, TimeProvider time, CancellationToken cancellationToken)
    {
        var caller = request.HttpContext.Caller();
        if (caller.Role == Roles.Job && caller.JobId != id)
        {
            return Problem.Forbidden("A job's token reports metrics for that job only.");
        }
        var (document, problem) = await JsonBody.ReadAsync<JsonDocument>(request, BodyLimits.MetricReport, cancellationToken);
        if (problem is not null) return problem;
        using var _ = document;
        var body = document!.RootElement;
        var isBatch = body.ValueKind == JsonValueKind.Array;
        MetricPoint[] points;
        try
        {
            points = isBatch ? body.Deserialize<MetricPoint[]>(StrataJson.Options)! : [body.Deserialize<MetricPoint>(StrataJson.Options)!];
        }
        catch (JsonException e)
        {
            var wrong = JsonErrors.Describe(e, StrataJson.Options) is { } described
                ? described.Field.Length == 0 ? $"it {described.Message}" : $"{described.Field}: {described.Message}"
                : "it is not one.";
            return Problem.Malformed($"The body must be a metric {{\"name\", \"value\", \"step\", \"time\"}} or an array of them: {wrong}");
        }
        if (points.Length == 0 || points.Length > MetricLimits.MaxBatch)
        {
            return Problem.Validation("metrics", $"a report holds 1 to {MetricLimits.MaxBatch} points; it has {points.Length}");
        }
        var errors = new ValidationErrors();
        var now = time.GetUtcNow();
        var valid = new List<ValidMetric>(points.Length);
        for (var i = 0; i < points.Length; i++)
        {
            var field = isBatch ? $"[{i}]." : "";
            if (points[i] is null) errors.Add($"[{i}]", "must be a metric object");
            else if (MetricValidator.Check(points[i], field, now, errors) is { } point) valid.Add(point);
        }
        if (!errors.IsEmpty) return Problem.Validation(errors.ToDictionary());

        var tenantId = caller.TenantId!;
        // A job's own token names its job by its full id (checked above); a member may use any reference.
        var lookup = await jobs.ResolveAsync(tenantId, id, cancellationToken);
        if (lookup.Job is not { } job) return JobMapping.Unresolved(id, lookup);
        string? limitMessage = null;
        var outcome = await writer.WriteAsync(db => MetricWrites.Append(db, tenantId, job.Id, valid, out limitMessage), cancellationToken);
        if (outcome == AppendOutcome.OverLimit)
        {
            return Problem.Conflict($"The metrics were not recorded: {limitMessage}.");
        }
        return TypedResults.Ok(new MetricsRecorded { Recorded = valid.Count });
    }

    private static async Task<Results<Ok<MetricPoint[]>, ValidationProblem, ProblemHttpResult>> HistoryAsync(
        string id, HttpContext context, JobStore jobs, Store store, CancellationToken cancellationToken)
    {
        var query = context.Request.Query;
        var errors = new ValidationErrors();
        var name = query["name"].ToString();
        var (limit, after) = Paging.Read(query, DefaultPageSize, MaxPageSize, errors);
        if (!errors.IsEmpty) return Problem.Validation(errors.ToDictionary());

        var tenantId = context.Caller().TenantId!;
        var lookup = await jobs.ResolveAsync(tenantId, id, cancellationToken);
        if (lookup.Job is not { } job) return JobMapping.Unresolved(id, lookup);
        await using var db = store.CreateContext();
        var metrics = db.Metrics.AsNoTracking().Where(m => m.JobId == job.Id && m.TenantId == tenantId);
        if (name.Length > 0) metrics = metrics.Where(m => m.Name == name);
        if (after is { } a) metrics = metrics.Where(m => m.Seq > a);
        var page = await metrics.OrderBy(m => m.Seq).Take(limit + 1).ToListAsync(cancellationToken);
        if (page.Count > limit)
        {
            page.RemoveAt(limit);
            Paging.SetNextLink(context, limit, page[^1].Seq, ("name", name));
        }
        return TypedResults.Ok(page.Select(m => new MetricPoint { Name = m.Name, Value = m.Value, Step = m.Step, Time = m.Time }).ToArray());
    }
}
