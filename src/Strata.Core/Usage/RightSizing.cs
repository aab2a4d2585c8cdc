using System.Globalization;

namespace Strata.Core.Usage;

/// <summary>A suggestion to ask for less of one resource.</summary>
/// <param name="Resource"><c>cpu_cores</c>, <c>memory_gb</c> or <c>gpu_fraction</c>.</param>
/// <param name="Requested">What one worker asked for.</param>
/// <param name="Used">Average cores per worker over the measured time, the peak GB of memory, or the share of the time the GPU was busy.</param>
/// <param name="Suggested">What to ask for instead.</param>
public sealed record RightSizingHint(string Resource, double Requested, double Used, double Suggested, string Message);

/// <summary>
/// Right-sizing hints for jobs that use far less than they ask for. The rules:
/// 1. only jobs measured for at least <c>minMeasuredSeconds</c> of wall time (short runs are dominated by start-up);
/// 2. the suggestion is what was used plus <see cref="Headroom"/>, rounded up to a whole unit, at least 1
///    (requests are whole cores and whole GB);
/// 3. a hint is given only when the suggestion is at most half the request: small savings are not worth
///    a user's attention, and a peak can move between runs.
/// Cores are judged on the average (CPU time / wall time): a job that is mostly idle need not hold cores
/// for its busy moments. Memory is judged on the peak: a job that goes over its memory is killed.
/// </summary>
public static class RightSizing
{
    public const string CpuCores = "cpu_cores";
    public const string MemoryGb = "memory_gb";
    public const string GpuFraction = "gpu_fraction";

    /// <summary>A whole GPU busy less than this share of the time is worth sharing (<c>compute.gpu_fraction</c>).</summary>
    public const double GpuBusyBelow = 0.25;

    /// <summary>Use plus 50% is the suggestion.</summary>
    public const double Headroom = 1.5;

    /// <param name="requestedCores">Cores per worker.</param>
    /// <param name="requestedMemoryGb">Memory per worker, GB.</param>
    /// <param name="workers">Workers per attempt (the measurements cover them all).</param>
    /// <param name="cpuSeconds">CPU time of the measured attempts, together.</param>
    /// <param name="wallSeconds">Wall time of the same attempts, together.</param>
    /// <param name="peakMemoryBytes">The largest peak of those attempts (all workers together), or null.</param>
    public static IReadOnlyList<RightSizingHint> Hints(
        double requestedCores, double requestedMemoryGb, int workers, double cpuSeconds, double wallSeconds, long? peakMemoryBytes, double minMeasuredSeconds)
    {
        if (wallSeconds <= 0 || wallSeconds < minMeasuredSeconds || workers < 1) return [];
        var hints = new List<RightSizingHint>(2);
        var averageCores = cpuSeconds / wallSeconds / workers;
        var cores = Suggest(averageCores);
        if (cores <= requestedCores / 2)
        {
            hints.Add(new RightSizingHint(CpuCores, requestedCores, Math.Round(averageCores, 2), cores,
                string.Create(CultureInfo.InvariantCulture, $"requested {requestedCores:0.##} cores, used {averageCores:0.##} on average: consider {cores}")));
        }
        if (peakMemoryBytes is { } peak)
        {
            var peakGb = peak / (double)Runtime.ResourceRequest.BytesPerGb / workers;
            var memory = Suggest(peakGb);
            if (memory <= requestedMemoryGb / 2)
            {
                hints.Add(new RightSizingHint(MemoryGb, requestedMemoryGb, Math.Round(peakGb, 2), memory,
                    string.Create(CultureInfo.InvariantCulture, $"requested {requestedMemoryGb:0.##} GB of memory, used at most {peakGb:0.##} GB: consider {memory}")));
            }
        }
        return hints;
    }

    /// <summary>
    /// A hint to share a GPU: for a job of one worker holding one whole GPU, measured (sampled) for at least
    /// <paramref name="minMeasuredSeconds"/>, whose GPU was busy less than <see cref="GpuBusyBelow"/> of the time.
    /// The suggestion is the busy share plus <see cref="Headroom"/>, rounded up to 0.25 or 0.5 (the shares that
    /// pack four or two to a device). Null when there is none.
    /// </summary>
    /// <param name="gpuSeconds">GPU-seconds the sampled attempts reserved, together.</param>
    /// <param name="usedGpuSeconds">GPU-seconds they used (reserved times utilisation), together.</param>
    public static RightSizingHint? GpuHint(int gpus, double? gpuFraction, int workers, double gpuSeconds, double usedGpuSeconds, double minMeasuredSeconds)
    {
        if (gpus != 1 || gpuFraction is not null || workers != 1 || gpuSeconds <= 0 || gpuSeconds < minMeasuredSeconds) return null;
        var busy = usedGpuSeconds / gpuSeconds;
        if (busy >= GpuBusyBelow) return null;
        var suggested = busy * Headroom <= 0.25 ? 0.25 : 0.5;
        return new RightSizingHint(GpuFraction, 1, Math.Round(busy, 2), suggested,
            string.Create(CultureInfo.InvariantCulture, $"GPU busy {busy * 100:0}% of the time: try gpu_fraction: {suggested:0.##}"));
    }

    private static int Suggest(double used) => Math.Max(1, (int)Math.Ceiling(used * Headroom - 1e-9));
}
