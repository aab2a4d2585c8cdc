using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Strata.Contracts;
using Strata.Server.Hosting;
using Strata.Server.Storage;

namespace Strata.Server.Artifacts;

/// <summary>
/// Artifacts as jobs read them, put on disk once per tenant and content and shared, read-only, by every attempt
/// that names them. An entry is <c>&lt;data&gt;/inputs/&lt;tenant&gt;/&lt;sha256&gt;/</c>: <c>tree/</c> is an archive
/// extracted, <c>files/&lt;name&gt;</c> a file under each name it was uploaded with, and <c>last-used</c>'s time
/// is when an attempt last took or gave it up. Per tenant, so that no tenant's job is ever handed another
/// tenant's path.
/// <para>
/// Each form is built in a <c>.tmp-*</c> folder of its entry, checked against the artifact's SHA-256, made
/// read-only (folders 0555, files 0444, or 0555 where the archive made them executable; never a set-id bit)
/// and renamed into place, under a lock per entry: concurrent attempts extract once, and none sees half a tree.
/// </para>
/// </summary>
public sealed class InputCache(ArtifactStore artifacts, DataFolder data, IOptions<ArtifactsOptions> options, TimeProvider time, ILogger<InputCache> logger)
{
    public const string TreeFolder = "tree";
    public const string FilesFolder = "files";
    private const string LastUsedFile = "last-used";
    private const string TempPrefix = ".tmp-";
    private const UnixFileMode ReadOnlyFolder = (UnixFileMode)0x16D; // 0555
    private const UnixFileMode ReadOnlyFile = (UnixFileMode)0x124; // 0444
    private const UnixFileMode ServerFolder = (UnixFileMode)0x1ED; // 0755: the entry and files/, which jobs never see whole
    private const UnixFileMode AnyExecute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    private readonly ConcurrentDictionary<string, SemaphoreSlim> _locks = new(StringComparer.Ordinal);

    public string Root => data.Inputs;

    /// <summary>The entry that holds the tenant's artifacts with this content.</summary>
    public string EntryOf(string tenantId, string sha256)
    {
        if (!IsSha256(sha256) || Path.GetFileName(tenantId) != tenantId || tenantId is "" or "." or "..")
        {
            throw new ArgumentException($"No input cache entry for tenant '{tenantId}' and SHA-256 '{sha256}'.");
        }
        return Path.Combine(Root, tenantId, sha256);
    }

    /// <summary>
    /// The path of <paramref name="artifact"/> in the cache (its extracted folder, or its file), put in place
    /// first when missing, and marked used now.
    /// </summary>
    /// <exception cref="UnsafeArchiveException">The archive was refused at extraction.</exception>
    /// <exception cref="InvalidDataException">The bytes the backend holds are not those the artifact was uploaded with.</exception>
    public async Task<string> GetAsync(ArtifactRecord artifact, CancellationToken cancellationToken)
    {
        var entry = EntryOf(artifact.TenantId, artifact.Sha256);
        var target = artifact.Kind == ArtifactKinds.Archive
            ? Path.Combine(entry, TreeFolder)
            : Path.Combine(entry, FilesFolder, SafeFileName(artifact.Name));
        var gate = _locks.GetOrAdd(entry, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            Directory.CreateDirectory(entry, ServerFolder);
            if (!Directory.Exists(target) && !File.Exists(target))
            {
                await BuildAsync(artifact, entry, target, cancellationToken);
            }
            // Inside the lock: a collection that holds it next sees an entry used now, and leaves it.
            MarkUsed(entry);
        }
        finally
        {
            gate.Release();
        }
        return target;
    }

    /// <summary>Records that an attempt used the entry until now (it ended): its retention counts from here.</summary>
    public void MarkUsed(string entry)
    {
        var stamp = Path.Combine(entry, LastUsedFile);
        try
        {
            if (!File.Exists(stamp)) File.WriteAllBytes(stamp, []);
            File.SetLastWriteTimeUtc(stamp, time.GetUtcNow().UtcDateTime);
        }
        catch (Exception e) when (e is DirectoryNotFoundException or FileNotFoundException)
        {
            // Collected meanwhile: nothing to mark.
        }
    }

    /// <summary>
    /// Removes the entries that no attempt uses (<paramref name="entriesInUse"/>, read after this collection
    /// began) and that were last used <c>Artifacts:InputCacheRetention</c> ago, or whose tenant no longer has an
    /// artifact with their content (it was deleted). An entry taken after the collection began is always kept.
    /// </summary>
    public async Task CollectAsync(Func<IReadOnlySet<string>> entriesInUse, CancellationToken cancellationToken)
    {
        // The time first, the attempts' entries after: an attempt that takes an entry after the list was read
        // marks it used after this time, so it is not collected (see GetAsync).
        var began = time.GetUtcNow();
        var inUse = entriesInUse();
        if (!Directory.Exists(Root)) return;
        var expired = began - options.Value.InputCacheRetention;
        foreach (var tenantFolder in Directory.EnumerateDirectories(Root))
        {
            var tenant = Path.GetFileName(tenantFolder);
            HashSet<string>? contents = null;
            foreach (var entry in Directory.EnumerateDirectories(tenantFolder))
            {
                if (!IsSha256(Path.GetFileName(entry)) || inUse.Contains(entry)) continue;
                if (LastUsed(entry) is not { } used || used >= began) continue;
                if (used >= expired)
                {
                    contents ??= await artifacts.Sha256sOfAsync(tenant, cancellationToken);
                    if (contents.Contains(Path.GetFileName(entry))) continue;
                }
                await RemoveAsync(entry, began, cancellationToken);
            }
            if (Directory.EnumerateFileSystemEntries(tenantFolder).Any()) continue;
            contents ??= await artifacts.Sha256sOfAsync(tenant, cancellationToken);
            if (contents.Count == 0)
            {
                // A deleted tenant's folder: no job of it can start again.
                try
                {
                    Directory.Delete(tenantFolder);
                }
                catch (IOException)
                {
                    // Not empty after all: kept.
                }
            }
        }
    }

    /// <summary>
    /// Removes what a server that stopped mid-way left: half-built forms and half-removed entries unchanged
    /// since <paramref name="olderThan"/> (a replica sharing the data folder may be building one now).
    /// </summary>
    /// <returns>How many were removed.</returns>
    public int RemoveLeftovers(DateTimeOffset olderThan)
    {
        if (!Directory.Exists(Root)) return 0;
        var removed = 0;
        foreach (var tenantFolder in Directory.EnumerateDirectories(Root))
        {
            var candidates = Directory.EnumerateDirectories(tenantFolder, TempPrefix + "*")
                .Concat(Directory.EnumerateDirectories(tenantFolder).Where(e => IsSha256(Path.GetFileName(e)))
                    .SelectMany(e => Directory.EnumerateFileSystemEntries(e, TempPrefix + "*")))
                .ToList();
            foreach (var leftover in candidates)
            {
                if (FileTrees.LastWrite(leftover) is { } written && written < olderThan)
                {
                    FileTrees.Delete(leftover);
                    removed++;
                }
            }
        }
        return removed;
    }

    /// <summary>
    /// Copies a cached tree into <paramref name="destination"/> as a job's own, writable copy: folders 0700,
    /// files writable by their owner, links as links (the archive policy keeps their targets inside). Never
    /// hard links, which the job could write through into the cache.
    /// </summary>
    public static void CopyTree(string source, string destination)
    {
        Directory.CreateDirectory(destination, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        foreach (var item in new DirectoryInfo(source).EnumerateFileSystemInfos())
        {
            var target = Path.Combine(destination, item.Name);
            if (item.LinkTarget is { } link)
            {
                File.CreateSymbolicLink(target, link);
            }
            else if (item is DirectoryInfo folder)
            {
                CopyTree(folder.FullName, target);
            }
            else
            {
                File.Copy(item.FullName, target);
                File.SetUnixFileMode(target, item.UnixFileMode | UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }
    }

    private async Task BuildAsync(ArtifactRecord artifact, string entry, string target, CancellationToken cancellationToken)
    {
        if (await artifacts.OpenAsync(artifact.TenantId, artifact.Id, cancellationToken) is not { } found)
        {
            throw new InvalidDataException("it was deleted");
        }
        var temp = Path.Combine(entry, TempPrefix + Guid.NewGuid().ToString("N"));
        try
        {
            await using (var content = found.Content)
            using (var hash = SHA256.Create())
            {
                // The entry is named by the recorded hash: check that the bytes are those, whatever the backend holds.
                await using (var hashing = new CryptoStream(content, hash, CryptoStreamMode.Read, leaveOpen: true))
                {
                    if (artifact.Kind == ArtifactKinds.Archive)
                    {
                        await artifacts.Extractor.ExtractAsync(hashing, temp, cancellationToken);
                        // What the decompressor did not need (the gzip trailer, padding) counts too.
                        await hashing.CopyToAsync(Stream.Null, cancellationToken);
                    }
                    else
                    {
                        await using var file = new FileStream(temp, new FileStreamOptions
                        {
                            Mode = FileMode.CreateNew,
                            Access = FileAccess.Write,
                            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                        });
                        await hashing.CopyToAsync(file, cancellationToken);
                    }
                }
                if (hash.Hash is not { } digest || Convert.ToHexStringLower(digest) != artifact.Sha256)
                {
                    throw new InvalidDataException("the stored bytes do not match the SHA-256 recorded at upload");
                }
            }
            try
            {
                if (artifact.Kind == ArtifactKinds.Archive)
                {
                    MakeReadOnly(temp);
                    Directory.Move(temp, target);
                }
                else
                {
                    File.SetUnixFileMode(temp, ReadOnlyFile);
                    Directory.CreateDirectory(Path.GetDirectoryName(target)!, ServerFolder);
                    File.Move(temp, target);
                }
            }
            catch (IOException) when (Path.Exists(target))
            {
                // Another server sharing the data folder put the same bytes there first: theirs is as good.
                return;
            }
            logger.LogInformation("Put artifact {Artifact} of tenant {Tenant} in the input cache ({Sha256})", artifact.Id, artifact.TenantId, artifact.Sha256);
        }
        finally
        {
            FileTrees.Delete(temp);
        }
    }

    /// <summary>Removes an entry no attempt took since <paramref name="began"/>: renamed away first, so that it is never seen half removed.</summary>
    private async Task RemoveAsync(string entry, DateTimeOffset began, CancellationToken cancellationToken)
    {
        var gate = _locks.GetOrAdd(entry, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            if (LastUsed(entry) is not { } used || used >= began) return;
            var doomed = Path.Combine(Path.GetDirectoryName(entry)!, TempPrefix + Guid.NewGuid().ToString("N"));
            Directory.Move(entry, doomed);
            FileTrees.Delete(doomed);
            logger.LogInformation("Removed the unused input cache entry {Entry}", entry);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>When an attempt last took or gave up the entry (the entry's own time if it was never marked).</summary>
    private static DateTimeOffset? LastUsed(string entry) =>
        FileTrees.LastWrite(Path.Combine(entry, LastUsedFile)) ?? FileTrees.LastWrite(entry);

    /// <summary>Folders 0555, files 0444 (0555 when any execute bit was set), links untouched; set-id and sticky bits never.</summary>
    private static void MakeReadOnly(string folder)
    {
        foreach (var item in new DirectoryInfo(folder).EnumerateFileSystemInfos())
        {
            if (item.LinkTarget is not null) continue;
            if (item is DirectoryInfo child)
            {
                MakeReadOnly(child.FullName);
            }
            else
            {
                File.SetUnixFileMode(item.FullName, (item.UnixFileMode & AnyExecute) != 0 ? ReadOnlyFolder : ReadOnlyFile);
            }
        }
        File.SetUnixFileMode(folder, ReadOnlyFolder);
    }

    private static bool IsSha256(string name) => name.Length == 64 && name.All(char.IsAsciiHexDigitLower);

    /// <summary>The uploaded name as a file name (it was checked at upload; this keeps it safe whatever).</summary>
    private static string SafeFileName(string name)
    {
        var file = Path.GetFileName(name);
        return file is "" or "." or ".." ? "data" : file;
    }
}
