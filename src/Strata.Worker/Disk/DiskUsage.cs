using System.IO.Enumeration;

namespace Strata.Worker.Disk;

/// <summary>
/// Measures the bytes under a set of folders the way <c>du --apparent-size --bytes</c> does, in passes of
/// bounded work so that a huge tree never stalls the worker: each <see cref="Pass"/> examines at most
/// <c>entriesPerPass</c> entries and the next one carries on where it stopped. Symbolic links are
/// counted as links (never followed, roots included), a file with several hard links once, and a root
/// inside another root once.
/// </summary>
/// <remarks>
/// Memory grows with the folders still to visit and the hard-linked files seen (files with one link,
/// the usual case, are not remembered), not with the number of files.
/// </remarks>
internal sealed class DiskUsage
{
    private static readonly EnumerationOptions OneFolder = new()
    {
        RecurseSubdirectories = false,
        IgnoreInaccessible = true,
        // The default skips hidden files, which on Linux means every name starting with a dot.
        AttributesToSkip = 0,
        ReturnSpecialDirectories = false,
    };

    private readonly string[] _roots;
    private readonly int _entriesPerPass;
    private readonly Stack<string> _folders = new();
    private readonly HashSet<(ulong Device, ulong Inode)> _linked = [];
    private IEnumerator<string>? _folder;
    private bool _started;

    public DiskUsage(IEnumerable<string> roots, int entriesPerPass)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(entriesPerPass, 1);
        _entriesPerPass = entriesPerPass;
        var full = roots.Select(r => Path.TrimEndingDirectorySeparator(Path.GetFullPath(r))).Distinct(StringComparer.Ordinal).ToArray();
        _roots = full.Where(r => !full.Any(other => other != r && IsUnder(r, other))).ToArray();
    }

    /// <summary>The folders measured, overlapping ones left out.</summary>
    public IReadOnlyList<string> Roots => _roots;

    /// <summary>Bytes counted so far by the walk in progress: at most what is there now, give or take what changed since.</summary>
    public long Seen { get; private set; }

    /// <summary>Does up to a pass's work; returns the total once a whole walk has finished (the next pass starts another).</summary>
    public long? Pass()
    {
        if (!_started)
        {
            Start();
        }
        for (var budget = _entriesPerPass; budget > 0;)
        {
            if (_folder is null)
            {
                if (!_folders.TryPop(out var next))
                {
                    var total = Seen;
                    _started = false;
                    return total;
                }
                _folder = Open(next);
                continue;
            }
            string path;
            try
            {
                if (!_folder.MoveNext())
                {
                    Close();
                    continue;
                }
                path = _folder.Current;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The folder went away (or became unreadable) while it was read: what was seen of it stays counted.
                Close();
                continue;
            }
            budget--;
            Count(path);
        }
        return null;
    }

    private void Start()
    {
        _started = true;
        Seen = 0;
        _linked.Clear();
        _folders.Clear();
        Close();
        foreach (var root in _roots)
        {
            Count(root);
        }
    }

    private void Count(string path)
    {
        if (Native.LStat(path) is not { } stat)
        {
            return;
        }
        if (stat.IsDirectory)
        {
            _folders.Push(path);
        }
        else if (stat.Links > 1 && !_linked.Add((stat.Device, stat.Inode)))
        {
            return;
        }
        Seen += stat.Size;
    }

    private static IEnumerator<string>? Open(string folder)
    {
        try
        {
            return new FileSystemEnumerable<string>(folder, (ref FileSystemEntry entry) => entry.ToFullPath(), OneFolder).GetEnumerator();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private void Close()
    {
        _folder?.Dispose();
        _folder = null;
    }

    private static bool IsUnder(string path, string folder) =>
        path.StartsWith(folder.EndsWith('/') ? folder : folder + "/", StringComparison.Ordinal);
}
