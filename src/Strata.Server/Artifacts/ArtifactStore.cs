using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Strata.Contracts;
using Strata.Server.Hosting;
using Strata.Server.Idempotency;
using Strata.Server.Storage;

namespace Strata.Server.Artifacts;

/// <summary>The outcome of an upload.</summary>
public abstract record UploadResult
{
    public sealed record Stored(ArtifactRecord Artifact) : UploadResult;
    public sealed record TooLarge(long Limit) : UploadResult;
    public sealed record NotAnArchive(string Reason) : UploadResult;
}

/// <summary>
/// Uploads and reads a tenant's artifacts. An upload is streamed to a temporary file in the data folder
/// while its SHA-256 is computed and its size checked (never held in memory), checked as an archive
/// when it is one, handed to the backend, and only then recorded: a 201 means the bytes and the row
/// are both stored. A crash in between leaves at worst an unreferenced blob, never a row without bytes.
/// </summary>
public sealed class ArtifactStore(
    IArtifactBackend backend,
    Store store,
    StoreWriter writer,
    DataFolder data,
    IOptions<ArtifactsOptions> options,
    TimeProvider time,
    ILogger<ArtifactStore> logger)
{
    private readonly ArtifactsOptions _options = options.Value;

    public long MaxUploadBytes => _options.MaxUploadBytes;

    public ArchiveExtractor Extractor => new(_options.MaxExtractedBytes, _options.MaxArchiveEntries);

    public static string KeyOf(string tenantId, string id) => $"{tenantId}/{id}";

    /// <summary>Where an artifact is: the <c>Location</c> of its 201.</summary>
    public static string LocationOf(string id) => $"/v1/artifacts/{id}";

    /// <summary>Stores <paramref name="body"/> as a new artifact of <paramref name="tenantId"/>.</summary>
    /// <param name="idempotency">The request's <c>Idempotency-Key</c>, if it sent one: its answer is committed with the artifact's row.</param>
    public async Task<UploadResult> UploadAsync(string tenantId, string? jobId, string name, string kind, Stream body, IdempotencyClaim? idempotency, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var id = Guid.CreateVersion7(now).ToString();
        Directory.CreateDirectory(data.Uploads);
        var temp = Path.Combine(data.Uploads, id);
        try
        {
            var (size, sha256) = await CopyAsync(body, temp, cancellationToken);
            if (size is null) return new UploadResult.TooLarge(_options.MaxUploadBytes);
            if (kind == ArtifactKinds.Archive)
            {
                await using var archive = File.OpenRead(temp);
                try
                {
                    await Extractor.CheckAsync(archive, cancellationToken);
                }
                catch (UnsafeArchiveException e)
                {
                    return new UploadResult.NotAnArchive(e.Message);
                }
            }
            await backend.PutAsync(KeyOf(tenantId, id), temp, cancellationToken);
            var record = new ArtifactRecord
            {
                Id = id,
                TenantId = tenantId,
                Name = name,
                Kind = kind,
                SizeBytes = size.Value,
                Sha256 = sha256,
                JobId = jobId,
                CreatedAt = now,
            };
            await writer.WriteAsync(db =>
            {
                db.Artifacts.Add(record);
                idempotency?.Record(db, StatusCodes.Status201Created, LocationOf(id), ToContract(record));
            }, cancellationToken);
            logger.LogInformation("Stored artifact {Artifact} of tenant {Tenant}: {Name}, {Bytes} bytes", id, tenantId, name, size);
            return new UploadResult.Stored(record);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>Writes the body to <paramref name="path"/>, hashing it; a null size means it went over the limit.</summary>
    private async Task<(long? Size, string Sha256)> CopyAsync(Stream body, string path, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            Options = FileOptions.Asynchronous,
            BufferSize = 0,
        };
        await using var file = new FileStream(path, options);
        var buffer = new byte[128 * 1024];
        long size = 0;
        int read;
        while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
        {
            size += read;
            if (size > _options.MaxUploadBytes) return (null, "");
            hash.AppendData(buffer, 0, read);
            await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
        }
        // On disk before the 201, whichever backend then takes it.
        file.Flush(flushToDisk: true);
        return (size, Convert.ToHexStringLower(hash.GetHashAndReset()));
    }

    /// <summary>
    /// Removes uploads that a server stopped mid-way (a crash, a kill) left in <c>uploads/</c>: those unchanged
    /// since <paramref name="olderThan"/>, since a replica sharing the data folder may be receiving one now.
    /// </summary>
    /// <returns>How many were removed.</returns>
    public int RemoveUploadLeftovers(DateTimeOffset olderThan)
    {
        if (!Directory.Exists(data.Uploads)) return 0;
        var removed = 0;
        foreach (var leftover in Directory.EnumerateFileSystemEntries(data.Uploads).ToList())
        {
            if (FileTrees.LastWrite(leftover) is { } written && written < olderThan)
            {
                FileTrees.Delete(leftover);
                removed++;
            }
        }
        return removed;
    }

    /// <summary>The SHA-256 of every artifact the tenant has (none for a deleted tenant).</summary>
    public async Task<HashSet<string>> Sha256sOfAsync(string tenantId, CancellationToken cancellationToken)
    {
        await using var db = store.CreateContext();
        var hashes = await db.Artifacts.AsNoTracking().Where(a => a.TenantId == tenantId).Select(a => a.Sha256).Distinct().ToListAsync(cancellationToken);
        return hashes.ToHashSet(StringComparer.Ordinal);
    }

    public async Task<ArtifactRecord?> FindAsync(string tenantId, string id, CancellationToken cancellationToken)
    {
        await using var db = store.CreateContext();
        return await db.Artifacts.AsNoTracking().FirstOrDefaultAsync(a => a.Id == id && a.TenantId == tenantId, cancellationToken);
    }

    /// <summary>The artifact's bytes, or null when the tenant has no such artifact.</summary>
    public async Task<(ArtifactRecord Artifact, Stream Content)?> OpenAsync(string tenantId, string id, CancellationToken cancellationToken)
    {
        if (await FindAsync(tenantId, id, cancellationToken) is not { } record) return null;
        var stream = await backend.OpenReadAsync(KeyOf(tenantId, id), cancellationToken)
            ?? throw new InvalidOperationException($"Artifact {id} of tenant {tenantId} is recorded but its bytes are missing from the {_options.Backend} backend.");
        return (record, stream);
    }

    /// <summary>Removes a deleted tenant's artifacts from the backend (its rows went with the tenant).</summary>
    public async Task DeleteTenantAsync(string tenantId, CancellationToken cancellationToken)
    {
        try
        {
            await backend.DeletePrefixAsync(tenantId + "/", cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Could not remove the artifacts of deleted tenant {Tenant}; they are unreferenced and can be removed by hand", tenantId);
        }
    }

    public static Artifact ToContract(ArtifactRecord record) => new()
    {
        Id = record.Id,
        Name = record.Name,
        Kind = record.Kind,
        SizeBytes = record.SizeBytes,
        Sha256 = record.Sha256,
        Uri = ArtifactUri.Format(record.Id),
        JobId = record.JobId,
        CreatedAt = record.CreatedAt,
    };
}
