using System.Buffers;
using System.Text.Json;

namespace Strata.Worker.Serving;

/// <summary>An ML.NET model served: requests read by its <see cref="ModelInputs"/>, predicted by its engine pool.</summary>
public sealed class MlNetModel(IPredictor predictor) : IServedModel
{
    private readonly PredictionWriter _writer = new(predictor.Task, predictor.Labels);

    public IAnswer Predict(JsonElement body)
    {
        var read = predictor.Inputs.Read(body);
        if (read.Errors.Count > 0) return new Answer(read.Errors, read.Batch, [], 0, _writer);
        // Pooled: a single-row prediction should allocate next to nothing.
        var predictions = ArrayPool<Prediction>.Shared.Rent(read.Rows.Count);
        try
        {
            predictor.Predict(read.Rows, predictions.AsSpan(0, read.Rows.Count));
        }
        catch
        {
            ArrayPool<Prediction>.Shared.Return(predictions, clearArray: true);
            throw;
        }
        return new Answer(read.Errors, read.Batch, predictions, read.Rows.Count, _writer);
    }

    private sealed class Answer(Dictionary<string, string[]> errors, bool batch, Prediction[] predictions, int count, PredictionWriter writer) : IAnswer
    {
        public Dictionary<string, string[]> Errors => errors;

        public bool Batch => batch;

        public int Count => count;

        public void Write(Utf8JsonWriter json, int index) => writer.Write(json, predictions[index]);

        public void Dispose()
        {
            if (predictions.Length > 0) ArrayPool<Prediction>.Shared.Return(predictions, clearArray: true);
            predictions = [];
        }
    }
}
