using Strata.Core.Runtime.Local;

namespace Strata.Worker.Cgroups;

/// <summary>What a cgroup measured for the attempt. Null members were not available and are measured another way.</summary>
/// <param name="ForksRefused">How many forks (or clones) the <c>pids</c> limit refused; 0 where there is no such controller.</param>
internal sealed record CgroupUsage(long? PeakMemoryBytes, double? CpuSeconds, bool OomKilled, long ForksRefused = 0);

/// <summary>
/// Where the attempt's limits live: a cgroup v2 folder, a set of cgroup v1 folders, or nothing
/// (<see cref="NoCgroup"/>). Created by <see cref="CgroupSetup.Create"/> before the job starts.
/// </summary>
internal interface IAttemptCgroup
{
    /// <summary>A <see cref="Strata.Core.Runtime.Local.LimitModes"/> value.</summary>
    string Mode { get; }

    /// <summary>The text after <c>limits: </c> on the first line of worker.log.</summary>
    string Description { get; }

    /// <summary>The <c>cgroup.procs</c> files the job's shell writes its own pid to before it execs the entrypoint; empty when there is no cgroup.</summary>
    IReadOnlyList<string> ProcsFiles { get; }

    /// <summary>Every pid in the attempt's cgroup(s).</summary>
    IEnumerable<int> Pids();

    /// <summary>Kills everything in the cgroup at once where the kernel offers it (v2 <c>cgroup.kill</c>).</summary>
    void KillAll();

    CgroupUsage ReadUsage();

    /// <summary>Removes the attempt's cgroup folder(s); call once its processes are gone.</summary>
    void Remove(WorkerLog log);

    /// <summary>
    /// Turns a cgroup created in advance (by a standby worker, without limits) into the attempt's:
    /// writes <paramref name="launch"/>'s limits and renames the folder(s) after its attempt where the
    /// kernel allows it (cgroup v1 does; elsewhere the neutral name stays). Throws when the limits cannot be set.
    /// </summary>
    IAttemptCgroup Assign(LaunchFile launch, WorkerLog log);
}

/// <summary>No cgroup: limits are measured only.</summary>
internal sealed class NoCgroup(string why) : IAttemptCgroup
{
    public string Mode => Strata.Core.Runtime.Local.LimitModes.MeasuredOnly;
    public string Description => $"{Mode} ({why})";
    public IReadOnlyList<string> ProcsFiles => [];
    public IEnumerable<int> Pids() => [];
    public void KillAll() { }
    public CgroupUsage ReadUsage() => new(null, null, false);
    public void Remove(WorkerLog log) { }
    public IAttemptCgroup Assign(LaunchFile launch, WorkerLog log) => this;
}
