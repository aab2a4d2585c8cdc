using System.Globalization;
using Strata.Core.Runtime.Local;

namespace Strata.Worker.Cgroups;

/// <summary>
/// cgroup v1: one folder per controller hierarchy (<c>memory</c>, <c>cpu</c> and, when mounted
/// separately, <c>cpuacct</c>; <c>pids</c> where it is mounted), each at the same relative path.
/// </summary>
internal sealed class CgroupV1 : IAttemptCgroup
{
    private const long CfsPeriodMicroseconds = 100_000;

    private readonly string _memory;
    private readonly string _cpu;
    private readonly string? _cpuacct;
    private readonly string? _pids;
    private readonly string[] _all;

    private CgroupV1(string memory, string cpu, string? cpuacct, string? pids, string description)
    {
        _memory = memory;
        _cpu = cpu;
        _cpuacct = cpuacct;
        _pids = pids;
        _all = new[] { memory, cpu, cpuacct, pids }.OfType<string>().Distinct().ToArray();
        Description = description;
    }

    public string Mode => LimitModes.CgroupV1;
    public string Description { get; }
    public IReadOnlyList<string> ProcsFiles => _all.Select(d => Path.Combine(d, "cgroup.procs")).ToArray();

    /// <summary>
    /// Creates <c>&lt;mount&gt;/&lt;relativeParent&gt;/&lt;name&gt;</c> in each hierarchy and writes the limits; throws
    /// when that is not possible for memory and cpu. Without a usable pids hierarchy the attempt goes on
    /// without a process limit, and the description says why.
    /// </summary>
    public static CgroupV1 Create(CgroupMounts mounts, string relativeParent, string name, LaunchFile launch)
    {
        if (mounts.V1Memory is null || mounts.V1Cpu is null)
        {
            throw new InvalidOperationException("no cgroup v1 memory and cpu hierarchies are mounted");
        }
        var created = new List<string>();
        try
        {
            string Make(string mount)
            {
                var parent = Path.Combine(mount, relativeParent);
                Directory.CreateDirectory(parent);
                var dir = CgroupFiles.CreateFresh(parent, name);
                created.Add(dir);
                return dir;
            }
            var memory = Make(mounts.V1Memory);
            var cpu = Make(mounts.V1Cpu);
            var cpuacct = mounts.V1Cpuacct is null ? null
                : mounts.V1Cpuacct == mounts.V1Cpu ? cpu
                : Make(mounts.V1Cpuacct);
            string? pids = null;
            var noPids = "no pids hierarchy is mounted";
            if (mounts.V1Pids is { } pidsMount)
            {
                try
                {
                    pids = pidsMount == mounts.V1Memory ? memory : pidsMount == mounts.V1Cpu ? cpu : Make(pidsMount);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    noPids = $"cannot create a pids cgroup: {e.Message}";
                }
            }

            SetLimits(memory, cpu, pids, launch);
            return new CgroupV1(memory, cpu, cpuacct, pids, Describe(launch, pids is null ? noPids : null, created));
        }
        catch
        {
            foreach (var dir in created)
            {
                try { Directory.Delete(dir); } catch (IOException) { }
            }
            throw;
        }
    }

    private static void SetLimits(string memory, string cpu, string? pids, LaunchFile launch)
    {
        if (launch.MemoryBytes > 0)
        {
            CgroupFiles.Write(memory, "memory.limit_in_bytes", launch.MemoryBytes.ToString(CultureInfo.InvariantCulture));
            // Without this the job could use swap beyond its limit; absent where swap accounting is off.
            CgroupFiles.TryWrite(memory, "memory.memsw.limit_in_bytes", launch.MemoryBytes.ToString(CultureInfo.InvariantCulture));
        }
        if (launch.CpuCores > 0)
        {
            var quota = Math.Max(1000, (long)Math.Round(launch.CpuCores * CfsPeriodMicroseconds));
            CgroupFiles.Write(cpu, "cpu.cfs_period_us", CfsPeriodMicroseconds.ToString(CultureInfo.InvariantCulture));
            CgroupFiles.Write(cpu, "cpu.cfs_quota_us", quota.ToString(CultureInfo.InvariantCulture));
        }
        if (pids is not null)
        {
            CgroupFiles.Write(pids, "pids.max", PidsMax(launch.MaxProcesses));
        }
    }

    /// <summary>The value of <c>pids.max</c> (the same file in v1 and v2).</summary>
    internal static string PidsMax(int? maxProcesses) =>
        maxProcesses is > 0 and var max ? max.ToString(CultureInfo.InvariantCulture) : "max";

    /// <param name="noPids">Why there is no pids cgroup; null when there is one.</param>
    private static string Describe(LaunchFile launch, string? noPids, IEnumerable<string> dirs) =>
        $"{LimitModes.CgroupV1} (memory {Limit(launch.MemoryBytes)}, cpu {CpuLimit(launch.CpuCores)}, {PidsLimit(launch.MaxProcesses, noPids)}; {string.Join(", ", dirs)})";

    public IAttemptCgroup Assign(LaunchFile launch, WorkerLog log)
    {
        SetLimits(_memory, _cpu, _pids, launch);
        var name = CgroupFiles.SafeName(launch.AttemptName);
        var renamed = _all.ToDictionary(d => d, d => CgroupFiles.TryRename(d, name, log));
        string? Renamed(string? dir) => dir is null ? null : renamed[dir];
        return new CgroupV1(renamed[_memory], renamed[_cpu], Renamed(_cpuacct), Renamed(_pids),
            Describe(launch, _pids is null ? "no pids cgroup was created in standby" : null, renamed.Values));
    }

    internal static string Limit(long bytes) => bytes > 0 ? $"{bytes} bytes" : "unlimited";
    internal static string CpuLimit(double cores) => cores > 0 ? $"{CgroupFiles.FormatCores(cores)} cores" : "unlimited";

    /// <summary>The pids part of the <c>limits:</c> line: the limit, or why processes are not limited.</summary>
    internal static string PidsLimit(int? maxProcesses, string? noPids) =>
        noPids is not null ? $"processes not limited: {noPids}"
        : maxProcesses is > 0 ? $"processes {maxProcesses}"
        : "processes unlimited";

    public IEnumerable<int> Pids() => _all.SelectMany(CgroupFiles.ReadPids);

    public void KillAll() { }

    public CgroupUsage ReadUsage()
    {
        var peak = CgroupFiles.ReadLong(_memory, "memory.max_usage_in_bytes");
        var nanoseconds = _cpuacct is null ? null : CgroupFiles.ReadLong(_cpuacct, "cpuacct.usage");
        var oomKills = CgroupFiles.ReadKey(_memory, "memory.oom_control", "oom_kill");
        // Kernels before 4.13 have no oom_kill count: a hit limit is the best evidence there.
        var oom = oomKills is { } kills ? kills > 0 : CgroupFiles.ReadLong(_memory, "memory.failcnt") > 0;
        var forksRefused = _pids is null ? 0 : CgroupFiles.ReadKey(_pids, "pids.events", "max") ?? 0;
        return new CgroupUsage(peak, nanoseconds / 1e9, oom, forksRefused);
    }

    public void Remove(WorkerLog log) => CgroupFiles.RemoveAll(_all, log);
}
