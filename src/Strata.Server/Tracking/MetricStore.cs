using Microsoft.EntityFrameworkCore;
using Strata.Server.Jobs;
using Strata.Server.Storage;

namespace Strata.Server.Tracking;

/// <summary>Reads tracked metrics: the latest value of each series, for the job resource and model versions.</summary>
public sealed class MetricStore(Store store) : IJobMetrics
{
    /// <inheritdoc/>
    public async Task<Dictionary<string, Dictionary<string, double>>> LatestAsync(IReadOnlyCollection<string> jobIds, CancellationToken cancellationToken)
    {
        await using var db = store.CreateContext();
        var rows = await db.MetricSeries.AsNoTracking().Where(s => jobIds.Contains(s.JobId)).ToListAsync(cancellationToken);
        return rows.GroupBy(r => r.JobId, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.ToDictionary(r => r.Name, r => r.Value, StringComparer.Ordinal), StringComparer.Ordinal);
    }
}
