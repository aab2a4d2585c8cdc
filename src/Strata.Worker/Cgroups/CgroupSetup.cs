using Strata.Core.Runtime.Local;

namespace Strata.Worker.Cgroups;

/// <summary>Where the cgroup file systems are mounted, from <c>/proc/self/mounts</c>.</summary>
internal sealed record CgroupMounts(string? V2, string? V1Memory, string? V1Cpu, string? V1Cpuacct, string? V1Pids = null)
{
    public static CgroupMounts Read()
    {
        string? v2 = null, memory = null, cpu = null, cpuacct = null, pids = null;
        foreach (var line in File.ReadLines("/proc/self/mounts"))
        {
            var fields = line.Split(' ');
            if (fields.Length < 4)
            {
                continue;
            }
            var (mountPoint, type, options) = (fields[1], fields[2], fields[3].Split(','));
            if (type == "cgroup2")
            {
                v2 ??= mountPoint;
            }
            else if (type == "cgroup")
            {
                if (options.Contains("memory")) { memory ??= mountPoint; }
                if (options.Contains("cpu")) { cpu ??= mountPoint; }
                if (options.Contains("cpuacct")) { cpuacct ??= mountPoint; }
                if (options.Contains("pids")) { pids ??= mountPoint; }
            }
        }
        return new CgroupMounts(v2, memory, cpu, cpuacct, pids);
    }

    public bool V2HasControllers =>
        V2 is not null && (CgroupFiles.TryRead(V2, "cgroup.controllers") ?? "").Split(' ', '\n') is var c
        && c.Contains("memory") && c.Contains("cpu");

    /// <summary>The v1 mount that <paramref name="path"/> lies under, if any.</summary>
    public string? V1MountOf(string path) =>
        new[] { V1Memory, V1Cpu, V1Cpuacct, V1Pids }.OfType<string>().FirstOrDefault(m => IsUnder(path, m));

    public static bool IsUnder(string path, string mount) =>
        path == mount || path.StartsWith(mount.TrimEnd('/') + "/", StringComparison.Ordinal);
}

/// <summary>
/// Chooses how the attempt's limits are enforced and creates its cgroup.
/// </summary>
/// <remarks>
/// Order: cgroup v2 when the unified hierarchy offers the <c>memory</c> and <c>cpu</c> controllers,
/// else cgroup v1 when <c>memory</c> and <c>cpu</c> hierarchies are mounted and writable, else
/// measured only. The <c>pids</c> controller (<see cref="LaunchFile.MaxProcesses"/>) is used where
/// it is available and otherwise left out, which the <c>limits:</c> line says. The attempt's cgroup is named after <see cref="LaunchFile.AttemptName"/> and
/// created under <see cref="LaunchFile.CgroupParent"/> when given (an absolute path under a cgroup
/// mount, or a path relative to the mount roots; for v1 the same relative path is used in every
/// hierarchy). Without it: on v2 a <c>strata</c> folder beside the worker's own cgroup (its parent
/// is where a delegated subtree is writable), then at the mount root; on v1 a <c>strata</c> folder
/// at the root of each hierarchy. Any failure falls back to the next mode and is explained on the
/// <c>limits:</c> line of worker.log.
/// </remarks>
internal static class CgroupSetup
{
    private const string DefaultFolder = "strata";

    public static IAttemptCgroup Create(LaunchFile launch)
    {
        if (!launch.EnforceLimits)
        {
            return new NoCgroup("enforce_limits is false");
        }
        CgroupMounts mounts;
        try { mounts = CgroupMounts.Read(); }
        catch (Exception e) { return new NoCgroup($"cannot read mounts: {e.Message}"); }

        var name = CgroupFiles.SafeName(launch.AttemptName);
        var problems = new List<string>();
        foreach (var attempt in Candidates(mounts, launch.CgroupParent))
        {
            try { return attempt(name, launch); }
            catch (Exception e) { problems.Add(e.Message); }
        }
        return new NoCgroup(problems.Count == 0
            ? "no writable cgroup hierarchy"
            : $"no writable cgroup hierarchy: {string.Join("; ", problems.Distinct())}");
    }

    private static IEnumerable<Func<string, LaunchFile, IAttemptCgroup>> Candidates(CgroupMounts mounts, string? given)
    {
        if (given is not null)
        {
            if (Path.IsPathRooted(given))
            {
                if (mounts.V2 is { } v2 && CgroupMounts.IsUnder(given, v2))
                {
                    yield return (n, l) => CgroupV2.Create(given, n, l);
                }
                else if (mounts.V1MountOf(given) is { } v1)
                {
                    var relative = Path.GetRelativePath(v1, given);
                    yield return (n, l) => CgroupV1.Create(mounts, relative == "." ? "" : relative, n, l);
                }
                else
                {
                    yield return (_, _) => throw new InvalidOperationException($"cgroup parent {given} is not under a cgroup mount");
                }
                yield break;
            }
            if (mounts.V2HasControllers)
            {
                yield return (n, l) => CgroupV2.Create(Path.Combine(mounts.V2!, given), n, l);
            }
            yield return (n, l) => CgroupV1.Create(mounts, given, n, l);
            yield break;
        }

        if (mounts.V2HasControllers)
        {
            var root = mounts.V2!;
            if (OwnV2Cgroup() is { } own && Path.GetDirectoryName(own) is { Length: > 1 } parent)
            {
                yield return (n, l) => CgroupV2.Create(Path.Combine(root, parent.TrimStart('/'), DefaultFolder), n, l);
            }
            yield return (n, l) => CgroupV2.Create(Path.Combine(root, DefaultFolder), n, l);
        }
        else if (mounts.V2 is not null)
        {
            yield return (_, _) => throw new InvalidOperationException("cgroup v2 offers no memory and cpu controllers");
        }
        yield return (n, l) => CgroupV1.Create(mounts, DefaultFolder, n, l);
    }

    /// <summary>The worker's own cgroup v2 path (the <c>0::</c> line of /proc/self/cgroup).</summary>
    private static string? OwnV2Cgroup()
    {
        try
        {
            return File.ReadLines("/proc/self/cgroup").FirstOrDefault(l => l.StartsWith("0::", StringComparison.Ordinal))?[3..];
        }
        catch (IOException) { return null; }
    }
}
