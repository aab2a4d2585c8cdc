using Strata.Contracts;

namespace Strata.Core.Deployments;

/// <summary>A deployment as the runtime must run it: which model version, how many replicas, each with what.</summary>
/// <param name="Key">The deployment's identity in the runtime (<see cref="DeploymentKey"/>).</param>
/// <param name="ModelUri">The model file (<c>model.zip</c>, or <c>model.onnx</c> for an ONNX version) in the registry.</param>
/// <param name="InputSchemaJson">The version's input schema, which replicas check requests against; null when it has none.</param>
/// <param name="Canary">A second version taking a share of the traffic, with replicas of its own; null when none.</param>
/// <param name="ScalingMode">Which autoscaler sizes it (<see cref="ScalingModes"/>); one the runtime lists in <see cref="IDeploymentRuntime.SupportedScalingModes"/>.</param>
/// <param name="TargetCpuPercent">The CPU use the HPA aims at, in mode <see cref="ScalingModes.Cpu"/>.</param>
public sealed record DeploymentTarget(
    DeploymentKey Key,
    string ModelName,
    int ModelVersion,
    string ModelUri,
    string? InputSchemaJson,
    int MinReplicas,
    int MaxReplicas,
    double TargetInFlight,
    double CpuCores,
    double MemoryGb,
    CanaryTarget? Canary = null,
    string ScalingMode = ScalingModes.InFlight,
    int TargetCpuPercent = ScalingModes.DefaultTargetCpuPercent);

/// <summary>A canary: another version of the deployment's model that answers <paramref name="Weight"/> of the predictions.</summary>
public sealed record CanaryTarget(int ModelVersion, string ModelUri, string? InputSchemaJson, double Weight)
{
    /// <summary>
    /// Replicas of the canary beside <paramref name="replicas"/> of the main version: its share of them,
    /// rounded up, and at least one, so that the canary always has somewhere to answer.
    /// </summary>
    public static int ReplicasFor(int replicas, double weight) => Math.Max(1, (int)Math.Ceiling(replicas * weight));
}

/// <summary>How predictions are split: <paramref name="Weight"/> of them go to the replicas of <paramref name="ModelVersion"/>.</summary>
public sealed record CanarySplit(int ModelVersion, double Weight, int DesiredReplicas);

/// <summary>A deployment's identity: its tenant and name.</summary>
public readonly record struct DeploymentKey(string TenantId, string Name)
{
    public override string ToString() => $"{TenantId}/{Name}";
}

/// <summary>A replica that answers predictions at <see cref="Address"/> (its <c>/predict</c>).</summary>
public sealed record ReplicaEndpoint(string Id, Uri Address, int ModelVersion)
{
    /// <summary>Its <c>/predict</c>, made once: every forwarded prediction is sent there.</summary>
    public Uri Predict { get; } = new(Address, "predict");

    /// <summary>
    /// Where its <c>/metrics</c> is scraped when that is not <see cref="Address"/>: a Kubernetes replica is reached
    /// through its Service, but scraped at its pod's own address. Null: at <see cref="Address"/>.
    /// </summary>
    public Uri? MetricsAddress { get; init; }

    /// <summary>
    /// A Unix domain socket on this machine where the replica also listens, which predictions are sent over
    /// instead of <see cref="Address"/>'s TCP (a local replica's); null when it has none, as a replica on another
    /// machine. <see cref="Address"/> stays its address for everything else (health checks, metrics scrapes).
    /// </summary>
    public string? Socket { get; init; }
}

/// <summary>What the runtime observes of a deployment now.</summary>
/// <param name="DesiredReplicas">Replicas of the main version wanted now (the canary's are in <paramref name="Canary"/>).</param>
/// <param name="Ready">Every replica answering predictions, of whichever version (a rollout's old one, the canary's).</param>
/// <param name="ModelName">The model the replicas serve (versions of it).</param>
public sealed record DeploymentObservation(
    int DesiredReplicas, IReadOnlyList<ReplicaEndpoint> Ready, IReadOnlyList<RuntimeEvent> Events, string ModelName, CanarySplit? Canary = null)
{
    /// <summary>
    /// Replicas started and listening but not ready yet (loading their model): not routed to, but their
    /// <c>/metrics</c> can be scraped, so that a replica stuck loading shows as <c>model_loaded 0</c>.
    /// </summary>
    public IReadOnlyList<ReplicaEndpoint> Starting { get; init; } = [];
}

/// <summary>Something the runtime did or saw (a replica started, became ready, exited, was stopped).</summary>
public sealed record RuntimeEvent(DateTimeOffset Time, string Reason, string Message);

/// <summary>
/// Where a deployment's replicas run: local processes, or a Kubernetes Deployment with its Service and
/// autoscaler. The control plane says what it wants (<see cref="ApplyAsync"/>, level-triggered and
/// idempotent: a new version rolls out, new limits apply) and routes predictions to the ready replicas
/// the runtime reports; the runtime keeps replicas alive and scales them between the limits.
/// </summary>
public interface IDeploymentRuntime
{
    /// <summary>The <see cref="ScalingModes"/> this runtime can run; a deployment asking for another is refused (400).</summary>
    IReadOnlyList<string> SupportedScalingModes { get; }

    /// <summary>Makes the deployment run as <paramref name="target"/> says; returns once the change is under way.</summary>
    Task ApplyAsync(DeploymentTarget target, CancellationToken cancellationToken);

    /// <summary>Stops and forgets the deployment's replicas (draining the requests in flight).</summary>
    Task RemoveAsync(DeploymentKey key, CancellationToken cancellationToken);

    /// <summary>The deployment's state now; null when the runtime does not run it.</summary>
    DeploymentObservation? Observe(DeploymentKey key);

    /// <summary>Every deployment the runtime runs now, of every tenant (for monitoring: the replicas' scrape targets, replica gauges).</summary>
    IReadOnlyList<DeploymentKey> Deployments();

    /// <summary>
    /// Removes every deployment the runtime runs that is not in <paramref name="stored"/> and was started before
    /// <paramref name="listedAt"/> (when <paramref name="stored"/> was read: one started since may be missing from it):
    /// what a deletion on another server, or while this one was down, left behind.
    /// </summary>
    Task RetainOnlyAsync(IReadOnlySet<DeploymentKey> stored, DateTimeOffset listedAt, CancellationToken cancellationToken);
}

/// <summary>The requests in flight on each replica (counted by the router), which a runtime's autoscaler and draining read.</summary>
public interface IReplicaLoad
{
    int InFlight(string replicaId);

    /// <summary>Drops what is counted for a replica that is gone (its id is never used again).</summary>
    void Forget(string replicaId);
}
