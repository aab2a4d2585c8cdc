using System.ComponentModel.DataAnnotations;

namespace Strata.Server.Runtime.Local;

/// <summary>
/// How the local runtime runs a deployment's replicas and scales them (section <c>Deployments</c>, whose other
/// settings are the deployments feature's own, <c>Deployments.DeploymentsOptions</c>).
/// </summary>
public sealed class LocalDeploymentOptions
{
    public const string Section = "Deployments";

    /// <summary>How long load must stay above the current replicas before the autoscaler adds one (Kubernetes' HPA: 0 s).</summary>
    /// <value>The default is 3 seconds.</value>
    [Range(0, 3600)]
    public double ScaleUpStabilizationSeconds { get; set; } = 3;

    /// <summary>How long load must stay below the current replicas before the autoscaler removes one (Kubernetes' HPA: 300 s).</summary>
    /// <value>The default is 60 seconds.</value>
    [Range(0, 3600)]
    public double ScaleDownStabilizationSeconds { get; set; } = 60;

    /// <summary>Longest a replica may take to load its model and become ready before it is restarted.</summary>
    /// <value>The default is 120 seconds.</value>
    [Range(1, 3600)]
    public double ReadyTimeoutSeconds { get; set; } = 120;

    /// <summary>Longest a replica taken out of rotation waits for its requests in flight before it is stopped.</summary>
    /// <value>The default is 30 seconds.</value>
    [Range(0, 3600)]
    public double DrainSeconds { get; set; } = 30;
}
