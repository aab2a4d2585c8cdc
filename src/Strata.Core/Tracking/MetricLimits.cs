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
    /// <summary>The earliest <c>time</c> a metric point may carry (a clock at zero, year 1, is a mistake).</summary>
    public static readonly DateTimeOffset EarliestTime = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);
    /// <summary>How far ahead of the server's clock a point's <c>time</c> may be (a job's clock may run a little fast, not years).</summary>
    public static readonly TimeSpan MaxClockSkew = TimeSpan.FromDays(1);
    /// <summary>The longest <c>STRATA_METRIC</c> line that is read; a longer one is skipped.</summary>
    public const int MaxLineBytes = 4096;
}
