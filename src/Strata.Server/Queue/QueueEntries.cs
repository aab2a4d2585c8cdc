using Strata.Core.Runtime;
using Strata.Core.Scheduling;
using Strata.Server.Storage;

namespace Strata.Server.Queue;

/// <summary>A stored job as the queue and the capacity book see it.</summary>
public static class QueueEntries
{
    /// <summary>A pending job: its whole request (a worker's times its workers), its place and its backoff.</summary>
    public static PendingJob ToPending(JobRecord job) =>
        new(job.Id, job.TenantId, job.Priority, job.Seq, WholeRequest(job), job.NotBefore, job.Workers) { GpuType = job.GpuType };

    /// <summary>A job whose attempt holds resources.</summary>
    public static RunningJob ToRunning(JobRecord job) =>
        new(job.Id, job.TenantId, job.Priority, job.Seq, WholeRequest(job)) { GpuType = job.GpuType };

    private static ResourceRequest WholeRequest(JobRecord job) => job.WorkerRequest() * job.Workers;
}
