using k8s.Models;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Strata.Server.Retention;
using Strata.Server.Storage;

namespace Strata.Server.Runtime.Kubernetes;

/// <summary>
/// The Kubernetes runtime's share of the disk sweep: deletes a job's checkpoint volume claim with the job's TTL,
/// once the job has ended <see cref="KubernetesRuntimeOptions.TtlSecondsAfterFinished"/> ago (the TTL controller
/// has then taken its last attempt's Job and pods, so nothing can mount the claim again, and Strata serves no
/// checkpoint back), and at once when the job's records are gone (the job or its tenant was deleted). A job that
/// may still run (a retry waits) keeps its claim, however long ago an attempt ended.
/// </summary>
public sealed class CheckpointVolumeSweep(ClusterApi api, Store store, IOptions<KubernetesRuntimeOptions> options, TimeProvider time, ILogger<CheckpointVolumeSweep> logger) : IDiskSweep
{
    public async Task SweepAsync(CancellationToken cancellationToken)
    {
        var claims = await api.ListCheckpointClaimsAsync(cancellationToken);
        var expired = time.GetUtcNow() - TimeSpan.FromSeconds(options.Value.TtlSecondsAfterFinished);
        foreach (var chunk in claims.Items.Chunk(500))
        {
            var ids = chunk.Select(JobIdOf).OfType<string>().ToList();
            await using var db = store.CreateContext();
            var jobs = await db.Jobs.AsNoTracking().Where(j => ids.Contains(j.Id)).ToDictionaryAsync(j => j.Id, cancellationToken);
            foreach (var claim in chunk)
            {
                if (JobIdOf(claim) is not { } jobId) continue;
                var remove = !jobs.TryGetValue(jobId, out var job) || (!job.IsActive && job.CompletedAt < expired);
                if (!remove) continue;
                await api.DeleteClaimAsync(claim.Metadata.Name, claim.Metadata.NamespaceProperty, cancellationToken);
                logger.LogDebug("Deleted the checkpoint volume of job {Job}", jobId);
            }
        }
    }

    private static string? JobIdOf(V1PersistentVolumeClaim claim) =>
        claim.Metadata.Labels?.TryGetValue(KubernetesNames.JobIdLabel, out var id) == true ? id : null;
}
