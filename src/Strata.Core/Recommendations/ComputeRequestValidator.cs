using Strata.Contracts;
using Strata.Core.Jobs;

namespace Strata.Core.Recommendations;

/// <summary>Checks a <c>POST /v1/recommendations/compute</c> body, field by field.</summary>
public static class ComputeRequestValidator
{
    /// <summary>A petabyte: beyond it the figure is a typo, not a dataset.</summary>
    public const double MaxDatasetSizeGb = 1_000_000;
    /// <summary>Ten trillion: ten times the largest models trained today.</summary>
    public const double MaxModelParams = 1e13;

    public static void Validate(ComputeRecommendationRequest request, ValidationErrors errors)
    {
        if (request.DatasetSizeGb is not { } size)
        {
            errors.Add("dataset_size_gb", "is required");
        }
        else if (!double.IsFinite(size) || size < 0 || size > MaxDatasetSizeGb)
        {
            errors.Add("dataset_size_gb", $"must be 0 to {MaxDatasetSizeGb:0}");
        }

        if (request.ModelParams is not { } parameters)
        {
            errors.Add("model_params", "is required");
        }
        else if (!double.IsFinite(parameters) || parameters < 1 || parameters > MaxModelParams || parameters != Math.Floor(parameters))
        {
            errors.Add("model_params", $"must be a whole number, 1 to {MaxModelParams:0.#e0}");
        }

        if (request.Framework is { } framework && !Frameworks.All.Contains(framework))
        {
            errors.Add("framework", $"must be one of {string.Join(", ", Frameworks.All)}");
        }
    }
}
