using System.Globalization;
using System.Text.Json;

namespace Strata.Contracts;

/// <summary>The values of a model version's <c>format</c>.</summary>
public static class ModelFormats
{
    /// <summary>An ML.NET model (<c>.zip</c>), as the built-in trainers write.</summary>
    public const string MlNet = "mlnet";
    /// <summary>An ONNX model (<c>.onnx</c>).</summary>
    public const string Onnx = "onnx";
    public static readonly IReadOnlyList<string> All = [MlNet, Onnx];
}

/// <summary>The values of <see cref="ModelColumn.Type"/>: what a model expects in an input column.</summary>
public static class ModelColumnTypes
{
    /// <summary>A number (32-bit float in the model); missing values are allowed and imputed.</summary>
    public const string Numeric = "numeric";
    /// <summary>Text from a known set of <see cref="ModelColumn.Levels"/>; an unknown level counts as missing.</summary>
    public const string Categorical = "categorical";
    /// <summary><c>true</c> or <c>false</c> (encoded like a categorical column).</summary>
    public const string Boolean = "boolean";
}

/// <summary>One input column of a model.</summary>
public sealed record ModelColumn
{
    public required string Name { get; init; }
    /// <summary>One of <see cref="ModelColumnTypes"/>.</summary>
    public required string Type { get; init; }
    /// <summary>The values seen in training, for categorical and boolean columns.</summary>
    public List<string>? Levels { get; init; }
    /// <summary>True when the training data had missing values in this column.</summary>
    public bool HasMissing { get; init; }
    public double? Min { get; init; }
    public double? Max { get; init; }
}

/// <summary>A column of the training data that the model does not use, and why.</summary>
public sealed record IgnoredColumn
{
    public required string Name { get; init; }
    public required string Reason { get; init; }
}

/// <summary>What a model predicts.</summary>
public sealed record ModelLabel
{
    public required string Name { get; init; }
    /// <summary>One of <see cref="ModelColumnTypes"/>.</summary>
    public required string Type { get; init; }
    /// <summary>The classes of a classifier, in the model's order.</summary>
    public List<string>? Classes { get; init; }
    /// <summary>The class a binary classifier's probability is for.</summary>
    public string? PositiveClass { get; init; }
}

/// <summary>
/// A model's input schema (<c>schema.json</c> beside a built-in trainer's model, and a version's
/// <c>input_schema</c>): the columns a prediction request must carry, so that inputs can be checked.
/// </summary>
public sealed record ModelInputSchema
{
    /// <summary><c>binary</c>, <c>multiclass</c> or <c>regression</c>.</summary>
    public string? Task { get; init; }
    public ModelLabel? Label { get; init; }
    public required List<ModelColumn> Columns { get; init; }
    public List<IgnoredColumn> IgnoredColumns { get; init; } = [];
}

/// <summary>What a built-in trainer writes as <c>metrics.json</c> beside its model.</summary>
public sealed record TrainingReport
{
    /// <summary>The trainer: <c>lightgbm</c>, ...</summary>
    public required string Model { get; init; }
    public required string Task { get; init; }
    public required string Label { get; init; }
    /// <summary>Measured on the held-out validation rows.</summary>
    public required Dictionary<string, double> Metrics { get; init; }
    public int TrainRows { get; init; }
    public int ValidationRows { get; init; }
    /// <summary>Rows left out because their label was missing.</summary>
    public int SkippedRows { get; init; }
    public string? DataPath { get; init; }
    /// <summary>SHA-256 (hex) of the data file the model was trained on.</summary>
    public string? DataSha256 { get; init; }
    /// <summary>Every hyperparameter's value, given or default.</summary>
    public Dictionary<string, double> Hyperparameters { get; init; } = [];
}

/// <summary>Body of <c>POST /v1/models</c>.</summary>
public sealed record CreateModelRequest
{
    /// <summary>A DNS-1123 label, unique in the tenant.</summary>
    public string? Name { get; init; }
    public string? Description { get; init; }
}

/// <summary>A named model of a tenant: its versions are numbered 1, 2, ... in registration order.</summary>
public sealed record Model
{
    public required string Name { get; init; }
    public string? Description { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    /// <summary>The highest version number, which the implicit alias <c>latest</c> names; null before the first.</summary>
    public int? LatestVersion { get; init; }
    /// <summary>Aliases (<c>production</c>, <c>staging</c>, ...) and the versions they name.</summary>
    public Dictionary<string, int> Aliases { get; init; } = [];
}

/// <summary>Body of <c>POST /v1/models/{name}/versions</c>: registers a model file a job wrote.</summary>
public sealed record RegisterModelVersionRequest
{
    /// <summary>The model file: a path inside the tenant's artifact area or a configured data root. The registry keeps its own copy.</summary>
    public string? Path { get; init; }
    /// <summary><c>onnx</c> or <c>mlnet</c>; when omitted, taken from the file's extension (<c>.onnx</c>, <c>.zip</c>).</summary>
    public string? Format { get; init; }
    /// <summary>The job that produced it (lineage). A job's own token registers for that job only and may omit it.</summary>
    public string? JobId { get; init; }
    public Dictionary<string, double>? Metrics { get; init; }
    /// <summary>The model's inputs, in the shape of <see cref="ModelInputSchema"/> or any JSON object.</summary>
    public JsonElement? InputSchema { get; init; }
    public string? Description { get; init; }
}

/// <summary>Where a model version came from.</summary>
public sealed record ModelLineage
{
    public string? JobId { get; init; }
    /// <summary>The built-in trainer, for versions the platform registered itself.</summary>
    public string? Trainer { get; init; }
    public string? DataPath { get; init; }
    public string? DataSha256 { get; init; }
    public string? DockerImage { get; init; }
    public string? Entrypoint { get; init; }
    public string? CodeRepo { get; init; }
    public string? CodeCommit { get; init; }
    public Dictionary<string, JsonElement>? Hyperparameters { get; init; }
}

/// <summary>One immutable version of a model.</summary>
public sealed record ModelVersion
{
    public required string ModelName { get; init; }
    public required int Version { get; init; }
    /// <summary>One of <see cref="ModelFormats"/>.</summary>
    public required string Format { get; init; }
    /// <summary>Where the registry keeps the model file.</summary>
    public required string Uri { get; init; }
    public long SizeBytes { get; init; }
    public required string Sha256 { get; init; }
    public Dictionary<string, double> Metrics { get; init; } = [];
    public JsonElement? InputSchema { get; init; }
    public required ModelLineage Lineage { get; init; }
    /// <summary>The aliases naming this version (<c>latest</c> included when it is the newest).</summary>
    public List<string> Aliases { get; init; } = [];
    public string? Description { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
}

/// <summary>Body of <c>PUT /v1/models/{name}/aliases/{alias}</c>.</summary>
public sealed record SetModelAliasRequest
{
    public int? Version { get; init; }
}

/// <summary>
/// The cells of a CSV that mean "no value": the built-in trainer reads them as missing when it trains, and the CLI
/// sends them as missing (null) when it predicts from a CSV, so that both read a file alike.
/// </summary>
public static class MissingValues
{
    private static readonly HashSet<string> Markers = new(StringComparer.OrdinalIgnoreCase) { "", "NA", "N/A", "NaN", "null", "None", "?" };

    public static bool IsMissing(string cell) => Markers.Contains(cell.Trim());
}

/// <summary>
/// Numbers that were 32-bit floats (ML.NET's features, scores and statistics, a float32 metric): widened to double
/// as they are, -3.4718f is -3.4718000888824463, digits nobody wrote. These keep the float's shortest form.
/// </summary>
public static class NumberText
{
    /// <summary>The double that prints as the float was written: -3.4718f becomes -3.4718.</summary>
    public static double FromFloat(float value) => double.Parse(value.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    /// <summary>
    /// A number for people: a double that is exactly a float32's value (a float widened on its way here) in the
    /// float's shortest form, any other double in its own shortest form.
    /// </summary>
    public static string Format(double value) =>
        double.IsFinite(value) && (double)(float)value == value
            ? ((float)value).ToString(CultureInfo.InvariantCulture)
            : value.ToString(CultureInfo.InvariantCulture);
}
