using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Strata.Contracts;
using Strata.Core.Jobs;
using Strata.Core.Text;
using Strata.Server.Auth;
using Strata.Server.Hosting;
using Strata.Server.Attempts;
using Strata.Server.Jobs;
using Strata.Server.Problems;
using Strata.Server.Storage;
using Strata.Server.Tracking;

namespace Strata.Server.Models;

/// <summary>The model registry API (DESIGN.md, "Models and serving"). Every query is scoped to the caller's tenant.</summary>
public static class ModelsApi
{
    public static WebApplicationBuilder AddModels(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<ModelsOptions>().BindConfiguration(ModelsOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<ModelRegistry>();
        builder.Services.AddSingleton<IAttemptOutputs, TrainerOutputs>();
        return builder;
    }

    public static IEndpointRouteBuilder MapModelsApi(this IEndpointRouteBuilder app)
    {
        var models = app.MapGroup("/v1/models").WithTags("Model registry");
        models.MapPost("", CreateAsync).RequireAuthorization(Policies.TenantWrite).WithName("CreateModel")
            .WithSummary("Create a named model (registering its first version creates it too).").Accepts<CreateModelRequest>("application/json");
        models.MapGet("", ListAsync).RequireAuthorization(Policies.TenantRead).WithName("ListModels")
            .WithSummary("List the tenant's models, newest first; the next page is in the Link header.");
        models.MapGet("{name}", GetAsync).RequireAuthorization(Policies.TenantRead).WithName("GetModel").WithSummary("Get a model with its aliases.");
        models.MapPost("{name}/versions", RegisterAsync).RequireAuthorization(Policies.JobReport).WithName("RegisterModelVersion")
            .WithSummary("Register a model file as the model's next version; a running job may register with its own token.")
            .Accepts<RegisterModelVersionRequest>("application/json");
        models.MapGet("{name}/versions", ListVersionsAsync).RequireAuthorization(Policies.TenantRead).WithName("ListModelVersions")
            .WithSummary("List a model's versions, newest first; the next page is in the Link header.");
        models.MapGet("{name}/versions/{version}", GetVersionAsync).RequireAuthorization(Policies.ModelFileRead).WithName("GetModelVersion")
            .WithSummary("Get a version by number or alias (`3`, `production`, `latest`).");
        models.MapGet("{name}/versions/{version}/file", DownloadVersionAsync).RequireAuthorization(Policies.ModelFileRead).WithName("DownloadModelVersion")
            .WithSummary("Download a version's model file (by number or alias); Range and If-None-Match are honoured.")
            .Produces<Stream>(200, "application/octet-stream");
        models.MapPut("{name}/aliases/{alias}", SetAliasAsync).RequireAuthorization(Policies.TenantWrite).WithName("SetModelAlias")
            .WithSummary("Point an alias (`production`, `staging`, ...) at a version.").Accepts<SetModelAliasRequest>("application/json");
        models.MapDelete("{name}/aliases/{alias}", DeleteAliasAsync).RequireAuthorization(Policies.TenantWrite).WithName("DeleteModelAlias")
            .WithSummary("Remove an alias.");
        return app;
    }

    private static async Task<Results<Created<Model>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        HttpRequest request, ModelRegistry registry, CancellationToken cancellationToken)
    {
        var (body, problem) = await JsonBody.ReadAsync<CreateModelRequest>(request, BodyLimits.Registry, cancellationToken);
        if (problem is not null) return problem;
        var errors = new ValidationErrors();
        if (ModelNames.CheckModelName(body!.Name) is { } nameError) errors.Add("name", nameError);
        CheckDescription(errors, body.Description);
        if (!errors.IsEmpty) return Problem.Validation(errors.ToDictionary());

        var created = await registry.CreateAsync(request.HttpContext.Caller().TenantId!, body.Name!, body.Description, cancellationToken);
        return created is null
            ? Problem.Conflict($"The tenant already has a model named '{body.Name}'.")
            : TypedResults.Created($"/v1/models/{created.Name}", ToContract(created, []));
    }

    private static async Task<Results<Ok<Model[]>, ValidationProblem>> ListAsync(HttpContext context, Store store, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        var (limit, before) = Paging.Read(context.Request.Query, ModelsOptions.DefaultPageSize, ModelsOptions.MaxPageSize, errors);
        if (!errors.IsEmpty) return Problem.Validation(errors.ToDictionary());
        var tenantId = context.Caller().TenantId!;
        await using var db = store.CreateContext();
        var query = db.Models.AsNoTracking().Where(m => m.TenantId == tenantId);
        if (before is { } b) query = query.Where(m => m.Seq < b);
        var page = await query.OrderByDescending(m => m.Seq).Take(limit + 1).ToListAsync(cancellationToken);
        if (page.Count > limit)
        {
            page.RemoveAt(limit);
            Paging.SetNextLink(context, limit, page[^1].Seq);
        }
        var names = page.Select(m => m.Name).ToList();
        var aliases = await db.ModelAliases.AsNoTracking().Where(a => a.TenantId == tenantId && names.Contains(a.ModelName)).ToListAsync(cancellationToken);
        return TypedResults.Ok(page.Select(m => ToContract(m, aliases.Where(a => a.ModelName == m.Name))).ToArray());
    }

    private static async Task<Results<Ok<Model>, ProblemHttpResult>> GetAsync(string name, HttpContext context, Store store, CancellationToken cancellationToken)
    {
        var tenantId = context.Caller().TenantId!;
        await using var db = store.CreateContext();
        var model = await db.Models.AsNoTracking().FirstOrDefaultAsync(m => m.TenantId == tenantId && m.Name == name, cancellationToken);
        if (model is null) return ModelNotFound(name);
        var aliases = await db.ModelAliases.AsNoTracking().Where(a => a.TenantId == tenantId && a.ModelName == name).ToListAsync(cancellationToken);
        return TypedResults.Ok(ToContract(model, aliases));
    }

    private static async Task<Results<Created<ModelVersion>, ValidationProblem, ProblemHttpResult>> RegisterAsync(
        string name, HttpRequest request, ModelRegistry registry, TenantPaths tenantPaths, FileWork fileWork, JobStore jobStore, MetricStore metricStore, Artifacts.ArtifactStore artifacts, CancellationToken cancellationToken)
    {
        var caller = request.HttpContext.Caller();
        var tenantId = caller.TenantId!;
        var (body, problem) = await JsonBody.ReadAsync<RegisterModelVersionRequest>(request, BodyLimits.Registry, cancellationToken);
        if (problem is not null) return problem;

        var errors = new ValidationErrors();
        if (ModelNames.CheckModelName(name) is { } nameError) errors.Add("name", nameError);
        if (string.IsNullOrWhiteSpace(body!.Path)) errors.Add("path", "is required: the model file to register");
        var format = body.Format ?? FormatFromExtension(body.Path);
        if (format is null) errors.Add("format", "is required unless the file ends in .onnx or .zip: give onnx or mlnet");
        else if (!ModelFormats.All.Contains(format)) errors.Add("format", $"must be one of {string.Join(", ", ModelFormats.All)}");
        CheckMetrics(errors, body.Metrics);
        CheckDescription(errors, body.Description);
        string? schemaJson = null;
        if (body.InputSchema is { } schema)
        {
            schemaJson = schema.GetRawText();
            if (schema.ValueKind != JsonValueKind.Object) errors.Add("input_schema", "must be a JSON object");
            else if (schemaJson.Length > ModelsOptions.MaxInputSchemaBytes) errors.Add("input_schema", $"must be at most {ModelsOptions.MaxInputSchemaBytes} bytes of JSON");
        }

        // A job's token speaks for its own job only, and only while it runs.
        var jobId = body.JobId;
        if (caller.Role == Roles.Job)
        {
            if (jobId is not null && jobId != caller.JobId)
            {
                return Problem.Forbidden($"This job's token registers models for its own job ('{caller.JobId}') only.");
            }
            jobId = caller.JobId;
        }
        JobRecord? job = null;
        if (jobId is not null)
        {
            job = await jobStore.FindAsync(tenantId, jobId, cancellationToken);
            if (job is null) errors.Add("job_id", $"the tenant has no job '{jobId}'");
            else if (caller.Role == Roles.Job && job.Status != JobStatus.Running)
            {
                return Problem.Forbidden($"Job '{jobId}' is {job.Status.ToString().ToLowerInvariant()}; a job's token registers models only while the job runs.");
            }
        }
        if (!errors.IsEmpty) return Problem.Validation(errors.ToDictionary());

        FileStream file;
        try
        {
            file = await registry.OpenConfinedAsync(body.Path!, tenantPaths.For(tenantId), cancellationToken);
        }
        catch (ModelFileException e)
        {
            return Problem.Validation("path", e.Message);
        }
        catch (FileWorkTimeoutException e)
        {
            return Problem.Unavailable(request.HttpContext, e.Message, e.RetryAfter);
        }
        await using (file)
        {
            try
            {
                var lineage = job is null ? new ModelLineage() : await LineageAsync(job, artifacts, fileWork, cancellationToken);
                // Metrics not given with the version are the job's latest tracked ones (docs/models.md).
                var metrics = body.Metrics;
                if (metrics is null && job is not null)
                {
                    metrics = (await metricStore.LatestAsync([job.Id], cancellationToken)).GetValueOrDefault(job.Id);
                }
                var version = await registry.RegisterAsync(tenantId, name, new NewVersion(
                    file, format!, metrics ?? [], schemaJson, lineage, ModelRegistry.SourceApi, body.Description), cancellationToken);
                return TypedResults.Created($"/v1/models/{name}/versions/{version.Version}", ToContract(version, [], isLatest: true));
            }
            catch (ModelFileException e)
            {
                return Problem.Validation("path", e.Message);
            }
            catch (FileWorkTimeoutException e)
            {
                return Problem.Unavailable(request.HttpContext, e.Message, e.RetryAfter);
            }
        }
    }

    private static async Task<Results<Ok<ModelVersion[]>, ValidationProblem, ProblemHttpResult>> ListVersionsAsync(
        string name, HttpContext context, Store store, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        var (limit, before) = Paging.Read(context.Request.Query, ModelsOptions.DefaultPageSize, ModelsOptions.MaxPageSize, errors);
        if (!errors.IsEmpty) return Problem.Validation(errors.ToDictionary());
        var tenantId = context.Caller().TenantId!;
        await using var db = store.CreateContext();
        var model = await db.Models.AsNoTracking().FirstOrDefaultAsync(m => m.TenantId == tenantId && m.Name == name, cancellationToken);
        if (model is null) return ModelNotFound(name);
        var query = db.ModelVersions.AsNoTracking().Where(v => v.TenantId == tenantId && v.ModelName == name);
        if (before is { } b) query = query.Where(v => v.Version < b);
        var page = await query.OrderByDescending(v => v.Version).Take(limit + 1).ToListAsync(cancellationToken);
        if (page.Count > limit)
        {
            page.RemoveAt(limit);
            Paging.SetNextLink(context, limit, page[^1].Version);
        }
        var aliases = await db.ModelAliases.AsNoTracking().Where(a => a.TenantId == tenantId && a.ModelName == name).ToListAsync(cancellationToken);
        return TypedResults.Ok(page.Select(v => ToContract(v, aliases, v.Version == model.LatestVersion)).ToArray());
    }

    private static async Task<Results<Ok<ModelVersion>, ProblemHttpResult>> GetVersionAsync(
        string name, string version, HttpContext context, Store store, CancellationToken cancellationToken)
    {
        if (RefusedModel(context.Caller(), name) is { } refused) return refused;
        var (found, problem) = await FindVersionAsync(context.Caller().TenantId!, name, version, store, cancellationToken);
        if (problem is not null) return problem;
        return TypedResults.Ok(ToContract(found!.Record, found.Aliases, found.Record.Version == found.Model.LatestVersion));
    }

    /// <summary>
    /// The version's model file, for a user who shares no disk with the server: its length, its sha256 as the ETag,
    /// and range requests (a large model's download can resume).
    /// </summary>
    private static async Task<IResult> DownloadVersionAsync(
        string name, string version, HttpContext context, Store store, FileWork fileWork, CancellationToken cancellationToken)
    {
        if (RefusedModel(context.Caller(), name) is { } refused) return refused;
        var (found, problem) = await FindVersionAsync(context.Caller().TenantId!, name, version, store, cancellationToken);
        if (problem is not null) return problem;
        var record = found!.Record;
        FileStream file;
        try
        {
            // The registry's own copy, in the data folder: it has one name, so a second one means tampering.
            file = await fileWork.RunAsync("opening a model file", _ => Task.FromResult(SafeFiles.OpenRegular(record.Uri, refuseHardLinks: true)), cancellationToken);
        }
        catch (UnsafeFileException)
        {
            return Problem.NotFound($"The file of model '{name}' version {record.Version} is no longer on the server.");
        }
        catch (FileWorkTimeoutException e)
        {
            return Problem.Unavailable(context, e.Message, e.RetryAfter);
        }
        return TypedResults.Stream(file, "application/octet-stream", $"{name}-{record.Version}{Path.GetExtension(record.Uri)}",
            record.CreatedAt, new Microsoft.Net.Http.Headers.EntityTagHeaderValue($"\"{record.Sha256}\""), enableRangeProcessing: true);
    }

    /// <summary>
    /// A model-fetch token asking for another model than its own: 403 whether that model exists or not, so that
    /// the answer tells nothing of the tenant's other models.
    /// </summary>
    private static ProblemHttpResult? RefusedModel(Caller caller, string name) =>
        caller.CanReadModel(name) ? null : Problem.Forbidden($"This token reads model '{caller.ModelName}' only.");

    private sealed record FoundVersion(ModelRecord Model, List<ModelAliasRecord> Aliases, ModelVersionRecord Record);

    /// <summary>A version of the tenant's model by number, <c>latest</c> or alias.</summary>
    private static async Task<(FoundVersion? Found, ProblemHttpResult? Problem)> FindVersionAsync(
        string tenantId, string name, string version, Store store, CancellationToken cancellationToken)
    {
        await using var db = store.CreateContext();
        var model = await db.Models.AsNoTracking().FirstOrDefaultAsync(m => m.TenantId == tenantId && m.Name == name, cancellationToken);
        if (model is null) return (null, ModelNotFound(name));
        var aliases = await db.ModelAliases.AsNoTracking().Where(a => a.TenantId == tenantId && a.ModelName == name).ToListAsync(cancellationToken);
        int? number = ModelNames.AsNumber(version)
            ?? (version == ModelNames.Latest ? (model.LatestVersion > 0 ? model.LatestVersion : null) : aliases.FirstOrDefault(a => a.Alias == version)?.Version);
        var record = number is null ? null : await db.ModelVersions.AsNoTracking()
            .FirstOrDefaultAsync(v => v.TenantId == tenantId && v.ModelName == name && v.Version == number, cancellationToken);
        return record is null
            ? (null, Problem.NotFound($"Model '{name}' has no version or alias '{version}'."))
            : (new FoundVersion(model, aliases, record), null);
    }

    private static async Task<Results<Ok<Model>, ValidationProblem, ProblemHttpResult>> SetAliasAsync(
        string name, string alias, HttpRequest request, Store store, ModelRegistry registry, CancellationToken cancellationToken)
    {
        var (body, problem) = await JsonBody.ReadAsync<SetModelAliasRequest>(request, BodyLimits.Registry, cancellationToken);
        if (problem is not null) return problem;
        var tenantId = request.HttpContext.Caller().TenantId!;
        var errors = new ValidationErrors();
        if (ModelNames.CheckAlias(alias) is { } aliasError) errors.Add("alias", aliasError);
        if (body!.Version is not > 0) errors.Add("version", "is required: a version number from 1");
        if (!errors.IsEmpty) return Problem.Validation(errors.ToDictionary());

        var outcome = await registry.SetAliasAsync(tenantId, name, alias, body.Version!.Value, cancellationToken);
        if (outcome.Model is null) return ModelNotFound(name);
        if (!outcome.Exists)
        {
            return Problem.Validation("version", $"model '{name}' has no version {body.Version}; its latest is {outcome.Model.LatestVersion}");
        }
        await using var read = store.CreateContext();
        var aliases = await read.ModelAliases.AsNoTracking().Where(a => a.TenantId == tenantId && a.ModelName == name).ToListAsync(cancellationToken);
        return TypedResults.Ok(ToContract(outcome.Model, aliases));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAliasAsync(
        string name, string alias, HttpContext context, StoreWriter writer, CancellationToken cancellationToken)
    {
        var tenantId = context.Caller().TenantId!;
        var removed = await writer.WriteAsync(db =>
        {
            var existing = db.ModelAliases.FirstOrDefault(a => a.TenantId == tenantId && a.ModelName == name && a.Alias == alias);
            if (existing is not null) db.ModelAliases.Remove(existing);
            return existing is not null;
        }, cancellationToken);
        return removed ? TypedResults.NoContent() : Problem.NotFound($"Model '{name}' has no alias '{alias}'.");
    }

    /// <summary>
    /// Where a job's model came from: its data (and the data's hash: an uploaded artifact's, or a local
    /// file's, when it is a regular file (<see cref="SafeFiles"/>) hashed within <see cref="FileWork"/>'s bound) and its code.
    /// </summary>
    internal static async Task<ModelLineage> LineageAsync(JobRecord job, Artifacts.ArtifactStore artifacts, FileWork fileWork, CancellationToken cancellationToken, string? dataSha256 = null)
    {
        var spec = job.ReadSpec();
        if (dataSha256 is null && ArtifactUri.TryParse(spec.DataPath, out var artifactId))
        {
            dataSha256 = (await artifacts.FindAsync(job.TenantId, artifactId, cancellationToken))?.Sha256;
        }
        return new ModelLineage
        {
            JobId = job.Id,
            Trainer = spec.Model,
            DataPath = spec.DataPath,
            DataSha256 = dataSha256 ?? await HashIfLocalFileAsync(spec.DataPath, fileWork, cancellationToken),
            DockerImage = spec.DockerImage,
            Entrypoint = spec.Entrypoint,
            CodeRepo = spec.CodeRepo,
            CodeCommit = spec.CodeCommit,
            Hyperparameters = spec.Hyperparameters,
        };
    }

    private static async Task<string?> HashIfLocalFileAsync(string? path, FileWork fileWork, CancellationToken cancellationToken)
    {
        if (path is null || !Path.IsPathRooted(path)) return null;
        try
        {
            return await fileWork.RunAsync<string?>("hashing the job's data", HashAsync, cancellationToken);
        }
        catch (FileWorkTimeoutException)
        {
            // The hash is best effort: data too large to hash in the bound (or a disk that hangs) leaves the
            // lineage without one, rather than refusing every registration of the job's models.
            return null;
        }

        async Task<string?> HashAsync(CancellationToken token)
        {
            try
            {
                await using var stream = SafeFiles.OpenRegular(path, refuseHardLinks: false);
                return Convert.ToHexStringLower(await System.Security.Cryptography.SHA256.HashDataAsync(stream, token));
            }
            catch (Exception e) when (e is UnsafeFileException or IOException or UnauthorizedAccessException)
            {
                // A folder of data, or data that is gone: the lineage names the path without a hash.
                return null;
            }
        }
    }

    private static string? FormatFromExtension(string? path) => System.IO.Path.GetExtension(path ?? "").ToLowerInvariant() switch
    {
        ".onnx" => ModelFormats.Onnx,
        ".zip" => ModelFormats.MlNet,
        _ => null,
    };

    private static void CheckDescription(ValidationErrors errors, string? description)
    {
        if (description is { Length: > ModelsOptions.MaxDescriptionLength })
        {
            errors.Add("description", $"must be at most {ModelsOptions.MaxDescriptionLength} characters");
        }
        else
        {
            TextRules.Check(errors, "description", description, TextKind.Prose);
        }
    }

    private static void CheckMetrics(ValidationErrors errors, Dictionary<string, double>? metrics)
    {
        if (metrics is null) return;
        if (metrics.Count > ModelsOptions.MaxMetrics)
        {
            errors.Add("metrics", $"must have at most {ModelsOptions.MaxMetrics} entries");
            return;
        }
        foreach (var (metric, value) in metrics)
        {
            if (metric.Length is 0 or > ModelsOptions.MaxMetricNameLength) errors.Add("metrics", $"names must be 1 to {ModelsOptions.MaxMetricNameLength} characters");
            else if (!double.IsFinite(value)) errors.Add($"metrics.{metric}", "must be a finite number");
        }
    }

    private static ProblemHttpResult ModelNotFound(string name) => Problem.NotFound($"Model '{name}' was not found.");

    internal static Model ToContract(ModelRecord model, IEnumerable<ModelAliasRecord> aliases) => new()
    {
        Name = model.Name,
        Description = model.Description,
        CreatedAt = model.CreatedAt,
        LatestVersion = model.LatestVersion > 0 ? model.LatestVersion : null,
        Aliases = aliases.ToDictionary(a => a.Alias, a => a.Version, StringComparer.Ordinal),
    };

    internal static ModelVersion ToContract(ModelVersionRecord version, IEnumerable<ModelAliasRecord> aliases, bool isLatest) => new()
    {
        ModelName = version.ModelName,
        Version = version.Version,
        Format = version.Format,
        Uri = version.Uri,
        SizeBytes = version.SizeBytes,
        Sha256 = version.Sha256,
        Metrics = JsonSerializer.Deserialize<Dictionary<string, double>>(version.MetricsJson, StrataJson.Options) ?? [],
        InputSchema = version.InputSchemaJson is null ? null : JsonDocument.Parse(version.InputSchemaJson).RootElement.Clone(),
        Lineage = JsonSerializer.Deserialize<ModelLineage>(version.LineageJson, StrataJson.Options)!,
        Aliases = [.. aliases.Where(a => a.Version == version.Version).Select(a => a.Alias).Order(StringComparer.Ordinal), .. isLatest ? [ModelNames.Latest] : Array.Empty<string>()],
        Description = version.Description,
        CreatedAt = version.CreatedAt,
    };
}
