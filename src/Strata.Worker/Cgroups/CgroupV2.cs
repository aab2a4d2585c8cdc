using System.Globalization;
using Strata.Core.Runtime.Local;

namespace Strata.Worker.Cgroups;

/// <summary>cgroup v2: one folder in the unified hierarchy with the <c>memory</c> and <c>cpu</c> controllers enabled.</summary>
internal sealed class CgroupV2 : IAttemptCgroup
{
    private const long CpuPeriodMicroseconds = 100_000;
    private readonly string _dir;

    private CgroupV2(string dir, string description)
    {
        _dir = dir;
        Description = description;
    }

    public string Mode => LimitModes.CgroupV2;
    public string Description { get; }
    public IReadOnlyList<string> ProcsFiles => [Path.Combine(_dir, "cgroup.procs")];

    /// <summary>
    /// Creates <c>parent/name</c>, first making sure <paramref name="parent"/> exists and hands the
    /// <c>memory</c> and <c>cpu</c> controllers down; throws when that is not possible.
    /// </summary>
    public static CgroupV2 Create(string parent, string name, LaunchFile launch)
    {
        if (!Directory.Exists(parent))
        {
            EnableControllers(Path.GetDirectoryName(parent)!);
            Directory.CreateDirectory(parent);
        }
        EnableControllers(parent);
        var dir = CgroupFiles.CreateFresh(parent, name);
        try
        {
            SetLimits(dir, launch);
            if (!File.Exists(Path.Combine(dir, "memory.max")) || !File.Exists(Path.Combine(dir, "cpu.max")))
            {
                throw new InvalidOperationException($"the memory and cpu controllers are not enabled in {parent}");
            }
        }
        catch
        {
            try { Directory.Delete(dir); } catch (IOException) { }
            throw;
        }
        return new CgroupV2(dir, Describe(launch, dir));
    }

    private static string Describe(LaunchFile launch, string dir) =>
        $"{LimitModes.CgroupV2} (memory {CgroupV1.Limit(launch.MemoryBytes)}, cpu {CgroupV1.CpuLimit(launch.CpuCores)}; {dir})";

    private static void SetLimits(string dir, LaunchFile launch)
    {
        if (launch.MemoryBytes > 0)
        {
            CgroupFiles.Write(dir, "memory.max", launch.MemoryBytes.ToString(CultureInfo.InvariantCulture));
            CgroupFiles.TryWrite(dir, "memory.swap.max", "0");
        }
        if (launch.CpuCores > 0)
        {
            var quota = Math.Max(1000, (long)Math.Round(launch.CpuCores * CpuPeriodMicroseconds));
            CgroupFiles.Write(dir, "cpu.max", string.Create(CultureInfo.InvariantCulture, $"{quota} {CpuPeriodMicroseconds}"));
        }
    }

    public IAttemptCgroup Assign(LaunchFile launch, WorkerLog log)
    {
        SetLimits(_dir, launch);
        var dir = CgroupFiles.TryRename(_dir, CgroupFiles.SafeName(launch.AttemptName), log);
        return new CgroupV2(dir, Describe(launch, dir));
    }

    /// <summary>Turns on memory and cpu for the children of <paramref name="dir"/> unless they already are.</summary>
    private static void EnableControllers(string dir)
    {
        var enabled = (CgroupFiles.TryRead(dir, "cgroup.subtree_control") ?? "").Split(' ', '\n');
        if (enabled.Contains("memory") && enabled.Contains("cpu"))
        {
            return;
        }
        CgroupFiles.Write(dir, "cgroup.subtree_control", "+memory +cpu");
    }

    public IEnumerable<int> Pids() => CgroupFiles.ReadPids(_dir);

    public void KillAll() => CgroupFiles.TryWrite(_dir, "cgroup.kill", "1");

    public CgroupUsage ReadUsage()
    {
        var peak = CgroupFiles.ReadLong(_dir, "memory.peak");
        var microseconds = CgroupFiles.ReadKey(_dir, "cpu.stat", "usage_usec");
        var oom = CgroupFiles.ReadKey(_dir, "memory.events", "oom_kill") > 0;
        return new CgroupUsage(peak, microseconds / 1e6, oom);
    }

    public void Remove(WorkerLog log) => CgroupFiles.RemoveAll([_dir], log);
}
