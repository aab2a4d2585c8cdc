using System.Runtime.InteropServices;
using Strata.Core.Runtime;

namespace Strata.Core.Scheduling;

/// <summary>
/// What the live attempts hold of the runtime's capacity: each attempt by name, as the job it runs, and the
/// total. Pure and single-threaded: the caller owns the lock. Allocating and releasing are idempotent.
/// </summary>
public sealed class CapacityBook
{
    private readonly Dictionary<string, (AttemptRef Attempt, RunningJob Job)> _attempts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _runningByTenant = new(StringComparer.Ordinal);

    /// <summary>What all live attempts hold together.</summary>
    public ResourceRequest Allocated { get; private set; }

    /// <summary>Holds the job's request for a live attempt; false when the attempt holds it already.</summary>
    public bool Allocate(AttemptRef attempt, RunningJob job)
    {
        if (!_attempts.TryAdd(attempt.Name, (attempt, job))) return false;
        Allocated += job.Request;
        CollectionsMarshal.GetValueRefOrAddDefault(_runningByTenant, attempt.TenantId, out _)++;
        return true;
    }

    /// <summary>Gives back what a finished attempt held; false when it held nothing.</summary>
    public bool Release(string attemptName)
    {
        if (!_attempts.Remove(attemptName, out var held)) return false;
        Allocated -= held.Job.Request;
        if (--_runningByTenant[held.Attempt.TenantId] == 0) _runningByTenant.Remove(held.Attempt.TenantId);
        return true;
    }

    /// <summary>Marks the live attempt of <paramref name="jobId"/> as being preempted; returns it, or null when it no longer runs.</summary>
    public AttemptRef? MarkStopping(string jobId)
    {
        foreach (var (name, allocation) in _attempts)
        {
            if (allocation.Job.JobId != jobId) continue;
            _attempts[name] = (allocation.Attempt, allocation.Job with { Stopping = true });
            return allocation.Attempt;
        }
        return null;
    }

    /// <summary>How many live attempts the tenant has.</summary>
    public int RunningOf(string tenantId) => _runningByTenant.GetValueOrDefault(tenantId);

    /// <summary>The live attempts' jobs, each with the tenant its attempt is of.</summary>
    public IEnumerable<(string TenantId, RunningJob Job)> Live() => _attempts.Values.Select(a => (a.Attempt.TenantId, a.Job));

    /// <summary>
    /// The runtime's GPUs as a cycle places jobs on them: what its attempts hold (<paramref name="occupancy"/>),
    /// and on top, placed by the same rule, what live attempts it holds nothing for yet ask (admitted, still
    /// being started). An attempt that ended here but still holds devices there keeps them until the runtime
    /// gives them back.
    /// </summary>
    public GpuPool GpuPool(GpuOccupancy occupancy)
    {
        var pool = new GpuPool(occupancy.Devices);
        var placed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var holding in occupancy.Holdings)
        {
            pool.Take(holding.Uuid, holding.Milli);
            placed.Add(holding.AttemptName);
        }
        foreach (var (name, allocation) in _attempts)
        {
            if (!placed.Contains(name) && GpuDemand.Of(allocation.Job.Request, allocation.Job.GpuType) is { } demand) pool.TryPlace(demand);
        }
        return pool;
    }

    /// <summary>The jobs the live attempts run, as a copy.</summary>
    public RunningJob[] Running()
    {
        var running = new RunningJob[_attempts.Count];
        var i = 0;
        foreach (var allocation in _attempts.Values) running[i++] = allocation.Job;
        return running;
    }
}
