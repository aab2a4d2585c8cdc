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
                else WriteClass(json, prediction.Positive ? labels.Positive : labels.Negative);
                json.WriteNumber("probability", prediction.Probability);
                json.WriteNumber("score", prediction.Score);
                break;
            case PredictionTask.Multiclass:
                json.WritePropertyName("predicted_label");
                WriteClass(json, prediction.ClassName);
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

    /// <summary>A class as the training data had it: a number where the label was numbers, else its text.</summary>
    private void WriteClass(Utf8JsonWriter json, string? name)
    {
        if (labels.Numeric && name is not null && LabelNames.TryNumber(name, out var number)) json.WriteNumberValue(number);
        else json.WriteStringValue(name);
    }
}

/// <summary>
/// How predictions name classes: a binary classifier's two classes when its label was not boolean
/// (<c>spam</c>/<c>ham</c>; a boolean label predicts <c>true</c>/<c>false</c>), a multiclass one's in score order.
/// <paramref name="Numeric"/>: the label was numbers in the training data (<c>0</c>/<c>1</c>), so a predicted class
/// is written as a JSON number, as the data had it.
/// </summary>
public sealed record LabelNames(string? Positive, string? Negative, IReadOnlyList<string>? Classes, bool Numeric = false)
{
    /// <summary>A class name that is a number, read as the trainer read it (invariant culture, finite).</summary>
    public static bool TryNumber(string text, out double value) =>
        double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out value) && double.IsFinite(value);
}
