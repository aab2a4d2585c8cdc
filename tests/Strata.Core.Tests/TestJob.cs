using Strata.Core.Runtime;
using Strata.Core.Scheduling;

namespace Strata.Core.Tests;

/// <summary>A pending job for scheduling tests: <c>TestJob.For("team-a").Cpu(2).Priority(10)</c>.</summary>
internal sealed class TestJob
{
    private static long _nextSequence;

    private readonly string _tenant;
    private string _id;
    private int _priority;
    private long _sequence;
    private double _cpu = 1;
    private double _memoryGb = 1;
    private int _gpus;
    private DateTimeOffset? _notBefore;
    private int _workers = 1;
    private bool _holdsQuota = true;

    private TestJob(string tenant)
    {
        _tenant = tenant;
        _sequence = Interlocked.Increment(ref _nextSequence);
        _id = $"{tenant}-job-{_sequence}";
    }

    public static TestJob For(string tenant) => new(tenant);

    public TestJob Id(string id) { _id = id; return this; }
    public TestJob Cpu(double cores) { _cpu = cores; return this; }
    public TestJob MemoryGb(double gb) { _memoryGb = gb; return this; }
    public TestJob Gpus(int gpus) { _gpus = gpus; return this; }
    public TestJob Priority(int priority) { _priority = priority; return this; }
    /// <summary>Submission order: lower is older.</summary>
    public TestJob Sequence(long sequence) { _sequence = sequence; return this; }
    public TestJob NotBefore(DateTimeOffset notBefore) { _notBefore = notBefore; return this; }
    /// <summary>A distributed job: the compute set is per worker.</summary>
    public TestJob Workers(int workers) { _workers = workers; return this; }
    /// <summary>Queued beyond its tenant's quota (<c>on_quota_exceeded: queue</c>).</summary>
    public TestJob BeyondQuota() { _holdsQuota = false; return this; }

    private ResourceRequest Request => ResourceRequest.FromGb(_cpu, _memoryGb, _gpus) * _workers;

    public PendingJob Build() =>
        new(_id, _tenant, _priority, _sequence, Request, _notBefore, _workers, _holdsQuota);

    /// <summary>The same job as one that runs now.</summary>
    public RunningJob Running(bool stopping = false) => new(_id, _tenant, _priority, _sequence, Request, stopping);

    public static implicit operator PendingJob(TestJob job) => job.Build();
}

/// <summary>Capacity for scheduling tests.</summary>
internal static class Free
{
    public static ResourceRequest Of(double cpu, double memoryGb = 64, int gpus = 0) => ResourceRequest.FromGb(cpu, memoryGb, gpus);
}
