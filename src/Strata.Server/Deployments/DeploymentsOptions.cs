using System.ComponentModel.DataAnnotations;

namespace Strata.Server.Deployments;

/// <summary>Settings of deployments and of their local replicas (section <c>Deployments</c>).</summary>
public sealed class DeploymentsOptions
{
    public const string Section = "Deployments";
    public const int MaxRequestBytes = 64 * 1024;
    /// <summary>Largest prediction request the platform forwards to a replica.</summary>
    public const int MaxPredictBytes = 16 * 1024 * 1024;

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

    /// <summary>Cores and memory of a replica that names none.</summary>
    /// <value>The defaults are 1 core and 1 GB.</value>
    [Range(0.1, 96)]
    public double DefaultCpuCores { get; set; } = 1;

    [Range(0.1, 768)]
    public double DefaultMemoryGb { get; set; } = 1;

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

    /// <summary>
    /// An older name of <c>Jobs:TrainerWorkerPath</c>, the JIT <c>strata-worker</c> that trains and serves (<c>serve</c> needs
    /// ML.NET), read only when that is not set (see <c>Runtime.WorkerBinary</c>); null means the one beside the server.
    /// </summary>
    public string? WorkerPath { get; set; }
}
