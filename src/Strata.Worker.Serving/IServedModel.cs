using System.Text.Json;

namespace Strata.Worker.Serving;

/// <summary>
/// A loaded model as a replica serves it, whatever its format (<see cref="MlNetModel"/>,
/// <see cref="OnnxModel"/>): it reads a request's instances against the model's inputs and predicts
/// them. Thread-safe.
/// </summary>
public interface IServedModel
{
    /// <summary>
    /// Reads a request body (one instance, or <c>{"instances": [ ... ]}</c>) and predicts its instances.
    /// When any instance does not fit the model's inputs nothing is predicted and the answer carries the errors.
    /// </summary>
    /// <exception cref="PredictionFailedException">The model failed on input that fits its schema.</exception>
    IAnswer Predict(JsonElement body);
}

/// <summary>What a prediction request came to: the errors of its input, or one prediction per instance. Dispose after writing.</summary>
public interface IAnswer : IDisposable
{
    /// <summary>The input's errors keyed by field (<c>instances[3].tenure_months</c>, <c>""</c> for the body); empty when predicted.</summary>
    Dictionary<string, string[]> Errors { get; }

    /// <summary>Whether the request was a batch (<c>{"instances": [ ... ]}</c>), answered as <c>predictions</c>.</summary>
    bool Batch { get; }

    /// <summary>How many instances were predicted.</summary>
    int Count { get; }

    /// <summary>Writes the prediction of instance <paramref name="index"/> (0 to <see cref="Count"/> - 1) as a JSON object.</summary>
    void Write(Utf8JsonWriter json, int index);
}

/// <summary>The model failed on valid input (the runtime's message says why): a 500, not the caller's fault.</summary>
public sealed class PredictionFailedException(string message, Exception? inner = null) : Exception(message, inner);
