using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Strata.Contracts;
using Strata.Core.Jobs;
using Strata.Core.Text;
using Strata.Server.Auth;
using Strata.Server.Idempotency;
using Strata.Server.Hosting;
using Strata.Server.Problems;
using Strata.Server.Storage;

namespace Strata.Server.Artifacts;

/// <summary>
/// The artifact store's API: <c>POST /v1/artifacts?name=&amp;kind=</c> with the raw bytes as the body, the
/// list, the metadata and the content. Every query is scoped to the caller's tenant.
/// </summary>
public static class ArtifactsApi
{
    public const int NameLength = 255;
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 200;

    public static WebApplicationBuilder AddArtifacts(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<ArtifactsOptions>().BindConfiguration(ArtifactsOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<CodeOptions>().BindConfiguration(CodeOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<IArtifactBackend>(sp =>
        {
            var options = sp.GetRequiredService<IOptions<ArtifactsOptions>>().Value;
            return options.Backend == ArtifactsOptions.S3
                ? new S3ArtifactBackend(options.S3Store)
                : new LocalArtifactBackend(options.LocalPath ?? Path.Combine(sp.GetRequiredService<DataFolder>().Root, "blobs"));
        });
        builder.Services.AddSingleton<ArtifactStore>();
        builder.Services.AddSingleton<InputCache>();
        builder.Services.AddSingleton<AttemptInputs>();
        builder.Services.AddHostedService<ArtifactLeftovers>();
        return builder;
    }

    public static IEndpointRouteBuilder MapArtifactsApi(this IEndpointRouteBuilder app)
    {
        var artifacts = app.MapGroup("/v1/artifacts").WithTags("Artifacts");
        artifacts.MapPost("", UploadAsync).RequireAuthorization(Policies.JobReport).WithName("UploadArtifact")
            .WithSummary("Upload a file or a tar.gz archive (the raw bytes as the body; name and kind in the query).")
            .Accepts<Stream>("application/octet-stream", "application/gzip")
            .WithIdempotencyKey(context => context.RequestServices.GetRequiredService<ArtifactStore>().MaxUploadBytes);
        artifacts.MapGet("", ListAsync).RequireAuthorization(Policies.TenantRead).WithName("ListArtifacts")
            .WithSummary("List the tenant's artifacts, newest first; the next page is in the Link header.");
        artifacts.MapGet("{id}", GetAsync).RequireAuthorization(Policies.TenantRead).WithName("GetArtifact").WithSummary("Get an artifact's metadata.");
        artifacts.MapGet("{id}/content", DownloadAsync).RequireAuthorization(Policies.TenantRead).WithName("DownloadArtifact")
            .WithSummary("Download an artifact's bytes.").Produces<Stream>(200, "application/octet-stream").ProducesProblem(404);
        return app;
    }

    private static async Task<Results<Created<Artifact>, ValidationProblem, ProblemHttpResult>> UploadAsync(
        HttpContext context, ArtifactStore artifacts, CancellationToken cancellationToken)
    {
        var caller = context.Caller();
        if (caller.Role == Roles.Job && caller.JobId is null)
        {
            return Problem.Forbidden("This job token names no job.");
        }
        var query = context.Request.Query;
        var errors = new ValidationErrors();
        var name = query["name"].ToString();
        if (name.Length == 0 || name.Length > NameLength || name.Contains('/', StringComparison.Ordinal) || !TextRules.IsValid(name, TextKind.Line) || name is "." or "..")
        {
            errors.Add("name", $"is required: a file name of 1 to {NameLength} characters, without '/' or control characters");
        }
        var kind = query["kind"].ToString();
        if (kind.Length == 0)
        {
            kind = name.EndsWith(".tar.gz", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".tgz", StringComparison.OrdinalIgnoreCase)
                ? ArtifactKinds.Archive
                : ArtifactKinds.File;
        }
        else if (!ArtifactKinds.All.Contains(kind))
        {
            errors.Add("kind", "must be file or archive (a tar.gz)");
        }
        if (!errors.IsEmpty) return Problem.Validation(errors.ToDictionary());

        if (context.Request.ContentLength > artifacts.MaxUploadBytes)
        {
            return TooLarge(context.Request.ContentLength.Value, artifacts.MaxUploadBytes);
        }
        // The route counts the bytes itself (the server-wide limit is for JSON bodies), so that an
        // upload without a Content-Length is refused with the same clear answer.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = null;
        }
        var result = await artifacts.UploadAsync(caller.TenantId!, caller.Role == Roles.Job ? caller.JobId : null, name, kind, context.Request.Body,
            IdempotencyFilter.ClaimOf(context), cancellationToken);
        return result switch
        {
            UploadResult.Stored stored => TypedResults.Created(ArtifactStore.LocationOf(stored.Artifact.Id), ArtifactStore.ToContract(stored.Artifact)),
            UploadResult.TooLarge tooLarge => TooLarge(null, tooLarge.Limit),
            UploadResult.NotAnArchive bad => Problem.Validation("body", $"is not an archive this server extracts: {bad.Reason}. Send a tar.gz of regular files and folders, or kind=file."),
            _ => throw new InvalidOperationException("Unknown upload result."),
        };
    }

    private static ProblemHttpResult TooLarge(long? size, long limit) => Problem.TooLarge(
        (size is { } s ? $"The upload is {s} bytes" : "The upload is larger than the limit") +
        $"; this server accepts artifacts of at most {limit} bytes (Artifacts:MaxUploadBytes).");

    private static async Task<Results<Ok<Artifact[]>, ValidationProblem>> ListAsync(HttpContext context, Store store, CancellationToken cancellationToken)
    {
        var query = context.Request.Query;
        var errors = new ValidationErrors();
        var (limit, before) = Paging.Read(query, DefaultPageSize, MaxPageSize, errors);
        if (!errors.IsEmpty) return Problem.Validation(errors.ToDictionary());

        var tenantId = context.Caller().TenantId!;
        await using var db = store.CreateContext();
        var artifacts = db.Artifacts.AsNoTracking().Where(a => a.TenantId == tenantId);
        if (before is { } b) artifacts = artifacts.Where(a => a.Seq < b);
        var page = await artifacts.OrderByDescending(a => a.Seq).Take(limit + 1).ToListAsync(cancellationToken);
        if (page.Count > limit)
        {
            page.RemoveAt(limit);
            Paging.SetNextLink(context, limit, page[^1].Seq);
        }
        return TypedResults.Ok(page.Select(ArtifactStore.ToContract).ToArray());
    }

    private static async Task<Results<Ok<Artifact>, ProblemHttpResult>> GetAsync(
        string id, HttpContext context, ArtifactStore artifacts, CancellationToken cancellationToken)
    {
        var record = await artifacts.FindAsync(context.Caller().TenantId!, id, cancellationToken);
        return record is null ? NotFound(id) : TypedResults.Ok(ArtifactStore.ToContract(record));
    }

    private static async Task<IResult> DownloadAsync(string id, HttpContext context, ArtifactStore artifacts, CancellationToken cancellationToken)
    {
        if (await artifacts.OpenAsync(context.Caller().TenantId!, id, cancellationToken) is not { } found) return NotFound(id);
        context.Response.Headers.ETag = $"\"{found.Artifact.Sha256}\"";
        return TypedResults.Stream(found.Content,
            found.Artifact.Kind == ArtifactKinds.Archive ? "application/gzip" : "application/octet-stream",
            fileDownloadName: found.Artifact.Name);
    }

    internal static ProblemHttpResult NotFound(string id) => Problem.NotFound($"Artifact '{id}' was not found.");
}
