using Strata.Worker.Cgroups;

namespace Strata.Worker;

/// <summary>Peak memory and CPU time of the attempt.</summary>
internal readonly record struct ResourceUsage(long? PeakMemoryBytes, double? CpuSeconds);

/// <summary>
/// Measures the attempt: from its cgroup where there is one, otherwise (and for whatever the cgroup
/// does not report) from <c>getrusage(RUSAGE_CHILDREN)</c>, which covers every descendant the worker
/// has waited for: the job and the orphans it adopted as subreaper.
/// </summary>
internal static class Resources
{
    public static ResourceUsage Measure(CgroupUsage fromCgroup)
    {
        var children = Native.ChildrenUsage();
        // ru_maxrss is in kilobytes on Linux, and is the largest single process, not the sum.
        var peak = fromCgroup.PeakMemoryBytes ?? children?.MaxRssKilobytes * 1024;
        var cpu = fromCgroup.CpuSeconds ?? (children is { } c ? Seconds(c.UserTime) + Seconds(c.SystemTime) : null);
        return new ResourceUsage(peak, cpu);
    }

    private static double Seconds(Native.TimeVal t) => t.Seconds + t.Microseconds / 1e6;
}
