using System.ComponentModel.DataAnnotations;

namespace Strata.Server.Tracking;

/// <summary>Experiment tracking (section <c>Tracking</c>).</summary>
public sealed class TrackingOptions
{
    public const string Section = "Tracking";

    /// <summary>How often running attempts' output is read for new <c>STRATA_METRIC</c> lines.</summary>
    /// <value>The default is 1,000 ms.</value>
    [Range(50, 60_000)]
    public int LogScanMilliseconds { get; set; } = 1000;

    /// <summary>The most output of one attempt read in one scan; the rest is read in the next.</summary>
    /// <value>The default is 4 MiB.</value>
    [Range(64 * 1024, 1 << 30)]
    public int MaxBytesPerScan { get; set; } = 4 << 20;
}
