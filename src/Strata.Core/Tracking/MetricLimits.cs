namespace Strata.Core.Tracking;

/// <summary>Limits of experiment tracking (docs/limits.md lists them with the others).</summary>
public static class MetricLimits
{
    /// <summary>The longest metric name.</summary>
    public const int NameLength = 128;
    /// <summary>The most points in one report (one POST).</summary>
    public const int MaxBatch = 1000;
    /// <summary>The most distinct metric names of one job.</summary>
    public const int MaxNamesPerJob = 200;
    /// <summary>The most points of one job, every name together.</summary>
    public const int MaxPointsPerJob = 100_000;
    /// <summary>The largest request body of a report, in bytes.</summary>
    public const int MaxReportBytes = 256 * 1024;
    /// <summary>The longest <c>STRATA_METRIC</c> line that is read; a longer one is skipped.</summary>
    public const int MaxLineBytes = 4096;
}
