using System.Text.Json;

namespace Strata.Worker.Serving;

/// <summary>What a model predicts, which decides the shape of a prediction.</summary>
public enum PredictionTask
{
    Binary,
    Multiclass,
    Regression,
}

/// <summary>
/// One prediction: for a binary classifier the label, its probability and raw score; for a multiclass
/// one the class and each class's probability; for a regression the value.
/// </summary>
public readonly record struct Prediction(bool Positive, float Score, float Probability, string? ClassName, float[]? Probabilities);

/// <summary>A loaded ML.NET model that predicts rows read by its <see cref="Inputs"/> (served through <see cref="MlNetModel"/>). Thread-safe.</summary>
public interface IPredictor
{
    ModelInputs Inputs { get; }

    PredictionTask Task { get; }

    LabelNames Labels { get; }

    /// <summary>Predicts every row into <paramref name="predictions"/> (same length).</summary>
    void Predict(IReadOnlyList<InputRow> rows, Span<Prediction> predictions);
}

/// <summary>Writes predictions as JSON, naming a binary classifier's classes the way the training data did.</summary>
public sealed class PredictionWriter(PredictionTask task, LabelNames labels)
{
    public void Write(Utf8JsonWriter json, in Prediction prediction)
    {
        json.WriteStartObject();
        switch (task)
        {
            case PredictionTask.Binary:
                json.WritePropertyName("predicted_label");
                if (labels.Negative is null || labels.Positive is null) json.WriteBooleanValue(prediction.Positive);
                else json.WriteStringValue(prediction.Positive ? labels.Positive : labels.Negative);
                json.WriteNumber("probability", prediction.Probability);
                json.WriteNumber("score", prediction.Score);
                break;
            case PredictionTask.Multiclass:
                json.WriteString("predicted_label", prediction.ClassName);
                json.WriteStartObject("probabilities");
                var probabilities = prediction.Probabilities!;
                for (var i = 0; i < probabilities.Length; i++)
                {
                    json.WriteNumber(labels.Classes is { } classes && i < classes.Count ? classes[i] : i.ToString(System.Globalization.CultureInfo.InvariantCulture), probabilities[i]);
                }
                json.WriteEndObject();
                break;
            default:
                json.WriteNumber("value", prediction.Score);
                break;
        }
        json.WriteEndObject();
    }
}

/// <summary>
/// How predictions name classes: a binary classifier's two classes when its label was not boolean
/// (<c>spam</c>/<c>ham</c>; a boolean label predicts <c>true</c>/<c>false</c>), a multiclass one's in score order.
/// </summary>
public sealed record LabelNames(string? Positive, string? Negative, IReadOnlyList<string>? Classes);
