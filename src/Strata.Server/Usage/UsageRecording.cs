using Strata.Core.Runtime;
using Strata.Core.Usage;
using Strata.Server.Storage;

namespace Strata.Server.Usage;

/// <summary>Records an attempt's usage on its row (and the job's measured totals) when the attempt ends.</summary>
public static class UsageRecording
{
    /// <summary>
    /// Computes the ended <paramref name="attempt"/>'s reserved and used resource-seconds from its job's
    /// request and its own start, end and measurements, and stores them with it. Called inside the write
    /// that records the outcome, so the usage is committed with it.
    /// </summary>
    public static AttemptUsage Record(AttemptRecord attempt, JobRecord job)
    {
        var reserved = job.WorkerRequest() * job.Workers;
        var ended = attempt.CompletedAt ?? attempt.CreatedAt;
        var usage = AttemptUsage.Of(reserved, attempt.StartedAt, ended, attempt.CpuSeconds, attempt.PeakMemoryBytes, attempt.GpuUtilizationPercent);
        attempt.EndedAtUnixMs = ended.ToUnixTimeMilliseconds();
        attempt.WallSeconds = usage.WallSeconds;
        attempt.ReservedCoreSeconds = usage.Reserved.CoreSeconds;
        attempt.ReservedMemoryGbSeconds = usage.Reserved.MemoryGbSeconds;
        attempt.ReservedGpuSeconds = usage.Reserved.GpuSeconds;
        attempt.UsedCoreSeconds = usage.Used?.CoreSeconds;
        attempt.UsedMemoryGbSeconds = usage.Used?.MemoryGbSeconds;
        attempt.UsedGpuSeconds = usage.Used?.GpuSeconds;
        if (usage.Used is not null && usage.WallSeconds > 0)
        {
            job.MeasuredSeconds += usage.WallSeconds;
            job.MeasuredCpuSeconds += attempt.CpuSeconds ?? 0;
            if (attempt.PeakMemoryBytes is { } peak && peak > (job.MeasuredPeakMemoryBytes ?? 0))
            {
                job.MeasuredPeakMemoryBytes = peak;
            }
        }
        if (attempt.GpuUtilizationPercent is { } utilization)
        {
            job.MeasuredGpuSeconds += usage.Reserved.GpuSeconds;
            job.MeasuredGpuUsedSeconds += usage.Reserved.GpuSeconds * Math.Clamp(utilization, 0, 100) / 100;
        }
        return usage;
    }
}
