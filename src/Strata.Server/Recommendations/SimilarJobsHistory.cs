using Microsoft.EntityFrameworkCore;
using Strata.Contracts;
using Strata.Core.Recommendations;
using Strata.Core.Runtime;
using Strata.Server.Storage;

namespace Strata.Server.Recommendations;

/// <summary>
/// A tenant's succeeded jobs as <see cref="ComputeAdvisor"/> compares them, read from the store: the shape each
/// ran in, its data artifact's size, its peak memory and how busy its GPUs were. Only the caller's tenant's rows
/// are read; the advisor picks the similar ones.
/// </summary>
public sealed class SimilarJobsHistory(Store store)
{
    /// <summary>The newest succeeded jobs read; the advisor uses at most <see cref="ComputeAdvisor.MaxSimilarJobs"/> of them.</summary>
    public const int MaxJobsRead = 200;

    public async Task<IReadOnlyList<PastJob>> ReadAsync(string tenantId, CancellationToken cancellationToken)
    {
        await using var db = store.CreateContext();
        var jobs = await db.Jobs.AsNoTracking()
            .Where(j => j.TenantId == tenantId && j.Status == JobStatus.Succeeded)
            .OrderByDescending(j => j.Seq)
            .Take(MaxJobsRead)
            .ToListAsync(cancellationToken);
        if (jobs.Count == 0) return [];

        var ids = jobs.Select(j => j.Id).ToList();
        var gpuSeconds = (await db.Attempts.AsNoTracking()
                .Where(a => a.TenantId == tenantId && ids.Contains(a.JobId) && a.ReservedGpuSeconds > 0)
                .Select(a => new { a.JobId, a.ReservedGpuSeconds, a.UsedGpuSeconds })
                .ToListAsync(cancellationToken))
            .GroupBy(a => a.JobId)
            .ToDictionary(g => g.Key, g => g.Sum(a => a.UsedGpuSeconds ?? 0) / g.Sum(a => a.ReservedGpuSeconds!.Value));

        var specs = jobs.ToDictionary(j => j.Id, j => j.ReadSpec());
        var artifactIds = specs.Values.Select(s => ArtifactUri.TryParse(s.DataPath, out var id) ? id : null).OfType<string>().Distinct().ToList();
        var artifactSizes = await db.Artifacts.AsNoTracking()
            .Where(a => a.TenantId == tenantId && artifactIds.Contains(a.Id))
            .ToDictionaryAsync(a => a.Id, a => a.SizeBytes, cancellationToken);

        return jobs.Select(job =>
        {
            var spec = specs[job.Id];
            var size = ArtifactUri.TryParse(spec.DataPath, out var artifact) && artifactSizes.TryGetValue(artifact, out var bytes)
                ? bytes / (double)ResourceRequest.BytesPerGb
                : (double?)null;
            return new PastJob
            {
                Id = job.Id,
                ComputeType = spec.Compute?.Type ?? (job.Gpus > 0 ? ComputeTypes.Gpu : ComputeTypes.Cpu),
                GpusPerWorker = job.Gpus,
                GpuFraction = spec.Compute?.GpuFraction,
                Workers = job.Workers,
                DatasetSizeGb = size,
                PeakMemoryBytes = job.MeasuredPeakMemoryBytes,
                GpuBusyFraction = gpuSeconds.TryGetValue(job.Id, out var busy) ? busy : null,
            };
        }).ToList();
    }
}
