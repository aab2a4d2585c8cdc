using System.Collections.Concurrent;
using Strata.Core.Deployments;

namespace Strata.Server.Deployments;

/// <summary>A deployment's predictions over the window: requests per second, p95 latency, the share answered 5xx.</summary>
public sealed record PredictionSummary(int Requests, double PerSecond, double P95Milliseconds, double ErrorRatio);

/// <summary>
/// The server's own measurements of each deployment's predictions over the last 15 minutes (the dashboard's
/// deployment page; no Prometheus needed): one sample per answered prediction, in this server's memory, at most
/// <see cref="MostSamples"/> per deployment (the oldest go first), so a busy deployment's window may be shorter.
/// </summary>
public sealed class PredictionWindow(TimeProvider time)
{
    public static readonly TimeSpan Length = TimeSpan.FromMinutes(15);
    public const int MostSamples = 100_000;

    private readonly ConcurrentDictionary<DeploymentKey, Samples> _deployments = new();

    public void Record(DeploymentKey key, TimeSpan latency, bool failed)
    {
        var samples = _deployments.GetOrAdd(key, _ => new Samples());
        var now = time.GetUtcNow();
        lock (samples)
        {
            samples.Queue.Enqueue((now, latency.TotalMilliseconds, failed));
            samples.Trim(now - Length);
        }
    }

    /// <summary>The window's figures; null when the deployment answered nothing in it.</summary>
    public PredictionSummary? Summarize(DeploymentKey key)
    {
        if (!_deployments.TryGetValue(key, out var samples)) return null;
        var now = time.GetUtcNow();
        (DateTimeOffset At, double Milliseconds, bool Failed)[] taken;
        lock (samples)
        {
            samples.Trim(now - Length);
            taken = [.. samples.Queue];
        }
        if (taken.Length == 0) return null;
        var latencies = taken.Select(s => s.Milliseconds).Order().ToArray();
        var p95 = latencies[Math.Max(0, (int)Math.Ceiling(latencies.Length * 0.95) - 1)];
        // Over the whole window once it is full; before that, over the time since the first sample (at least a second).
        var seconds = Math.Max(1, Math.Min(Length.TotalSeconds, (now - taken[0].At).TotalSeconds));
        return new PredictionSummary(taken.Length, taken.Length / seconds, p95, taken.Count(s => s.Failed) / (double)taken.Length);
    }

    public void Forget(DeploymentKey key) => _deployments.TryRemove(key, out _);

    private sealed class Samples
    {
        public Queue<(DateTimeOffset At, double Milliseconds, bool Failed)> Queue { get; } = new();

        public void Trim(DateTimeOffset since)
        {
            while (Queue.Count > 0 && (Queue.Peek().At < since || Queue.Count > MostSamples)) Queue.Dequeue();
        }
    }
}
