using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Strata.Server.Hosting;
using Strata.Server.Retention;
using Strata.Server.Storage;

namespace Strata.Server.Jobs;

/// <summary>
/// Removes a job's checkpoint folder (<c>&lt;data&gt;/checkpoints/&lt;job&gt;</c>, also the job's HOME) once the job
/// has ended <c>Jobs:Retention</c> ago: every attempt of a job shares it, so it stays while the job may still
/// run (a retry resumes from it), and as long as the ended attempts' logs. A folder whose job is gone (its
/// tenant was deleted) goes once it has been left alone as long.
/// </summary>
public sealed class CheckpointSweep(DataFolder data, Store store, IOptions<RetentionOptions> options, TimeProvider time, ILogger<CheckpointSweep> logger) : IDiskSweep
{
    public async Task SweepAsync(CancellationToken cancellationToken)
    {
        if (!Directory.Exists(data.Checkpoints)) return;
        var expired = time.GetUtcNow() - options.Value.Retention;
        foreach (var folders in Directory.EnumerateDirectories(data.Checkpoints).Chunk(500))
        {
            var ids = folders.Select(Path.GetFileName).ToList();
            await using var db = store.CreateContext();
            var jobs = await db.Jobs.AsNoTracking().Where(j => ids.Contains(j.Id)).ToDictionaryAsync(j => j.Id, cancellationToken);
            foreach (var folder in folders)
            {
                var remove = jobs.TryGetValue(Path.GetFileName(folder), out var job)
                    ? !job.IsActive && job.CompletedAt < expired
                    : FileTrees.LastWrite(folder) < expired;
                if (!remove) continue;
                FileTrees.Delete(folder);
                logger.LogDebug("Removed the checkpoints of ended job {Job}", Path.GetFileName(folder));
            }
        }
    }
}
