using System.Collections.Concurrent;
using Strata.Core.Deployments;

namespace Strata.Server.Deployments;

/// <summary>A deployment's predictions over the window: requests per second, p95 latency, the share answered 5xx.</summary>
public sealed record PredictionSummary(int Requests, double PerSecond, double P95Milliseconds, double ErrorRatio);

/// <summary>
/// The server's own measurements of each deployment's predictions over the last 15 minutes (the dashboard's
/// deployment page; no Prometheus needed), in this server's memory. Counters per minute, not a sample per
/// prediction: recording is a few interlocked increments with no lock and no allocation, on the prediction hot path,
/// and the window is 15 minutes at any rate. The minutes are this one and the 14 before it, so the window is 14 to 15
/// minutes long; p95 is read from a latency histogram whose buckets are 9% apart, so it is at most 9% above the true
/// figure (the bucket's upper bound, as Prometheus' histograms give it).
/// </summary>
public sealed class PredictionWindow(TimeProvider time)
{
    public static readonly TimeSpan Length = TimeSpan.FromMinutes(15);

    private readonly ConcurrentDictionary<DeploymentKey, Minutes> _deployments = new();

    public void Record(DeploymentKey key, TimeSpan latency, bool failed) =>
        _deployments.GetOrAdd(key, static _ => new Minutes()).Record(time.GetUtcNow().UtcTicks, latency.TotalMilliseconds, failed);

    /// <summary>The window's figures; null when the deployment answered nothing in it.</summary>
    public PredictionSummary? Summarize(DeploymentKey key) =>
        _deployments.TryGetValue(key, out var minutes) ? minutes.Summarize(time.GetUtcNow().UtcTicks) : null;

    public void Forget(DeploymentKey key) => _deployments.TryRemove(key, out _);

    /// <summary>One slot per minute of the window, reused round-robin: a slot holding an older minute is cleared first.</summary>
    private sealed class Minutes
    {
        private static readonly long TicksPerMinute = TimeSpan.TicksPerMinute;
        private static readonly int Count = (int)Length.TotalMinutes;

        private readonly Minute[] _slots = Enumerable.Range(0, Count).Select(_ => new Minute()).ToArray();

        public void Record(long nowTicks, double milliseconds, bool failed)
        {
            var minute = nowTicks / TicksPerMinute;
            var slot = _slots[minute % Count];
            if (Volatile.Read(ref slot.Number) != minute)
            {
                // Once a minute per slot: a sample racing the clear may land in the new minute, which is harmless.
                lock (slot)
                {
                    if (slot.Number != minute) slot.Reset(minute);
                }
            }
            Interlocked.CompareExchange(ref slot.FirstTicks, nowTicks, 0);
            Interlocked.Increment(ref slot.Requests);
            if (failed) Interlocked.Increment(ref slot.Failures);
            Interlocked.Increment(ref slot.Latencies[LatencyBuckets.Of(milliseconds)]);
        }

        public PredictionSummary? Summarize(long nowTicks)
        {
            var current = nowTicks / TicksPerMinute;
            long requests = 0, failures = 0, first = long.MaxValue;
            var latencies = new long[LatencyBuckets.Count];
            foreach (var slot in _slots)
            {
                var number = Volatile.Read(ref slot.Number);
                if (number > current || number <= current - Count) continue;
                var inSlot = Interlocked.Read(ref slot.Requests);
                if (inSlot == 0) continue;
                requests += inSlot;
                failures += Interlocked.Read(ref slot.Failures);
                first = Math.Min(first, Interlocked.Read(ref slot.FirstTicks));
                for (var i = 0; i < latencies.Length; i++) latencies[i] += Interlocked.Read(ref slot.Latencies[i]);
            }
            if (requests == 0) return null;
            // Over the time since the window's first prediction (at least a second), at most the window.
            var seconds = Math.Max(1, Math.Min(Length.TotalSeconds, TimeSpan.FromTicks(nowTicks - first).TotalSeconds));
            return new PredictionSummary((int)Math.Min(int.MaxValue, requests), requests / seconds,
                LatencyBuckets.Quantile(latencies, requests, 0.95), failures / (double)requests);
        }
    }

    private sealed class Minute
    {
        public long Number = long.MinValue;
        public long FirstTicks;
        public long Requests;
        public long Failures;
        public readonly long[] Latencies = new long[LatencyBuckets.Count];

        public void Reset(long number)
        {
            Requests = 0;
            Failures = 0;
            FirstTicks = 0;
            Array.Clear(Latencies);
            Volatile.Write(ref Number, number);
        }
    }

    /// <summary>Latency buckets 2^(1/8) apart (9%) from 10 µs to about 5 minutes; the first holds anything faster.</summary>
    private static class LatencyBuckets
    {
        private const double SmallestMilliseconds = 0.01;
        private const int PerDoubling = 8;
        public const int Count = 200;

        public static int Of(double milliseconds) =>
            milliseconds <= SmallestMilliseconds ? 0
            : Math.Min(Count - 1, (int)Math.Ceiling(Math.Log2(milliseconds / SmallestMilliseconds) * PerDoubling));

        private static double UpperBound(int bucket) => SmallestMilliseconds * Math.Pow(2, bucket / (double)PerDoubling);

        /// <summary>The upper bound of the bucket that holds the <paramref name="quantile"/>-th of <paramref name="total"/> latencies.</summary>
        public static double Quantile(long[] counts, long total, double quantile)
        {
            var rank = Math.Max(1, (long)Math.Ceiling(total * quantile));
            long seen = 0;
            for (var i = 0; i < counts.Length; i++)
            {
                seen += counts[i];
                if (seen >= rank) return UpperBound(i);
            }
            return UpperBound(counts.Length - 1);
        }
    }
}
