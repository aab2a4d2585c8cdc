using Microsoft.EntityFrameworkCore;
using Strata.Core.Tracking;
using Strata.Server.Storage;

namespace Strata.Server.Tracking;

/// <summary>What appending points to a job's metrics did.</summary>
public enum AppendOutcome
{
    Recorded,
    /// <summary>The job has too many names or points; nothing was recorded.</summary>
    OverLimit,
}

/// <summary>
/// Appends metric points inside one <see cref="StoreWriter"/> write: the history rows, and each name's
/// series row (latest value and count). Limits are checked against the rows as the writer sees them, locked
/// on PostgreSQL, so concurrent reports cannot together go past them, even through several servers.
/// </summary>
public static class MetricWrites
{
    public static AppendOutcome Append(StrataDbContext db, string tenantId, string jobId, IReadOnlyList<ValidMetric> points, out string? limitMessage)
    {
        limitMessage = null;
        // Loads the job's series into the change tracker; Local then also holds those added earlier in this batch.
        // On PostgreSQL the rows are locked until the write commits: another server appending to the same series
        // at once would otherwise count from the same old values, and one of the two counts would be lost
        // (SQLite's write transactions already take the database's one write lock first).
        if (db is PostgresStrataDbContext)
        {
            db.MetricSeries.FromSql($"SELECT * FROM metric_series WHERE job_id = {jobId} FOR UPDATE").Load();
        }
        else
        {
            db.MetricSeries.Where(s => s.JobId == jobId).Load();
        }
        var series = db.MetricSeries.Local.Where(s => s.JobId == jobId).ToDictionary(s => s.Name, StringComparer.Ordinal);
        var newNames = points.Select(p => p.Name).Distinct(StringComparer.Ordinal).Count(name => !series.ContainsKey(name));
        if (series.Count + newNames > MetricLimits.MaxNamesPerJob)
        {
            limitMessage = $"a job may have at most {MetricLimits.MaxNamesPerJob} metric names; this one has {series.Count} and the report adds {newNames}";
            return AppendOutcome.OverLimit;
        }
        var recorded = series.Values.Sum(s => (long)s.Count);
        if (recorded + points.Count > MetricLimits.MaxPointsPerJob)
        {
            limitMessage = $"a job may record at most {MetricLimits.MaxPointsPerJob} metric points; this one has {recorded} and the report adds {points.Count}";
            return AppendOutcome.OverLimit;
        }
        foreach (var point in points)
        {
            db.Metrics.Add(new MetricRecord
            {
                JobId = jobId,
                TenantId = tenantId,
                Name = point.Name,
                Value = point.Value,
                Step = point.Step,
                Time = point.Time,
            });
            if (!series.TryGetValue(point.Name, out var latest))
            {
                latest = new MetricSeriesRecord { JobId = jobId, Name = point.Name, TenantId = tenantId, Step = long.MinValue };
                db.MetricSeries.Add(latest);
                series[point.Name] = latest;
            }
            latest.Count++;
            // The latest value is the one of the highest step; of equal steps, the last reported.
            if (point.Step >= latest.Step)
            {
                latest.Value = point.Value;
                latest.Step = point.Step;
                latest.Time = point.Time;
            }
        }
        return AppendOutcome.Recorded;
    }
}
