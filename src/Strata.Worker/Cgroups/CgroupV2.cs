using System.Globalization;
using Strata.Core.Runtime.Local;

namespace Strata.Worker.Cgroups;

/// <summary>
/// cgroup v2: one folder in the unified hierarchy with the <c>memory</c> and <c>cpu</c> controllers
/// enabled, and <c>pids</c> where the parent offers it.
/// </summary>
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
    /// <c>memory</c> and <c>cpu</c> controllers down (and <c>pids</c> where it can); throws when that
    /// is not possible for memory and cpu.
    /// </summary>
    public static CgroupV2 Create(string parent, string name, LaunchFile launch)
    {
        var grandparent = Path.GetDirectoryName(parent)!;
        if (!Directory.Exists(parent))
        {
            EnableControllers(grandparent);
            Directory.CreateDirectory(parent);
        }
        else if (!Offers(parent, "pids"))
        {
            // A parent made before pids was asked for: hand pids down to it too, if its own parent can.
            try { EnableControllers(grandparent); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
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

    private static bool HasPids(string dir) => File.Exists(Path.Combine(dir, "pids.max"));

    private static string Describe(LaunchFile launch, string dir) =>
        $"{LimitModes.CgroupV2} (memory {CgroupV1.Limit(launch.MemoryBytes)}, cpu {CgroupV1.CpuLimit(launch.CpuCores)}, " +
        $"{CgroupV1.PidsLimit(launch.MaxProcesses, HasPids(dir) ? null : $"the pids controller is not enabled in {Path.GetDirectoryName(dir)}")}; {dir})";

    private static void SetLimits(string dir, LaunchFile launch)
    {
        if (HasPids(dir))
        {
            CgroupFiles.Write(dir, "pids.max", CgroupV1.PidsMax(launch.MaxProcesses));
        }
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

    /// <summary>
    /// Turns on memory and cpu for the children of <paramref name="dir"/> unless they already are, and
    /// pids too where <paramref name="dir"/> has it to give.
    /// </summary>
    private static void EnableControllers(string dir)
    {
        var enabled = (CgroupFiles.TryRead(dir, "cgroup.subtree_control") ?? "").Split(' ', '\n');
        string[] wanted = Offers(dir, "pids") ? ["memory", "cpu", "pids"] : ["memory", "cpu"];
        if (wanted.All(enabled.Contains))
        {
            return;
        }
        CgroupFiles.Write(dir, "cgroup.subtree_control", string.Join(' ', wanted.Select(c => "+" + c)));
    }

    /// <summary>Whether <paramref name="controller"/> is available in <paramref name="dir"/> (its <c>cgroup.controllers</c>).</summary>
    private static bool Offers(string dir, string controller) =>
        (CgroupFiles.TryRead(dir, "cgroup.controllers") ?? "").Split(' ', '\n').Contains(controller);

    public IEnumerable<int> Pids() => CgroupFiles.ReadPids(_dir);

    public void KillAll() => CgroupFiles.TryWrite(_dir, "cgroup.kill", "1");

    public CgroupUsage ReadUsage()
    {
        var peak = CgroupFiles.ReadLong(_dir, "memory.peak");
        var microseconds = CgroupFiles.ReadKey(_dir, "cpu.stat", "usage_usec");
        var oom = CgroupFiles.ReadKey(_dir, "memory.events", "oom_kill") > 0;
        var forksRefused = CgroupFiles.ReadKey(_dir, "pids.events", "max") ?? 0;
        return new CgroupUsage(peak, microseconds / 1e6, oom, forksRefused);
    }

    public void Remove(WorkerLog log) => CgroupFiles.RemoveAll([_dir], log);
}
