namespace Strata.Contracts;

/// <summary>The values of <see cref="ComputeRecommendation.Kind"/>: the lecture's SmartGPUScheduler's three answers.</summary>
public static class RecommendationKinds
{
    /// <summary>A slice of a device (<c>gpu_fraction</c>), or of the machine where there are no GPUs.</summary>
    public const string Shared = "shared";
    /// <summary>One worker with whole devices (or cores) of its own.</summary>
    public const string Dedicated = "dedicated";
    /// <summary>A gang of workers (<c>distributed.num_workers</c>), one device each.</summary>
    public const string Distributed = "distributed";
    public static readonly IReadOnlyList<string> All = [Shared, Dedicated, Distributed];
}

/// <summary>The values of <see cref="ComputeRecommendationRequest.Framework"/>.</summary>
public static class Frameworks
{
    public const string PyTorch = "pytorch";
    public const string TensorFlow = "tensorflow";
    public const string Jax = "jax";
    public const string ScikitLearn = "sklearn";
    public const string XgBoost = "xgboost";
    public const string LightGbm = "lightgbm";
    /// <summary>ML.NET: what Strata's built-in trainers (<c>model</c>) use.</summary>
    public const string MlNet = "mlnet";
    public static readonly IReadOnlyList<string> All = [PyTorch, TensorFlow, Jax, ScikitLearn, XgBoost, LightGbm, MlNet];
}

/// <summary>What <c>POST /v1/recommendations/compute</c> is asked about: the training workload (docs/recommendations.md).</summary>
public sealed record ComputeRecommendationRequest
{
    /// <summary>The training data's size in GB: 0 to 1,000,000.</summary>
    public double? DatasetSizeGb { get; init; }
    /// <summary>The model's parameters: a whole number, 1 to 10^13 (JSON may write it as <c>7e9</c>).</summary>
    public double? ModelParams { get; init; }
    /// <summary>Optional; one of <see cref="Frameworks.All"/>.</summary>
    public string? Framework { get; init; }
}

/// <summary>The answer: the compute to submit a job with, and why.</summary>
public sealed record ComputeRecommendation
{
    /// <summary><c>shared</c>, <c>dedicated</c> or <c>distributed</c>; see <see cref="RecommendationKinds"/>.</summary>
    public required string Kind { get; init; }
    /// <summary>Compute of each worker, as a job spec's <c>compute</c>.</summary>
    public required ComputeSpec Compute { get; init; }
    /// <summary>The gang, as a job spec's <c>distributed</c>; only for <c>distributed</c>.</summary>
    public DistributedSpec? Distributed { get; init; }
    /// <summary>Why, in words: the threshold that chose the kind, every cap the runtime imposed, and what history changed.</summary>
    public required List<string> Reasons { get; init; }
    /// <summary>The tenant's jobs whose records refined the answer, newest first; empty when none did.</summary>
    public required List<string> SimilarJobs { get; init; }
}
