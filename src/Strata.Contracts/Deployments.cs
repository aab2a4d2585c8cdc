namespace Strata.Contracts;

/// <summary>Compute of one replica.</summary>
public sealed record DeploymentCompute
{
    public double? CpuCores { get; init; }
    public double? MemoryGb { get; init; }
}

/// <summary>How a deployment scales between its minimum and maximum replicas.</summary>
public sealed record DeploymentScaling
{
    /// <summary>
    /// Which autoscaler sizes the deployment (<see cref="ScalingModes"/>): the platform's own on requests in flight
    /// (<c>in_flight</c>, the default), or, on the Kubernetes runtime, a HorizontalPodAutoscaler on CPU (<c>cpu</c>). Never both.
    /// </summary>
    public string? Mode { get; init; }
    /// <summary>Requests in flight per replica that the autoscaler aims at (mode <c>in_flight</c>).</summary>
    public double? TargetInFlight { get; init; }
    /// <summary>Average CPU use, in percent of each replica's cores, that the HPA keeps replicas at (mode <c>cpu</c>; 70 by default).</summary>
    public int? TargetCpuPercent { get; init; }
}

/// <summary>The values of <see cref="DeploymentScaling.Mode"/>.</summary>
public static class ScalingModes
{
    /// <summary>The platform's autoscaler: replicas = requests in flight ÷ target per replica, within the limits.</summary>
    public const string InFlight = "in_flight";
    /// <summary>A Kubernetes HorizontalPodAutoscaler (autoscaling/v2) on the replicas' CPU use; Kubernetes runtime only.</summary>
    public const string Cpu = "cpu";
    public const int DefaultTargetCpuPercent = 70;
}

/// <summary>
/// A second version of the deployment's model that takes a share of the traffic. In <c>PATCH</c>,
/// <c>{"weight": 0}</c> alone removes the canary (all traffic back to <c>model</c>), and a <c>model</c>
/// naming the canary's version promotes it.
/// </summary>
public sealed record DeploymentCanary
{
    /// <summary><c>churn@2</c>, <c>churn@staging</c>: a version of the deployment's model other than the one it serves.</summary>
    public string? Model { get; init; }
    /// <summary>The share of predictions the canary answers, above 0 and below 1.</summary>
    public double? Weight { get; init; }
}

/// <summary>The canary of a deployment as it runs.</summary>
public sealed record DeploymentCanaryStatus
{
    /// <summary>The model reference as given (<c>churn@2</c>).</summary>
    public required string Model { get; init; }
    public required int ModelVersion { get; init; }
    public required double Weight { get; init; }
    public required int DesiredReplicas { get; init; }
    public required int ReadyReplicas { get; init; }
}

/// <summary>Body of <c>POST /v1/deployments</c>.</summary>
public sealed record CreateDeploymentRequest
{
    /// <summary>A DNS-1123 label, unique in the tenant; defaults to the model's name.</summary>
    public string? Name { get; init; }
    /// <summary><c>model@version</c> or <c>model@alias</c> (<c>churn@3</c>, <c>churn@production</c>; <c>churn</c> is <c>churn@latest</c>).</summary>
    public string? Model { get; init; }
    public DeploymentCompute? Compute { get; init; }
    public int? MinReplicas { get; init; }
    public int? MaxReplicas { get; init; }
    public DeploymentScaling? Scaling { get; init; }
    public DeploymentCanary? Canary { get; init; }
}

/// <summary>Body of <c>PATCH /v1/deployments/{name}</c>: what to change; a new <c>model</c> rolls out replica by replica.</summary>
public sealed record UpdateDeploymentRequest
{
    public string? Model { get; init; }
    public DeploymentCompute? Compute { get; init; }
    public int? MinReplicas { get; init; }
    public int? MaxReplicas { get; init; }
    public DeploymentScaling? Scaling { get; init; }
    /// <summary>Sets or changes the canary; <c>{"weight": 0}</c> removes it.</summary>
    public DeploymentCanary? Canary { get; init; }
}

/// <summary>Something that happened to a deployment (created, a version rolled out, a replica restarted).</summary>
public sealed record DeploymentEvent
{
    public required DateTimeOffset Time { get; init; }
    /// <summary>A stable word: <c>created</c>, <c>updated</c>, <c>replica_started</c>, <c>replica_ready</c>, <c>replica_exited</c>, <c>replica_stopped</c>, ...</summary>
    public required string Reason { get; init; }
    public required string Message { get; init; }
}

/// <summary>The values of <see cref="Deployment.Status"/>.</summary>
public static class DeploymentStatuses
{
    /// <summary>No replica is ready yet.</summary>
    public const string Pending = "pending";
    /// <summary>As many replicas are ready as desired, all of the current version.</summary>
    public const string Ready = "ready";
    /// <summary>Some replicas are ready, fewer than desired (starting, restarting or rolling out).</summary>
    public const string Progressing = "progressing";
}

/// <summary>A model deployed as a prediction endpoint.</summary>
public sealed record Deployment
{
    public required string Name { get; init; }
    /// <summary>The model reference as given (<c>churn@production</c>).</summary>
    public required string Model { get; init; }
    public required string ModelName { get; init; }
    /// <summary>The version the deployment serves (an alias is resolved when the deployment is created or updated).</summary>
    public required int ModelVersion { get; init; }
    /// <summary>The version served before the last change of version, which a rollback returns to; null before any.</summary>
    public int? PreviousModelVersion { get; init; }
    /// <summary>The second version taking a share of the traffic, if any.</summary>
    public DeploymentCanaryStatus? Canary { get; init; }
    public required string Status { get; init; }
    public required DeploymentCompute Compute { get; init; }
    public required int MinReplicas { get; init; }
    public required int MaxReplicas { get; init; }
    public required DeploymentScaling Scaling { get; init; }
    /// <summary>Replicas of <see cref="ModelVersion"/> wanted now (the canary's are counted in <see cref="Canary"/>).</summary>
    public required int DesiredReplicas { get; init; }
    /// <summary>Replicas answering predictions, other than the canary's (during a rollout, of the old version too).</summary>
    public required int ReadyReplicas { get; init; }
    /// <summary>Where to POST predictions: <c>/v1/deployments/{name}/predict</c>.</summary>
    public required string EndpointUrl { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }
    /// <summary>What led to the current state, oldest first.</summary>
    public List<DeploymentEvent> Events { get; init; } = [];
}

/// <summary>Answer of <c>GET /v1/deployments/{name}/health</c>.</summary>
public sealed record DeploymentHealth
{
    /// <summary><c>healthy</c> when at least one replica is ready, else <c>unhealthy</c>.</summary>
    public required string Status { get; init; }
    public required int ReadyReplicas { get; init; }
    public required int DesiredReplicas { get; init; }
    public required int ModelVersion { get; init; }
}
