using Strata.Contracts;
using Strata.Core.Jobs;

namespace Strata.Core.Deployments;

/// <summary>
/// Checks the fields of a deployment request before any model is resolved. Pure: the caller gives the replica
/// counts it would use and the model-name rule; which model a reference names is the service's to decide.
/// </summary>
public static class DeploymentSpecValidator
{
    /// <summary>The most replicas a deployment may ask for, as its minimum or its maximum.</summary>
    public const int MaxReplicasLimit = 100;

    /// <summary>
    /// The range of <c>scaling.target_cpu_percent</c>. A HorizontalPodAutoscaler measures CPU in percent of the pods'
    /// requests, and a replica's requests equal its limits: it can never use more than 100%, so a higher target
    /// would never scale up. Kubernetes itself accepts any positive number.
    /// </summary>
    public const int MaxTargetCpuPercent = 100;

    private const string CanaryWeightRule = "must be above 0 and below 1: the share of predictions the canary answers";

    private static readonly string[] AllScalingModes = [ScalingModes.InFlight, ScalingModes.Cpu];

    /// <summary>Checks a create request.</summary>
    /// <param name="name">The deployment's name: the request's, or else its model's.</param>
    /// <param name="minReplicas">The request's minimum replicas, or the server's default.</param>
    /// <param name="maxReplicas">The request's maximum replicas, or the server's default (at least <paramref name="minReplicas"/>).</param>
    /// <param name="checkModelName">The model-name rule: an error message, or <c>null</c> for a good name.</param>
    /// <param name="supportedScalingModes">The modes the server's deployment runtime runs (<c>IDeploymentRuntime.SupportedScalingModes</c>).</param>
    public static ValidationErrors CheckCreate(
        CreateDeploymentRequest body, string? name, int minReplicas, int maxReplicas, Func<string?, string?> checkModelName,
        IReadOnlyCollection<string> supportedScalingModes)
    {
        var errors = new ValidationErrors();
        if (string.IsNullOrWhiteSpace(body.Model)) errors.Add("model", "is required: model@version or model@alias (churn@3, churn@production)");
        if (body.Model is not null && checkModelName(name) is { } nameError) errors.Add("name", nameError);
        CheckSettings(errors, minReplicas, maxReplicas, body.Scaling, body.Compute, supportedScalingModes);
        if (body.Canary is { } canary)
        {
            if (string.IsNullOrWhiteSpace(canary.Model)) errors.Add("canary.model", "is required: the version taking a share of the traffic (churn@2)");
            if (canary.Weight is not { } weight || !IsCanaryWeight(weight)) errors.Add("canary.weight", CanaryWeightRule);
        }
        return errors;
    }

    /// <summary>Checks an update request: only the fields it gives; the stored deployment fills in the rest later.</summary>
    /// <param name="supportedScalingModes">The modes the server's deployment runtime runs (<c>IDeploymentRuntime.SupportedScalingModes</c>).</param>
    public static ValidationErrors CheckUpdate(UpdateDeploymentRequest body, IReadOnlyCollection<string> supportedScalingModes)
    {
        var errors = new ValidationErrors();
        CheckSettings(errors, body.MinReplicas ?? 1, body.MaxReplicas ?? MaxReplicasLimit, body.Scaling, body.Compute, supportedScalingModes);
        if (body.MinReplicas is { } newMin && body.MaxReplicas is null && newMin > MaxReplicasLimit) errors.Add("min_replicas", $"must be at most {MaxReplicasLimit}");
        if (body.Canary is { } canary)
        {
            // Weight 0 with no model removes the canary; otherwise a weight is a share above 0 and below 1.
            var removes = canary.Model is null && canary.Weight == 0;
            if (!removes && canary.Weight is { } weight && !IsCanaryWeight(weight)) errors.Add("canary.weight", CanaryWeightRule + "; 0 alone removes the canary");
            if (canary.Model is null && canary.Weight is null) errors.Add("canary", "give a model (churn@2) and a weight, a new weight, or {\"weight\": 0} to remove the canary");
        }
        return errors;
    }

    private static bool IsCanaryWeight(double weight) => weight is > 0 and < 1;

    /// <summary>Why <paramref name="mode"/> cannot be used: not a mode at all, or one this server's runtime does not run; null when it can.</summary>
    private static string? CheckScalingMode(string mode, IReadOnlyCollection<string> supported)
    {
        if (!AllScalingModes.Contains(mode, StringComparer.Ordinal))
        {
            return $"must be {ScalingModes.InFlight} (the platform's autoscaler, on requests in flight) or {ScalingModes.Cpu} (a HorizontalPodAutoscaler on CPU use)";
        }
        if (supported.Contains(mode, StringComparer.Ordinal)) return null;
        var scalesOn = string.Join(" or ", supported.Select(m => m == ScalingModes.Cpu ? "CPU use" : "requests in flight"));
        return $"'{mode}' is not available here: this server's deployment runtime scales on {scalesOn} only ({string.Join(", ", supported)})"
            + (mode == ScalingModes.Cpu ? "; CPU scaling needs the Kubernetes runtime (Runtime:Kind=kubernetes)" : "");
    }

    private static void CheckSettings(
        ValidationErrors errors, int min, int max, DeploymentScaling? scaling, DeploymentCompute? compute, IReadOnlyCollection<string> supportedScalingModes)
    {
        if (min is < 1 or > MaxReplicasLimit) errors.Add("min_replicas", $"must be 1 to {MaxReplicasLimit}");
        if (max is < 1 or > MaxReplicasLimit) errors.Add("max_replicas", $"must be 1 to {MaxReplicasLimit}");
        else if (max < min) errors.Add("max_replicas", $"must be at least min_replicas ({min})");
        if (scaling?.Mode is { } mode && CheckScalingMode(mode, supportedScalingModes) is { } modeError) errors.Add("scaling.mode", modeError);
        if (scaling?.TargetInFlight is { } target && !(target is >= 0.1 and <= 10_000)) errors.Add("scaling.target_in_flight", "must be 0.1 to 10000 requests per replica");
        if (scaling?.TargetCpuPercent is { } percent && percent is < 1 or > MaxTargetCpuPercent)
        {
            errors.Add("scaling.target_cpu_percent", $"must be 1 to {MaxTargetCpuPercent}: the CPU use, in percent of each replica's cores, that the autoscaler aims at");
        }
        if (compute?.CpuCores is { } cpu && !(cpu is >= 0.1 and <= 96)) errors.Add("compute.cpu_cores", "must be 0.1 to 96");
        if (compute?.MemoryGb is { } memory && !(memory is >= 0.1 and <= 768)) errors.Add("compute.memory_gb", "must be 0.1 to 768");
    }
}
