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

    private const string CanaryWeightRule = "must be above 0 and below 1: the share of predictions the canary answers";

    /// <summary>Checks a create request.</summary>
    /// <param name="name">The deployment's name: the request's, or else its model's.</param>
    /// <param name="minReplicas">The request's minimum replicas, or the server's default.</param>
    /// <param name="maxReplicas">The request's maximum replicas, or the server's default (at least <paramref name="minReplicas"/>).</param>
    /// <param name="checkModelName">The model-name rule: an error message, or <c>null</c> for a good name.</param>
    public static ValidationErrors CheckCreate(
        CreateDeploymentRequest body, string? name, int minReplicas, int maxReplicas, Func<string?, string?> checkModelName)
    {
        var errors = new ValidationErrors();
        if (string.IsNullOrWhiteSpace(body.Model)) errors.Add("model", "is required: model@version or model@alias (churn@3, churn@production)");
        if (body.Model is not null && checkModelName(name) is { } nameError) errors.Add("name", nameError);
        CheckSettings(errors, minReplicas, maxReplicas, body.Scaling?.TargetInFlight, body.Compute);
        if (body.Canary is { } canary)
        {
            if (string.IsNullOrWhiteSpace(canary.Model)) errors.Add("canary.model", "is required: the version taking a share of the traffic (churn@2)");
            if (canary.Weight is not { } weight || !IsCanaryWeight(weight)) errors.Add("canary.weight", CanaryWeightRule);
        }
        return errors;
    }

    /// <summary>Checks an update request: only the fields it gives; the stored deployment fills in the rest later.</summary>
    public static ValidationErrors CheckUpdate(UpdateDeploymentRequest body)
    {
        var errors = new ValidationErrors();
        CheckSettings(errors, body.MinReplicas ?? 1, body.MaxReplicas ?? MaxReplicasLimit, body.Scaling?.TargetInFlight, body.Compute);
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

    private static void CheckSettings(ValidationErrors errors, int min, int max, double? targetInFlight, DeploymentCompute? compute)
    {
        if (min is < 1 or > MaxReplicasLimit) errors.Add("min_replicas", $"must be 1 to {MaxReplicasLimit}");
        if (max is < 1 or > MaxReplicasLimit) errors.Add("max_replicas", $"must be 1 to {MaxReplicasLimit}");
        else if (max < min) errors.Add("max_replicas", $"must be at least min_replicas ({min})");
        if (targetInFlight is { } target && !(target is >= 0.1 and <= 10_000)) errors.Add("scaling.target_in_flight", "must be 0.1 to 10000 requests per replica");
        if (compute?.CpuCores is { } cpu && !(cpu is >= 0.1 and <= 96)) errors.Add("compute.cpu_cores", "must be 0.1 to 96");
        if (compute?.MemoryGb is { } memory && !(memory is >= 0.1 and <= 768)) errors.Add("compute.memory_gb", "must be 0.1 to 768");
    }
}
