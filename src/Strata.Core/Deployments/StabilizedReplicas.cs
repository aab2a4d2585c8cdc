namespace Strata.Core.Deployments;

/// <summary>
/// The platform's in-flight autoscaler, for one deployment, whatever runs its replicas: each pass recommends
/// ceil(requests in flight / target per replica) within the limits; a rise counts once it has held for the
/// scale-up window (the lowest recommendation in it), a fall once it has held for the scale-down window (the
/// highest in it), as Kubernetes' HPA stabilizes. Not thread-safe: one loop calls it.
/// </summary>
public sealed class StabilizedReplicas(TimeSpan scaleUpWindow, TimeSpan scaleDownWindow)
{
    private readonly List<(DateTimeOffset Time, int Replicas)> _recommendations = [];

    /// <summary>The desired count after this pass, given the count desired until now.</summary>
    public int Next(double inFlight, double targetInFlight, int minReplicas, int maxReplicas, int current, DateTimeOffset now)
    {
        var recommendation = Math.Clamp((int)Math.Ceiling(inFlight / targetInFlight), minReplicas, maxReplicas);
        _recommendations.Add((now, recommendation));
        var window = scaleUpWindow > scaleDownWindow ? scaleUpWindow : scaleDownWindow;
        _recommendations.RemoveAll(r => now - r.Time > window);
        var up = int.MaxValue;
        var down = int.MinValue;
        foreach (var (time, replicas) in _recommendations)
        {
            if (now - time <= scaleUpWindow) up = Math.Min(up, replicas);
            if (now - time <= scaleDownWindow) down = Math.Max(down, replicas);
        }
        var before = Math.Clamp(current, minReplicas, maxReplicas);
        return up > before ? up : down < before ? down : before;
    }
}
