using Strata.Core.Runtime;

namespace Strata.Core.Usage;

/// <summary>
/// What a deployment's replica reserved and used over <paramref name="Start"/> to <paramref name="End"/>,
/// an interval that lies within one UTC day.
/// </summary>
public sealed record ReplicaInterval(DateTimeOffset Start, DateTimeOffset End, ResourceSeconds Reserved, ResourceSeconds Used)
{
    public double WallSeconds => (End - Start).TotalSeconds;
}

/// <summary>
/// Accrues one replica's usage between checkpoints (docs/usage.md, "What is measured: serving"). The runtime samples the
/// replica's process (its CPU time so far and its memory now) and, at each checkpoint and when the replica
/// ends, <see cref="Cut"/>s what accrued since the last one into intervals to store:
/// - reserved is the deployment's per-replica compute times the wall time;
/// - used cores are the CPU time the process spent in the interval;
/// - used memory is each sample's memory held until the next sample (a time integral, not a peak: a
///   replica lives for days, and its peak would overstate them all).
/// Intervals never cross a UTC midnight, so that a day's usage is the sum of its own intervals, and their
/// edges are whole milliseconds, as they are stored, so that reserved is exactly compute × stored wall time.
/// </summary>
public sealed class ReplicaMeter
{
    private DateTimeOffset _open;
    private DateTimeOffset _lastSample;
    private double _cpuAtOpen;
    private double _cpu;
    private long _memoryBytes;
    private double _memoryByteSeconds;

    /// <param name="startedAt">When the replica's process started: its first interval opens there, with no CPU time spent.</param>
    public ReplicaMeter(DateTimeOffset startedAt)
    {
        _open = WholeMilliseconds(startedAt);
        _lastSample = _open;
    }

    /// <summary>Where the interval still open began.</summary>
    public DateTimeOffset OpenSince => _open;

    /// <summary>Records a sample: the process's CPU time since it started and its memory now.</summary>
    public void Sample(DateTimeOffset now, double cpuSeconds, long memoryBytes)
    {
        if (now < _lastSample) return;
        // The memory of the previous sample was held until this one.
        _memoryByteSeconds += _memoryBytes * (now - _lastSample).TotalSeconds;
        _lastSample = now;
        _memoryBytes = Math.Max(0, memoryBytes);
        _cpu = Math.Max(_cpu, cpuSeconds);
    }

    /// <summary>Whether the open interval should be cut now: it is <paramref name="checkpoint"/> long, or a UTC day ended in it.</summary>
    public bool IsDue(DateTimeOffset now, TimeSpan checkpoint) => now - _open >= checkpoint || NextMidnight(_open) <= now;

    /// <summary>
    /// Closes the open interval at <paramref name="now"/> (the last sample's figures held until then) and
    /// opens the next; returns what accrued, split at UTC midnights, each part with its share of the use.
    /// Empty when no time passed.
    /// </summary>
    /// <param name="perReplica">What one replica of the deployment reserves.</param>
    public IReadOnlyList<ReplicaInterval> Cut(DateTimeOffset now, ResourceRequest perReplica)
    {
        now = WholeMilliseconds(now);
        if (now <= _open) return [];
        Sample(now, _cpu, _memoryBytes);
        var wall = (now - _open).TotalSeconds;
        var used = new ResourceSeconds(_cpu - _cpuAtOpen, _memoryByteSeconds / ResourceRequest.BytesPerGb, 0);
        var intervals = new List<ReplicaInterval>();
        for (var start = _open; start < now;)
        {
            var end = NextMidnight(start) < now ? NextMidnight(start) : now;
            var share = (end - start).TotalSeconds / wall;
            intervals.Add(new ReplicaInterval(start, end, ResourceSeconds.Of(perReplica, (end - start).TotalSeconds),
                new ResourceSeconds(used.CoreSeconds * share, used.MemoryGbSeconds * share, 0)));
            start = end;
        }
        _open = now;
        _cpuAtOpen = _cpu;
        _memoryByteSeconds = 0;
        return intervals;
    }

    private static DateTimeOffset WholeMilliseconds(DateTimeOffset time) => DateTimeOffset.FromUnixTimeMilliseconds(time.ToUnixTimeMilliseconds());

    private static DateTimeOffset NextMidnight(DateTimeOffset time)
    {
        var utc = time.ToUniversalTime();
        return new DateTimeOffset(utc.Date, TimeSpan.Zero).AddDays(1);
    }
}
