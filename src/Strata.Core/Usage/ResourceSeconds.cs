using Strata.Core.Runtime;

namespace Strata.Core.Usage;

/// <summary>Resources held over time: core-seconds, memory GB-seconds and GPU-seconds.</summary>
public readonly record struct ResourceSeconds(double CoreSeconds, double MemoryGbSeconds, double GpuSeconds)
{
    public static ResourceSeconds operator +(ResourceSeconds a, ResourceSeconds b) =>
        new(a.CoreSeconds + b.CoreSeconds, a.MemoryGbSeconds + b.MemoryGbSeconds, a.GpuSeconds + b.GpuSeconds);

    /// <summary><paramref name="resources"/> held for <paramref name="seconds"/>.</summary>
    public static ResourceSeconds Of(ResourceRequest resources, double seconds) =>
        new(resources.CpuCores * seconds, resources.MemoryBytes / (double)ResourceRequest.BytesPerGb * seconds, resources.GpuCount * seconds);
}

/// <summary>What one attempt reserved and what it used, each in resource-seconds.</summary>
/// <param name="WallSeconds">From the attempt's start to its end; 0 for an attempt that never started.</param>
/// <param name="Used">Null when the runtime measured nothing (the attempt's supervisor was lost, say).</param>
public sealed record AttemptUsage(double WallSeconds, ResourceSeconds Reserved, ResourceSeconds? Used)
{
    /// <summary>
    /// An attempt's usage:
    /// - reserved is what the scheduler set aside for it (every worker's request) times its wall time;
    /// - used cores are the CPU time the runtime measured (user + system, the whole process tree);
    /// - used memory is the measured peak held for the whole wall time: an upper bound of the true
    ///   GB-seconds, which the runtime does not sample;
    /// - used GPUs are reserved GPUs times the average utilisation the runtime sampled (<c>nvidia-smi</c>), or
    ///   equal to reserved where it sampled none: what a job holds, nobody else can use meanwhile.
    /// </summary>
    /// <param name="reserved">The attempt's whole request (every worker's).</param>
    /// <param name="startedAt">Null when the attempt never started: it reserved and used nothing.</param>
    /// <param name="cpuSeconds">Measured CPU time, or null when not measured.</param>
    /// <param name="peakMemoryBytes">Measured peak memory, or null when not measured.</param>
    /// <param name="gpuUtilizationPercent">The average utilisation of its GPUs, or null when not sampled.</param>
    public static AttemptUsage Of(ResourceRequest reserved, DateTimeOffset? startedAt, DateTimeOffset completedAt, double? cpuSeconds, long? peakMemoryBytes,
        double? gpuUtilizationPercent = null)
    {
        var wall = startedAt is { } started ? Math.Max(0, (completedAt - started).TotalSeconds) : 0;
        var held = ResourceSeconds.Of(reserved, wall);
        var usedGpuSeconds = gpuUtilizationPercent is { } utilization ? held.GpuSeconds * Math.Clamp(utilization, 0, 100) / 100 : held.GpuSeconds;
        ResourceSeconds? used = cpuSeconds is { } cpu
            ? new ResourceSeconds(cpu, (peakMemoryBytes ?? 0) / (double)ResourceRequest.BytesPerGb * wall, usedGpuSeconds)
            : null;
        return new AttemptUsage(wall, held, used);
    }
}
