using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Options;
using Strata.Contracts;
using Strata.Core.Deployments;
using Strata.Core.Jobs;
using Strata.Server.Auth;
using Strata.Server.Idempotency;
using Strata.Server.Models;
using Strata.Server.Problems;
using Strata.Server.Storage;

namespace Strata.Server.Deployments;

/// <summary>The deployments API (DESIGN.md, "Models and serving"). Every call is scoped to the caller's tenant.</summary>
public static class DeploymentsApi
{
    private const int DefaultPageSize = 50;
    private const int MaxPageSize = 200;

    public static WebApplicationBuilder AddDeployments(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<DeploymentsOptions>().BindConfiguration(DeploymentsOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<ReplicaRouter>();
        builder.Services.AddSingleton<IReplicaLoad>(s => s.GetRequiredService<ReplicaRouter>());
        builder.Services.AddSingleton<DeploymentService>();
        builder.Services.AddOptions<PredictionCacheOptions>().BindConfiguration(PredictionCacheOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        var cache = builder.Configuration.GetSection(PredictionCacheOptions.Section).Get<PredictionCacheOptions>() ?? new PredictionCacheOptions();
        if (cache.IsOn)
        {
            if (!string.IsNullOrWhiteSpace(cache.Redis))
            {
                // HybridCache takes the registered IDistributedCache as its second level.
                builder.Services.AddStackExchangeRedisCache(redis =>
                {
                    redis.Configuration = cache.Redis;
                    redis.InstanceName = "strata:";
                });
            }
            builder.Services.AddHybridCache(hybrid => hybrid.DefaultEntryOptions = new HybridCacheEntryOptions
            {
                Expiration = TimeSpan.FromSeconds(cache.TtlSeconds),
                LocalCacheExpiration = TimeSpan.FromSeconds(Math.Min(cache.LocalTtlSeconds, cache.TtlSeconds)),
            });
        }
        builder.Services.AddSingleton<PredictionCache>();
        builder.Services.AddSingleton<PredictionWindow>();
        builder.Services.AddHostedService<DeploymentsResync>();
        return builder;
    }

    public static IEndpointRouteBuilder MapDeploymentsApi(this IEndpointRouteBuilder app)
    {
        var deployments = app.MapGroup("/v1/deployments").WithTags("Deployments");
        deployments.MapPost("", CreateAsync).RequireAuthorization(Policies.TenantWrite).WithName("CreateDeployment")
            .WithSummary("Deploy a model version (model@version or model@alias) as a prediction endpoint.").Accepts<CreateDeploymentRequest>("application/json")
            .WithIdempotencyKey(_ => BodyLimits.Deployments);
        deployments.MapGet("", ListAsync).RequireAuthorization(Policies.TenantRead).WithName("ListDeployments")
            .WithSummary("List the tenant's deployments, newest first; the next page is in the Link header.");
        deployments.MapGet("{name}", GetAsync).RequireAuthorization(Policies.TenantRead).WithName("GetDeployment")
            .WithSummary("Get a deployment: version, desired and ready replicas, endpoint and events.");
        deployments.MapMethods("{name}", ["PATCH"], UpdateAsync).RequireAuthorization(Policies.TenantWrite).WithName("UpdateDeployment")
            .WithSummary("Change a deployment; a new model version rolls out replica by replica (and an earlier one rolls back).")
            .Accepts<UpdateDeploymentRequest>("application/json");
        deployments.MapDelete("{name}", DeleteAsync).RequireAuthorization(Policies.TenantWrite).WithName("DeleteDeployment")
            .WithSummary("Delete a deployment and stop its replicas.");
        deployments.MapGet("{name}/health", HealthAsync).RequireAuthorization(Policies.TenantRead).WithName("GetDeploymentHealth")
            .WithSummary("Whether the deployment can answer predictions: 200 when at least one replica is ready, else 503.")
            .Produces<DeploymentHealth>(StatusCodes.Status503ServiceUnavailable);
        deployments.MapPost("{name}/predict", PredictAsync).RequireAuthorization(Policies.TenantRead).WithName("Predict")
            .WithSummary("Predict one instance (a JSON object) or several ({\"instances\": [...]}) with the deployed model.")
            // Predictions are bounded by the replicas (and the autoscaler), not by the API's per-tenant request rate.
            .DisableRateLimiting();
        app.MapReplicaTargetsApi();
        return app;
    }

    private static async Task<Results<Created<Deployment>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        HttpRequest request, DeploymentService service, IDeploymentRuntime runtime, IOptions<DeploymentsOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        var (body, problem) = await JsonBody.ReadAsync<CreateDeploymentRequest>(request, BodyLimits.Deployments, cancellationToken);
        if (problem is not null) return problem;
        var tenantId = request.HttpContext.Caller().TenantId!;
        var defaults = options.Value;
        var name = body!.Name ?? body.Model?.Split('@')[0];
        var min = body.MinReplicas ?? defaults.DefaultMinReplicas;
        var max = body.MaxReplicas ?? Math.Max(defaults.DefaultMaxReplicas, min);
        var errors = DeploymentSpecValidator.CheckCreate(body, name, min, max, ModelNames.CheckModelName, runtime.SupportedScalingModes);
        if (!errors.IsEmpty) return Problem.Validation(errors.ToDictionary());
        var (model, modelProblem) = await service.ResolveAsync(tenantId, body.Model!, cancellationToken);
        if (model is null) return Problem.Validation("model", modelProblem!);
        ResolvedModel? canary = null;
        if (body.Canary is not null)
        {
            (canary, var canaryProblem) = await service.ResolveAsync(tenantId, body.Canary.Model!, cancellationToken);
            if (canary is null) return Problem.Validation("canary.model", canaryProblem!);
            if (canary.Name != model.Name) return Problem.Validation("canary.model", $"must be a version of the deployment's model '{model.Name}'");
            if (canary.Version.Version == model.Version.Version)
            {
                return Problem.Validation("canary.model", $"must be another version than the one the deployment serves ({model.Version.Version})");
            }
        }

        var now = time.GetUtcNow();
        var record = new DeploymentRecord
        {
            TenantId = tenantId,
            Name = name!,
            ModelRef = body.Model!,
            ModelName = model.Name,
            ModelVersion = model.Version.Version,
            CanaryModelRef = canary?.Reference,
            CanaryModelVersion = canary?.Version.Version,
            CanaryWeight = canary is null ? null : body.Canary!.Weight,
            MinReplicas = min,
            MaxReplicas = max,
            TargetInFlight = body.Scaling?.TargetInFlight ?? defaults.DefaultTargetInFlight,
            ScalingMode = body.Scaling?.Mode ?? ScalingModes.InFlight,
            TargetCpuPercent = body.Scaling?.TargetCpuPercent ?? defaults.DefaultTargetCpuPercent,
            CpuCores = body.Compute?.CpuCores ?? defaults.DefaultCpuCores,
            MemoryGb = body.Compute?.MemoryGb ?? defaults.DefaultMemoryGb,
            EventsJson = "[]",
            CreatedAt = now,
            UpdatedAt = now,
        };
        // The key and its answer (the deployment as created, before the runtime has started a replica) commit with it.
        var idempotency = IdempotencyFilter.ClaimOf(request.HttpContext);
        Action<StrataDbContext>? alsoWrite = idempotency is null ? null
            : db => idempotency.Record(db, StatusCodes.Status201Created, LocationOf(record.Name), DeploymentMapping.ToContract(record, runtime));
        var (created, excess) = await service.CreateAsync(record, alsoWrite, cancellationToken);
        if (excess is { } over) return Problem.DeploymentQuotaExceeded(over);
        if (created is null) return Problem.Conflict($"The tenant already has a deployment named '{name}'; change it with PATCH or choose another name.");
        return TypedResults.Created(LocationOf(created.Name), DeploymentMapping.ToContract(created, runtime));
    }

    private static string LocationOf(string name) => $"/v1/deployments/{name}";

    private static async Task<Results<Ok<Deployment[]>, ValidationProblem>> ListAsync(
        HttpContext context, Store store, IDeploymentRuntime runtime, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        var query = context.Request.Query;
        var limit = DefaultPageSize;
        if (query.TryGetValue("limit", out var limitText) && !string.IsNullOrEmpty(limitText)
            && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > MaxPageSize))
        {
            errors.Add("limit", $"must be 1 to {MaxPageSize}");
        }
        long? before = null;
        if (query.TryGetValue("page_token", out var token) && !string.IsNullOrEmpty(token))
        {
            before = Hosting.PageToken.Read(token!);
            if (before is null) errors.Add("page_token", "is not a page token this server issued");
        }
        if (!errors.IsEmpty) return Problem.Validation(errors.ToDictionary());
        var tenantId = context.Caller().TenantId!;
        await using var db = store.CreateContext();
        var rows = db.Deployments.AsNoTracking().Where(d => d.TenantId == tenantId);
        if (before is { } b) rows = rows.Where(d => d.Seq < b);
        var page = await rows.OrderByDescending(d => d.Seq).Take(limit + 1).ToListAsync(cancellationToken);
        if (page.Count > limit)
        {
            page.RemoveAt(limit);
            context.Response.Headers.Link = $"<{context.Request.Path}?limit={limit}&page_token={Hosting.PageToken.Write(page[^1].Seq)}>; rel=\"next\"";
        }
        return TypedResults.Ok(page.Select(d => DeploymentMapping.ToContract(d, runtime)).ToArray());
    }

    private static async Task<Results<Ok<Deployment>, ProblemHttpResult>> GetAsync(
        string name, HttpContext context, Store store, IDeploymentRuntime runtime, CancellationToken cancellationToken)
    {
        var record = await FindAsync(store, context.Caller().TenantId!, name, cancellationToken);
        return record is null ? NotFound(name) : TypedResults.Ok(DeploymentMapping.ToContract(record, runtime));
    }

    private static async Task<Results<Ok<Deployment>, ValidationProblem, ProblemHttpResult>> UpdateAsync(
        string name, HttpRequest request, DeploymentService service, IDeploymentRuntime runtime, CancellationToken cancellationToken)
    {
        var (body, problem) = await JsonBody.ReadAsync<UpdateDeploymentRequest>(request, BodyLimits.Deployments, cancellationToken);
        if (problem is not null) return problem;
        var tenantId = request.HttpContext.Caller().TenantId!;
        var errors = DeploymentSpecValidator.CheckUpdate(body!, runtime.SupportedScalingModes);
        if (!errors.IsEmpty) return Problem.Validation(errors.ToDictionary());
        ResolvedModel? model = null;
        if (body!.Model is not null)
        {
            (model, var modelProblem) = await service.ResolveAsync(tenantId, body.Model, cancellationToken);
            if (model is null) return Problem.Validation("model", modelProblem!);
        }
        CanaryChange? canary = null;
        if (body.Canary is { } change)
        {
            ResolvedModel? canaryModel = null;
            if (change.Model is not null)
            {
                (canaryModel, var canaryProblem) = await service.ResolveAsync(tenantId, change.Model, cancellationToken);
                if (canaryModel is null) return Problem.Validation("canary.model", canaryProblem!);
            }
            canary = new CanaryChange(canaryModel, change.Weight);
        }
        var outcome = await service.UpdateAsync(tenantId, name, record =>
        {
            record.MinReplicas = body.MinReplicas ?? record.MinReplicas;
            record.MaxReplicas = body.MaxReplicas ?? Math.Max(record.MaxReplicas, record.MinReplicas);
            if (record.MinReplicas > record.MaxReplicas) return ("max_replicas", $"must be at least min_replicas ({record.MinReplicas})");
            record.TargetInFlight = body.Scaling?.TargetInFlight ?? record.TargetInFlight;
            record.ScalingMode = body.Scaling?.Mode ?? record.ScalingMode;
            record.TargetCpuPercent = body.Scaling?.TargetCpuPercent ?? record.TargetCpuPercent;
            record.CpuCores = body.Compute?.CpuCores ?? record.CpuCores;
            record.MemoryGb = body.Compute?.MemoryGb ?? record.MemoryGb;
            return null;
        }, model, canary, cancellationToken);
        if (outcome.Invalid is { } invalid) return Problem.Validation(invalid.Field, invalid.Message);
        if (outcome.Excess is { } over) return Problem.DeploymentQuotaExceeded(over);
        var updated = outcome.Updated;
        return updated is null ? NotFound(name) : TypedResults.Ok(DeploymentMapping.ToContract(updated, runtime));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(string name, HttpContext context, DeploymentService service, CancellationToken cancellationToken) =>
        await service.DeleteAsync(context.Caller().TenantId!, name, cancellationToken) ? TypedResults.NoContent() : NotFound(name);

    private static async Task<Results<Ok<DeploymentHealth>, JsonHttpResult<DeploymentHealth>, ProblemHttpResult>> HealthAsync(
        string name, HttpContext context, Store store, IDeploymentRuntime runtime, CancellationToken cancellationToken)
    {
        var record = await FindAsync(store, context.Caller().TenantId!, name, cancellationToken);
        if (record is null) return NotFound(name);
        var observed = runtime.Observe(new DeploymentKey(record.TenantId, record.Name));
        var ready = observed?.Ready.Count ?? 0;
        var health = new DeploymentHealth
        {
            Status = ready > 0 ? "healthy" : "unhealthy",
            ReadyReplicas = ready,
            DesiredReplicas = observed?.DesiredReplicas ?? record.MinReplicas,
            ModelVersion = record.ModelVersion,
        };
        return ready > 0 ? TypedResults.Ok(health) : TypedResults.Json(health, StrataJson.Options, statusCode: 503);
    }

    /// <summary>
    /// Forwards the body to a ready replica. The tenant check is the runtime's key: a deployment of
    /// another tenant is not found, exactly like a missing one, and nothing is read from the store.
    /// </summary>
    private static async Task PredictAsync(
        string name, HttpContext context, IDeploymentRuntime runtime, ReplicaRouter router, PredictionCache cache, PredictionWindow window, TimeProvider time, CancellationToken cancellationToken)
    {
        var key = new DeploymentKey(context.Caller().TenantId!, name);
        var observed = runtime.Observe(key);
        if (observed is null)
        {
            await NotFound(name).ExecuteAsync(context);
            return;
        }
        var started = time.GetTimestamp();
        try
        {
            await AnswerPredictionAsync(name, key, observed, context, router, cache, cancellationToken);
        }
        finally
        {
            window.Record(key, time.GetElapsedTime(started), failed: context.Response.StatusCode >= 500);
        }
    }

    private static async Task AnswerPredictionAsync(
        string name, DeploymentKey key, DeploymentObservation observed, HttpContext context, ReplicaRouter router, PredictionCache cache, CancellationToken cancellationToken)
    {
        var (body, problem) = await JsonBody.ReadBytesAsync(context.Request, BodyLimits.Predict, cancellationToken);
        if (problem is not null)
        {
            await problem.ExecuteAsync(context);
            return;
        }
        if (observed.Ready.Count == 0 || !await AnswerAsync(key, observed, body, context, router, cache, cancellationToken))
        {
            context.Response.Headers.RetryAfter = "1";
            await TypedResults.Problem($"Deployment '{name}' has no ready replica yet ({observed.DesiredReplicas} desired); retry shortly.",
                statusCode: 503, title: "No ready replica", type: ProblemTypes.Unavailable).ExecuteAsync(context);
        }
    }

    /// <summary>
    /// Chooses the version (the canary split), then answers from the cache or a replica. The cache is
    /// used only when every replica the request may go to serves one version, which is what its
    /// entry is keyed by (not during a rollout, when old and new replicas answer side by side).
    /// </summary>
    private static Task<bool> AnswerAsync(
        DeploymentKey key, DeploymentObservation observed, ReadOnlyMemory<byte> body, HttpContext context, ReplicaRouter router, PredictionCache cache, CancellationToken cancellationToken)
    {
        var replicas = router.Split(key, observed);
        var version = replicas[0].ModelVersion;
        var contentType = context.Request.ContentType;
        return cache.IsOn && replicas.All(r => r.ModelVersion == version)
            ? cache.AnswerAsync(context.Caller().Tenant!.Value, observed.ModelName, version, body, contentType, replicas, observed.Ready, router, context.Response, cancellationToken)
            : router.ForwardAsync(replicas, observed.Ready, body, contentType, context.Response, cancellationToken);
    }

    private static async Task<DeploymentRecord?> FindAsync(Store store, string tenantId, string name, CancellationToken cancellationToken)
    {
        await using var db = store.CreateContext();
        return await db.Deployments.AsNoTracking().FirstOrDefaultAsync(d => d.TenantId == tenantId && d.Name == name, cancellationToken);
    }

    private static ProblemHttpResult NotFound(string name) => Problem.NotFound($"Deployment '{name}' was not found.");
}
