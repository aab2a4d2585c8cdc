using System.Formats.Tar;

namespace Strata.Core.Artifacts;

/// <summary>
/// Which entries of an uploaded tar archive may be extracted, and where. An archive comes from a user,
/// so every entry is checked before anything is written: only regular files and folders, and symbolic
/// links with a relative target free of <c>..</c>; no absolute names, no <c>..</c>, no hard links,
/// devices, FIFOs or other special entries. One bad entry refuses the whole archive.
/// </summary>
/// <remarks>
/// Link targets are refused outright when they contain <c>..</c>, rather than checked lexically: a link
/// to <c>.</c> followed by another through it with <c>../..</c> stays inside on paper but escapes on disk.
/// A target without <c>..</c>, through links that have none either, can only go deeper.
/// </remarks>
public static class ArchiveEntryPolicy
{
    /// <summary>The longest entry name accepted.</summary>
    public const int MaxNameLength = 4096;

    /// <summary>
    /// Checks one entry. On success <paramref name="relativePath"/> is its normalized path inside the
    /// extraction folder ("" for the folder itself, as in <c>./</c>).
    /// </summary>
    public static bool TryCheck(TarEntryType type, string name, string? linkName, out string relativePath, out string? error)
    {
        relativePath = "";
        if (!TryNormalize(name, out relativePath, out error))
        {
            error = $"entry '{Shown(name)}': {error}";
            return false;
        }
        switch (type)
        {
            case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
            case TarEntryType.Directory:
                return true;
            case TarEntryType.SymbolicLink:
                if (string.IsNullOrEmpty(linkName) || linkName.StartsWith('/') || !TryNormalize(linkName, out _, out _))
                {
                    error = $"entry '{Shown(name)}': a symbolic link must have a relative target without '..' (it points to '{Shown(linkName ?? "")}')";
                    return false;
                }
                return true;
            case TarEntryType.HardLink:
                error = $"entry '{Shown(name)}': hard links are not accepted";
                return false;
            case TarEntryType.CharacterDevice or TarEntryType.BlockDevice:
                error = $"entry '{Shown(name)}': device files are not accepted";
                return false;
            case TarEntryType.Fifo:
                error = $"entry '{Shown(name)}': FIFOs are not accepted";
                return false;
            default:
                error = $"entry '{Shown(name)}': entries of type {type} are not accepted";
                return false;
        }
    }

    /// <summary>Normalizes an entry name: no absolute path, no <c>..</c>, no NUL or backslash; <c>./</c> and repeated slashes dropped.</summary>
    public static bool TryNormalize(string name, out string relativePath, out string? error)
    {
        relativePath = "";
        error = null;
        if (name.Length == 0 || name.Length > MaxNameLength)
        {
            error = $"names must be 1 to {MaxNameLength} characters";
            return false;
        }
        if (name.Contains('\0', StringComparison.Ordinal) || name.Contains('\\', StringComparison.Ordinal))
        {
            error = "names must not contain NUL or backslash characters";
            return false;
        }
        if (name.StartsWith('/'))
        {
            error = "absolute names are not accepted";
            return false;
        }
        var segments = new List<string>();
        foreach (var segment in name.Split('/'))
        {
            if (segment is "" or ".") continue;
            if (segment == "..")
            {
                error = "'..' is not accepted in names";
                return false;
            }
            segments.Add(segment);
        }
        relativePath = string.Join('/', segments);
        return true;
    }

    private static string Shown(string name) => name.Length > 200 ? name[..200] + "..." : name.Replace('\0', '?');
}
