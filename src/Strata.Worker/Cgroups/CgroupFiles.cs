using System.Globalization;

namespace Strata.Worker.Cgroups;

/// <summary>Small helpers for reading and writing cgroup control files.</summary>
internal static class CgroupFiles
{
    public static void Write(string dir, string file, string value) => File.WriteAllText(Path.Combine(dir, file), value);

    public static bool TryWrite(string dir, string file, string value)
    {
        try
        {
            Write(dir, file, value);
            return true;
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    public static string? TryRead(string dir, string file)
    {
        try { return File.ReadAllText(Path.Combine(dir, file)); }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    public static long? ReadLong(string dir, string file) =>
        long.TryParse(TryRead(dir, file)?.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : null;

    /// <summary>The value of <paramref name="key"/> in a flat-keyed file such as <c>memory.events</c> or <c>cpu.stat</c>.</summary>
    public static long? ReadKey(string dir, string file, string key)
    {
        foreach (var line in (TryRead(dir, file) ?? "").Split('\n'))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 2 && parts[0] == key && long.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
            {
                return value;
            }
        }
        return null;
    }

    public static IEnumerable<int> ReadPids(string dir)
    {
        foreach (var line in (TryRead(dir, "cgroup.procs") ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (int.TryParse(line, NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid))
            {
                yield return pid;
            }
        }
    }

    /// <summary>A cgroup folder name made from the attempt's name: no separators, no dot names.</summary>
    public static string SafeName(string attemptName)
    {
        var chars = attemptName.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_').ToArray();
        var name = new string(chars).Trim('.');
        return name.Length == 0 ? "attempt" : name;
    }

    /// <summary>Creates <c>parent/name</c>, reusing an empty leftover of the same name and choosing another name when it is busy.</summary>
    public static string CreateFresh(string parent, string name)
    {
        var path = Path.Combine(parent, name);
        if (Directory.Exists(path))
        {
            try { Directory.Delete(path); }
            catch (IOException) { path = Path.Combine(parent, $"{name}-{Environment.ProcessId}"); }
        }
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>Removes cgroup folders, retrying briefly while the last processes finish exiting.</summary>
    public static void RemoveAll(IEnumerable<string> dirs, WorkerLog log)
    {
        foreach (var dir in dirs)
        {
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    if (Directory.Exists(dir))
                    {
                        Directory.Delete(dir);
                    }
                    break;
                }
                catch (IOException) when (attempt < 50)
                {
                    Thread.Sleep(20);
                }
                catch (Exception e)
                {
                    log.Write($"could not remove cgroup {dir}: {e.Message}");
                    break;
                }
            }
        }
    }

    /// <summary>
    /// Renames the cgroup folder <paramref name="dir"/> to <paramref name="name"/> in the same parent
    /// (an empty leftover of that name is replaced); returns the folder's path, the old one where the
    /// kernel refuses (cgroup v2 does not rename) or the name is taken.
    /// </summary>
    public static string TryRename(string dir, string name, WorkerLog log)
    {
        var target = Path.Combine(Path.GetDirectoryName(dir)!, name);
        if (target == dir)
        {
            return dir;
        }
        try
        {
            if (Directory.Exists(target))
            {
                Directory.Delete(target);
            }
            Directory.Move(dir, target);
            return target;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.Write($"kept the cgroup name {dir}: cannot rename it to {name} ({e.Message})");
            return dir;
        }
    }

    public static string FormatCores(double cores) => cores.ToString("0.###", CultureInfo.InvariantCulture);
}
