using System.Formats.Tar;
using System.IO.Compression;

namespace Strata.Cli.Uploads;

/// <summary>What <see cref="CodePacker.Pack"/> put in the archive.</summary>
public sealed record PackResult(string ArchivePath, int Files, long Bytes, IReadOnlyList<string> SkippedLinks);

/// <summary>How far packing is: files and bytes packed so far, of the totals.</summary>
public sealed record PackProgress(int Files, int TotalFiles, long Bytes, long TotalBytes);

/// <summary>
/// Packs a folder into a tar.gz for <c>strata run</c>: every regular file, except what <c>.gitignore</c>
/// files (the root's and those of sub-folders, each relative to its folder) and a root <c>.strataignore</c>
/// exclude, and never <c>.git/</c>. <c>.strataignore</c> is read after <c>.gitignore</c>, so it can also
/// re-include (<c>!data/small.csv</c>). Symbolic links are not followed and not packed (the job would
/// see a link to a path of this machine); they are reported instead.
/// </summary>
public static class CodePacker
{
    public const string StrataIgnore = ".strataignore";
    public const string GitIgnore = ".gitignore";

    /// <summary>The relative paths (with <c>/</c>) of the files that would be packed, in order.</summary>
    public static List<string> Select(string root, List<string>? skippedLinks = null)
    {
        root = Path.GetFullPath(root);
        var files = new List<string>();
        var rules = new List<IgnoreRules>();
        var strata = Path.Combine(root, StrataIgnore);
        Walk(root, "", rules, File.Exists(strata) ? new IgnoreRules(File.ReadLines(strata)) : null, files, skippedLinks ?? []);
        return files;
    }

    /// <summary>Writes the archive to a new temporary file (the caller deletes it).</summary>
    /// <param name="progress">Told the totals before the first file, then after each file.</param>
    public static PackResult Pack(string root, Action<PackProgress>? progress = null)
    {
        root = Path.GetFullPath(root);
        var skipped = new List<string>();
        var files = Select(root, skipped);
        var sizes = files.Select(file => new FileInfo(Path.Combine(root, file)).Length).ToList();
        var total = sizes.Sum();
        progress?.Invoke(new PackProgress(0, files.Count, 0, total));
        var archive = Path.Combine(Path.GetTempPath(), $"strata-run-{Guid.NewGuid():N}.tar.gz");
        long bytes = 0;
        using (var output = File.Create(archive))
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Pax))
        {
            for (var i = 0; i < files.Count; i++)
            {
                tar.WriteEntry(Path.Combine(root, files[i]), files[i]);
                bytes += sizes[i];
                progress?.Invoke(new PackProgress(i + 1, files.Count, bytes, total));
            }
        }
        return new PackResult(archive, files.Count, bytes, skipped);
    }

    private static void Walk(string root, string relative, List<IgnoreRules> rules, IgnoreRules? strata, List<string> files, List<string> skippedLinks)
    {
        var folder = relative.Length == 0 ? root : Path.Combine(root, relative);
        var gitignore = Path.Combine(folder, GitIgnore);
        var added = File.Exists(gitignore);
        if (added) rules.Add(new IgnoreRules(File.ReadLines(gitignore), relative));
        try
        {
            var entries = new DirectoryInfo(folder).EnumerateFileSystemInfos().OrderBy(e => e.Name, StringComparer.Ordinal);
            foreach (var entry in entries)
            {
                var path = relative.Length == 0 ? entry.Name : relative + "/" + entry.Name;
                var isFolder = entry is DirectoryInfo;
                if (isFolder && entry.Name == ".git") continue;
                if (IsIgnored(path, isFolder, rules, strata)) continue;
                if (entry.LinkTarget is not null)
                {
                    skippedLinks.Add(path);
                    continue;
                }
                if (isFolder) Walk(root, path, rules, strata, files, skippedLinks);
                else if (entry is FileInfo) files.Add(path);
            }
        }
        finally
        {
            if (added) rules.RemoveAt(rules.Count - 1);
        }
    }

    /// <summary>The deepest .gitignore that has a say wins (as in git), then .strataignore over all of them.</summary>
    private static bool IsIgnored(string path, bool isFolder, List<IgnoreRules> rules, IgnoreRules? strata)
    {
        if (strata?.Match(path, isFolder) is { } byStrata) return byStrata;
        for (var i = rules.Count - 1; i >= 0; i--)
        {
            if (rules[i].Match(path, isFolder) is { } decided) return decided;
        }
        return false;
    }
}
