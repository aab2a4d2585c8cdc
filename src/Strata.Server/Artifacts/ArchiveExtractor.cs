using System.Formats.Tar;
using System.IO.Compression;
using Strata.Core.Artifacts;

namespace Strata.Server.Artifacts;

/// <summary>An archive that may not be extracted: not a tar.gz, an entry that <see cref="ArchiveEntryPolicy"/> refuses, or over a limit.</summary>
public sealed class UnsafeArchiveException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Checks and extracts uploaded tar.gz archives under <see cref="ArchiveEntryPolicy"/>, within limits on
/// entries and extracted bytes. Checked when uploaded, and again entry by entry when extracted.
/// </summary>
public sealed class ArchiveExtractor(long maxExtractedBytes, int maxEntries)
{
    private const UnixFileMode FolderMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Reads the whole archive and throws at its first problem; writes nothing.</summary>
    /// <exception cref="UnsafeArchiveException">The archive is not a tar.gz, has an entry that is refused, or is over a limit.</exception>
    public Task CheckAsync(Stream gzip, CancellationToken cancellationToken) => WalkAsync(gzip, destination: null, cancellationToken);

    /// <summary>
    /// Extracts into <paramref name="destination"/> (created if missing). Files keep their owner's
    /// permission bits (read, write, execute); set-id bits and ownership are dropped.
    /// </summary>
    /// <exception cref="UnsafeArchiveException">As for <see cref="CheckAsync"/>; what was extracted before the problem stays.</exception>
    public Task ExtractAsync(Stream gzip, string destination, CancellationToken cancellationToken) =>
        WalkAsync(gzip, Path.GetFullPath(destination), cancellationToken);

    private async Task WalkAsync(Stream gzip, string? destination, CancellationToken cancellationToken)
    {
        if (destination is not null) Directory.CreateDirectory(destination, FolderMode);
        await using var decompressed = new GZipStream(gzip, CompressionMode.Decompress, leaveOpen: true);
        await using var reader = new TarReader(decompressed, leaveOpen: true);
        var entries = 0;
        long bytes = 0;
        while (true)
        {
            TarEntry? entry;
            try
            {
                entry = await reader.GetNextEntryAsync(copyData: false, cancellationToken);
            }
            catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException)
            {
                throw new UnsafeArchiveException($"it is not a readable tar.gz archive: {e.Message}", e);
            }
            if (entry is null) break;
            if (entry.EntryType is TarEntryType.GlobalExtendedAttributes) continue;
            if (++entries > maxEntries)
            {
                throw new UnsafeArchiveException($"it has more than {maxEntries} entries");
            }
            if (!ArchiveEntryPolicy.TryCheck(entry.EntryType, entry.Name, entry.LinkName, out var relative, out var error))
            {
                throw new UnsafeArchiveException(error!);
            }
            bytes += entry.Length;
            if (bytes > maxExtractedBytes)
            {
                throw new UnsafeArchiveException($"it holds more than {maxExtractedBytes} bytes once extracted");
            }
            if (destination is not null)
            {
                await WriteAsync(entry, relative, destination, cancellationToken);
            }
            else if (entry.DataStream is { } data)
            {
                // Read through, so that a truncated or corrupt archive is found now rather than at extraction.
                try
                {
                    await data.CopyToAsync(Stream.Null, cancellationToken);
                }
                catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
                {
                    throw new UnsafeArchiveException($"it is not a readable tar.gz archive: {e.Message}", e);
                }
            }
        }
        if (entries == 0)
        {
            throw new UnsafeArchiveException("it is empty or not a tar archive");
        }
    }

    private static async Task WriteAsync(TarEntry entry, string relative, string destination, CancellationToken cancellationToken)
    {
        var path = relative.Length == 0 ? destination : Path.GetFullPath(Path.Combine(destination, relative));
        if (path != destination && !path.StartsWith(destination + "/", StringComparison.Ordinal))
        {
            throw new UnsafeArchiveException($"entry '{entry.Name}' leaves the extraction folder");
        }
        // Never write through a link at the entry's own name: replace it.
        if (path != destination && new FileInfo(path) is { LinkTarget: not null } link) link.Delete();
        switch (entry.EntryType)
        {
            case TarEntryType.Directory:
                Directory.CreateDirectory(path, FolderMode);
                break;
            case TarEntryType.SymbolicLink:
                Directory.CreateDirectory(Path.GetDirectoryName(path)!, FolderMode);
                if (File.Exists(path)) File.Delete(path);
                File.CreateSymbolicLink(path, entry.LinkName);
                break;
            default:
                Directory.CreateDirectory(Path.GetDirectoryName(path)!, FolderMode);
                var options = new FileStreamOptions
                {
                    Mode = FileMode.Create,
                    Access = FileAccess.Write,
                    UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                };
                await using (var file = new FileStream(path, options))
                {
                    if (entry.DataStream is { } data) await data.CopyToAsync(file, cancellationToken);
                }
                File.SetUnixFileMode(path, OwnerBits(entry.Mode));
                break;
        }
    }

    /// <summary>The entry's permissions without set-id or sticky bits, and always readable and writable by the owner.</summary>
    private static UnixFileMode OwnerBits(UnixFileMode mode)
    {
        const UnixFileMode permissions = (UnixFileMode)0x1FF; // 0777
        return (mode & permissions) | UnixFileMode.UserRead | UnixFileMode.UserWrite;
    }
}
