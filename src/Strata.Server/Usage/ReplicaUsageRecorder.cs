using Strata.Core.Deployments;
using Strata.Core.Usage;
using Strata.Server.Storage;

namespace Strata.Server.Usage;

/// <summary>One replica's interval of usage, as the deployment runtime hands it over.</summary>
public sealed record ReplicaUsage(string ReplicaId, int ModelVersion, ReplicaInterval Interval);

/// <summary>
/// Stores the usage intervals of deployments' replicas (the <c>replica_usage</c> table, docs/usage.md "Serving").
/// The deployment runtime measures its replicas and calls this at each checkpoint and when a replica ends,
/// so a server that dies loses at most the interval still open.
/// </summary>
public sealed class ReplicaUsageRecorder(Store store)
{
    /// <summary>Appends <paramref name="intervals"/> of <paramref name="deployment"/>'s replicas in one commit.</summary>
    public async Task RecordAsync(DeploymentKey deployment, IReadOnlyList<ReplicaUsage> intervals, CancellationToken cancellationToken)
    {
        if (intervals.Count == 0) return;
        await using var db = store.CreateContext();
        db.ReplicaUsage.AddRange(intervals.Select(u => new ReplicaUsageRecord
        {
            TenantId = deployment.TenantId,
            DeploymentName = deployment.Name,
            ReplicaId = u.ReplicaId,
            ModelVersion = u.ModelVersion,
            StartedAtUnixMs = u.Interval.Start.ToUnixTimeMilliseconds(),
            EndedAtUnixMs = u.Interval.End.ToUnixTimeMilliseconds(),
            ReservedCoreSeconds = u.Interval.Reserved.CoreSeconds,
            ReservedMemoryGbSeconds = u.Interval.Reserved.MemoryGbSeconds,
            UsedCoreSeconds = u.Interval.Used.CoreSeconds,
            UsedMemoryGbSeconds = u.Interval.Used.MemoryGbSeconds,
        }));
        await db.SaveChangesAsync(cancellationToken);
    }
}
