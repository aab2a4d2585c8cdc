namespace Strata.Core.Deployments;

/// <summary>A deployment as the runtime must run it: which model version, how many replicas, each with what.</summary>
/// <param name="Key">The deployment's identity in the runtime (<see cref="DeploymentKey"/>).</param>
/// <param name="ModelUri">The model file (<c>model.zip</c>) in the registry.</param>
/// <param name="InputSchemaJson">The version's input schema, which replicas check requests against; null when it has none.</param>
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
    double MemoryGb);

/// <summary>A deployment's identity: its tenant and name.</summary>
public readonly record struct DeploymentKey(string TenantId, string Name)
{
    public override string ToString() => $"{TenantId}/{Name}";
}

/// <summary>A replica that answers predictions at <see cref="Address"/> (its <c>/predict</c>).</summary>
public sealed record ReplicaEndpoint(string Id, Uri Address, int ModelVersion);

/// <summary>What the runtime observes of a deployment now.</summary>
public sealed record DeploymentObservation(int DesiredReplicas, IReadOnlyList<ReplicaEndpoint> Ready, IReadOnlyList<RuntimeEvent> Events);

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
    /// <summary>Makes the deployment run as <paramref name="target"/> says; returns once the change is under way.</summary>
    Task ApplyAsync(DeploymentTarget target, CancellationToken cancellationToken);

    /// <summary>Stops and forgets the deployment's replicas (draining the requests in flight).</summary>
    Task RemoveAsync(DeploymentKey key, CancellationToken cancellationToken);

    /// <summary>The deployment's state now; null when the runtime does not run it.</summary>
    DeploymentObservation? Observe(DeploymentKey key);
}
