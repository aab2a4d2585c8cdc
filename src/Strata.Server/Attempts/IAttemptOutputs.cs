using Strata.Core.Runtime;

namespace Strata.Server.Attempts;

/// <summary>What registering an attempt's output gave: a model version (<c>churn@3</c>), or why it failed.</summary>
public sealed record OutputRegistration(string? ModelVersion, string? Failure);

/// <summary>
/// What a successful attempt leaves to be registered before its job is marked succeeded: a built-in trainer's
/// model (implemented by <c>Models.TrainerOutputs</c>). The interface is the lifecycle's, so that Models may build
/// on Jobs and Tracking without the lifecycle depending on Models.
/// </summary>
public interface IAttemptOutputs
{
    /// <summary>Registers the succeeded attempt's output; null when it has none to register.</summary>
    Task<OutputRegistration?> RegisterAsync(AttemptRef attempt, CancellationToken cancellationToken);
}
