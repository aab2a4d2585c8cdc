using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Strata.Contracts;
using Strata.Core.Jobs;
using Strata.Server.Hosting;
using Strata.Server.Storage;

namespace Strata.Server.Models;

/// <summary>What a new version is made of: the model file (open) and what the registry records about it.</summary>
public sealed record NewVersion(
    FileStream File,
    string Format,
    Dictionary<string, double> Metrics,
    string? InputSchemaJson,
    ModelLineage Lineage,
    string Source,
    string? Description);

/// <summary>Why a model file was refused; the message is for the caller's <c>path</c> field.</summary>
public sealed class ModelFileException(string message) : Exception(message);

/// <summary>
/// The model registry: named models per tenant with numbered versions and aliases. A version's model
/// file is copied into the registry's own folder (<see cref="DataFolder.TenantModels"/>), hashed on the
/// way, so that the version stays what it was whatever happens to the job's output later. Version
/// numbers come from a counter on the model's row, incremented in the transaction that inserts the
/// version: concurrent registrations (even from several servers on one PostgreSQL) get 1, 2, 3, ...
/// </summary>
public sealed class ModelRegistry(Store store, StoreWriter writer, DataFolder data, FileWork fileWork, IOptions<ModelsOptions> options, TimeProvider time, ILogger<ModelRegistry> logger)
{
    public const string SourceTrainer = "trainer";
    public const string SourceApi = "api";

    /// <summary>Creates a model with no versions; null when the tenant already has one of that name.</summary>
    public async Task<ModelRecord?> CreateAsync(string tenantId, string name, string? description, CancellationToken cancellationToken)
    {
        var record = new ModelRecord { TenantId = tenantId, Name = name, Description = description, CreatedAt = time.GetUtcNow() };
        await using var db = store.CreateContext();
        db.Models.Add(record);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
            return record;
        }
        catch (DbUpdateException e) when (Store.IsUniqueViolation(e))
        {
            return null;
        }
    }

    /// <summary>
    /// Registers the next version of <paramref name="name"/> (creating the model on its first version).
    /// For <see cref="SourceTrainer"/> versions, a job registers once: a second call returns the first version.
    /// </summary>
    /// <exception cref="ModelFileException">The file is too large or not of its format.</exception>
    /// <exception cref="FileWorkTimeoutException">Copying the file went past its bound (<see cref="FileWorkOptions.TimeoutSeconds"/>).</exception>
    /// <summary>
    /// Points <paramref name="alias"/> (already checked by <see cref="ModelNames.CheckAlias"/>) at a version, creating
    /// it or moving it: the model (null when the tenant has none of that name) and whether the version exists (nothing
    /// is written when it does not).
    /// </summary>
    public Task<(ModelRecord? Model, bool Exists)> SetAliasAsync(string tenantId, string name, string alias, int version, CancellationToken cancellationToken) =>
        writer.WriteAsync<(ModelRecord? Model, bool Exists)>(db =>
        {
            var model = db.Models.AsNoTracking().FirstOrDefault(m => m.TenantId == tenantId && m.Name == name);
            if (model is null) return (null, false);
            if (!db.ModelVersions.Any(v => v.TenantId == tenantId && v.ModelName == name && v.Version == version)) return (model, false);
            var existing = db.ModelAliases.FirstOrDefault(a => a.TenantId == tenantId && a.ModelName == name && a.Alias == alias);
            if (existing is null) db.ModelAliases.Add(new ModelAliasRecord { TenantId = tenantId, ModelName = name, Alias = alias, Version = version });
            else existing.Version = version;
            return (model, true);
        }, cancellationToken);

    public async Task<ModelVersionRecord> RegisterAsync(string tenantId, string name, NewVersion version, CancellationToken cancellationToken)
    {
        if (version.Source == SourceTrainer && await FindTrainerVersionAsync(version.Lineage.JobId!, cancellationToken) is { } existing)
        {
            return existing;
        }
        var modelFolder = Path.Combine(data.TenantModels(tenantId), name);
        var fileName = version.Format == ModelFormats.Onnx ? "model.onnx" : "model.zip";
        var staging = Path.Combine(modelFolder, $".staging-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            var (size, sha256) = await fileWork.RunAsync(
                "copying the model file", token => CopyAsync(version.File, version.Format, Path.Combine(staging, fileName), token), cancellationToken);
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    return await InsertAsync(tenantId, name, version, staging, fileName, size, sha256, cancellationToken);
                }
                catch (DbUpdateException e) when (Store.IsUniqueViolation(e) && attempt < 3)
                {
                    // Another registration created the model (or, for a trainer, this very version) first.
                    if (version.Source == SourceTrainer && await FindTrainerVersionAsync(version.Lineage.JobId!, cancellationToken) is { } first)
                    {
                        return first;
                    }
                    logger.LogDebug(e, "Registering {Model} raced another registration; trying again", name);
                }
            }
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    private async Task<ModelVersionRecord> InsertAsync(
        string tenantId, string name, NewVersion version, string staging, string fileName, long size, string sha256, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var db = store.CreateContext();
        // SQLite: BEGIN IMMEDIATE (the write lock first). PostgreSQL: the counter's row lock serializes.
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var bumped = await db.Models
            .Where(m => m.TenantId == tenantId && m.Name == name)
            .ExecuteUpdateAsync(s => s.SetProperty(m => m.LatestVersion, m => m.LatestVersion + 1), cancellationToken);
        int number;
        if (bumped == 0)
        {
            db.Models.Add(new ModelRecord { TenantId = tenantId, Name = name, LatestVersion = 1, CreatedAt = now });
            await db.SaveChangesAsync(cancellationToken);
            number = 1;
        }
        else
        {
            number = await db.Models.Where(m => m.TenantId == tenantId && m.Name == name).Select(m => m.LatestVersion).SingleAsync(cancellationToken);
        }

        // A folder of this number can only be left from a registration that failed before its commit.
        var folder = Path.Combine(data.TenantModels(tenantId), name, number.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        Directory.Move(staging, folder);

        var record = new ModelVersionRecord
        {
            TenantId = tenantId,
            ModelName = name,
            Version = number,
            Format = version.Format,
            Uri = Path.Combine(folder, fileName),
            SizeBytes = size,
            Sha256 = sha256,
            MetricsJson = JsonSerializer.Serialize(version.Metrics, StrataJson.Options),
            InputSchemaJson = version.InputSchemaJson,
            LineageJson = JsonSerializer.Serialize(version.Lineage, StrataJson.Options),
            JobId = version.Lineage.JobId,
            Source = version.Source,
            Description = version.Description,
            CreatedAt = now,
        };
        db.ModelVersions.Add(record);
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        logger.LogInformation("Registered model {Model} version {Version} ({Format}, {Size} bytes)", name, number, version.Format, size);
        return record;
    }

    private async Task<ModelVersionRecord?> FindTrainerVersionAsync(string jobId, CancellationToken cancellationToken)
    {
        await using var db = store.CreateContext();
        return await db.ModelVersions.AsNoTracking().FirstOrDefaultAsync(v => v.JobId == jobId && v.Source == SourceTrainer, cancellationToken);
    }

    /// <summary>Copies the model file, hashing it and checking its size and its format's signature.</summary>
    private async Task<(long Size, string Sha256)> CopyAsync(FileStream source, string format, string target, CancellationToken cancellationToken)
    {
        var limit = options.Value.MaxModelBytes;
        if (source.Length > limit)
        {
            throw new ModelFileException($"the file is {source.Length} bytes; the registry takes models up to {limit} bytes (Models:MaxModelBytes)");
        }
        var header = new byte[4];
        var read = await source.ReadAtLeastAsync(header, header.Length, throwOnEndOfStream: false, cancellationToken);
        if (read == 0)
        {
            throw new ModelFileException("the file is empty");
        }
        if (format == ModelFormats.MlNet && !(read == 4 && header is [(byte)'P', (byte)'K', 3, 4]))
        {
            throw new ModelFileException("is not an ML.NET model: an ML.NET model is a .zip file");
        }
        // An ONNX file is a protobuf ModelProto whose first field is ir_version (field 1, varint): byte 0x08.
        if (format == ModelFormats.Onnx && header[0] != 0x08)
        {
            throw new ModelFileException("is not an ONNX model: an ONNX file starts with its ir_version field");
        }
        source.Position = 0;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await using var output = new FileStream(target, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
        var buffer = new byte[1 << 16];
        long size = 0;
        int count;
        while ((count = await source.ReadAsync(buffer, cancellationToken)) > 0)
        {
            size += count;
            if (size > limit)
            {
                throw new ModelFileException($"the file is larger than the registry's limit of {limit} bytes (Models:MaxModelBytes)");
            }
            hash.AppendData(buffer, 0, count);
            await output.WriteAsync(buffer.AsMemory(0, count), cancellationToken);
        }
        await output.FlushAsync(cancellationToken);
        output.Flush(flushToDisk: true);
        return (size, Convert.ToHexStringLower(hash.GetHashAndReset()));
    }

    /// <summary>
    /// Opens a model file a caller named, confined like a job's paths: <paramref name="paths"/> checks the
    /// name; the file is opened without following a link at its name and without blocking, and must be a
    /// regular file with one name (<see cref="SafeFiles"/>: a hard link could be another tenant's file); then
    /// where the opened file really is (after any link in a folder above it) is checked again, so a link inside
    /// the tenant's area cannot reach out of it. Within <see cref="FileWork"/>'s bound.
    /// </summary>
    /// <exception cref="ModelFileException">The path is refused, missing or not a regular file of one name.</exception>
    /// <exception cref="FileWorkTimeoutException">The disk did not answer in time.</exception>
    public Task<FileStream> OpenConfinedAsync(string path, PathPolicy paths, CancellationToken cancellationToken)
    {
        if (!paths.TryResolve(path, out var resolved, out var error))
        {
            throw new ModelFileException(error!);
        }
        if (!Path.IsPathRooted(resolved))
        {
            throw new ModelFileException("must be a local file: the registry copies the model from the server's disk");
        }
        return fileWork.RunAsync("opening the model file", _ => Task.FromResult(OpenConfined(resolved, paths)), cancellationToken);
    }

    private static FileStream OpenConfined(string resolved, PathPolicy paths)
    {
        FileStream stream;
        try
        {
            stream = SafeFiles.OpenRegular(resolved, refuseHardLinks: true);
        }
        catch (UnsafeFileException e)
        {
            throw new ModelFileException(e.Message);
        }
        var real = SafeFiles.RealPathOf(stream);
        if (real is null || !paths.TryResolve(real, out _, out _))
        {
            stream.Dispose();
            throw new ModelFileException("must be a regular file inside the tenant's artifact area or a data root (symbolic links may not lead out of them)");
        }
        return stream;
    }
}
