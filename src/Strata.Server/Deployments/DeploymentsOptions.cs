using System.ComponentModel.DataAnnotations;
using Strata.Contracts;
using Strata.Core.Deployments;

namespace Strata.Server.Deployments;

/// <summary>Settings of deployments (section <c>Deployments</c>; the local runtime's replicas read theirs, <c>Runtime.Local.LocalDeploymentOptions</c>).</summary>
public sealed class DeploymentsOptions
{
    public const string Section = "Deployments";

    /// <summary>Replicas of a deployment that names no <c>min_replicas</c>.</summary>
    /// <value>The default is 1.</value>
    [Range(0, 100)]
    public int DefaultMinReplicas { get; set; } = 1;

    /// <summary>Most replicas of a deployment that names no <c>max_replicas</c>.</summary>
    /// <value>The default is 4.</value>
    [Range(1, 100)]
    public int DefaultMaxReplicas { get; set; } = 4;

    /// <summary>Requests in flight per replica that the autoscaler aims at, when a deployment names none.</summary>
    /// <value>The default is 8.</value>
    [Range(0.1, 10000)]
    public double DefaultTargetInFlight { get; set; } = 8;

    /// <summary>CPU use, in percent of each replica's cores, that the HPA aims at (mode <c>cpu</c>), when a deployment names none.</summary>
    /// <value>The default is 70.</value>
    [Range(1, DeploymentSpecValidator.MaxTargetCpuPercent)]
    public int DefaultTargetCpuPercent { get; set; } = ScalingModes.DefaultTargetCpuPercent;

    /// <summary>Cores and memory of a replica that names none.</summary>
    /// <value>The defaults are 1 core and 1 GB.</value>
    [Range(0.1, 96)]
    public double DefaultCpuCores { get; set; } = 1;

    [Range(0.1, 768)]
    public double DefaultMemoryGb { get; set; } = 1;

    /// <summary>
    /// Seconds between two resyncs of every stored deployment with its runtime (besides the one at start): each is
    /// applied again, which repairs drift (a Kubernetes object edited or deleted by hand) and renews what expires,
    /// and what the runtime runs without a stored deployment (deleted on another server) is removed.
    /// </summary>
    /// <value>The default is 300 seconds.</value>
    [Range(5, 86400)]
    public int ResyncSeconds { get; set; } = 300;
}
