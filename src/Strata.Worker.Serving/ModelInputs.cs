using System.Text.Json;
using Strata.Contracts;

namespace Strata.Worker.Serving;

/// <summary>How an input column reaches the model: a 32-bit float, text, or a boolean.</summary>
public enum InputKind
{
    Number,
    Text,
    Boolean,
}

/// <summary>One input column of a loaded model, as a request names it.</summary>
/// <param name="Type">The schema's type (<see cref="ModelColumnTypes"/>), which decides what JSON values it accepts.</param>
public sealed record InputColumn(string Name, InputKind Kind, string Type);

/// <summary>One instance's values, by column index: numbers (NaN when missing; booleans as 0/1) and texts ("" when missing).</summary>
public sealed class InputRow(int columns)
{
    public float[] Numbers { get; } = new float[columns];
    public string[] Texts { get; } = new string[columns];
}

/// <summary>
/// Reads prediction requests against a model's inputs: either one instance (a JSON object of column
/// values) or <c>{"instances": [ ... ]}</c>. Every column must be present (<c>null</c> is a missing
/// value, which the model imputes); a name that is neither an input, the label nor a column the
/// trainer ignored is an error, since it is far more often a typo than something to drop silently.
/// Errors name the field (<c>instances[3].tenure_months</c>) and say what was expected.
/// </summary>
public sealed class ModelInputs
{
    /// <summary>Most instances one request may carry.</summary>
    public const int MaxInstances = 10_000;
    private const int MaxErrors = 20;

    private readonly Dictionary<string, int> _index;
    private readonly HashSet<string> _tolerated;

    public ModelInputs(IReadOnlyList<InputColumn> columns, IEnumerable<string> tolerated)
    {
        Columns = columns;
        _index = columns.Select((c, i) => (c.Name, i)).ToDictionary(p => p.Name, p => p.i, StringComparer.Ordinal);
        _tolerated = new HashSet<string>(tolerated, StringComparer.Ordinal);
    }

    public IReadOnlyList<InputColumn> Columns { get; }

    /// <summary>The instances of a request, or the errors that make it unusable (keyed by field).</summary>
    public ReadResult Read(JsonElement body)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (body.ValueKind != JsonValueKind.Object)
        {
            errors[""] = ["The body must be a JSON object: one instance, or {\"instances\": [ ... ]}."];
            return new ReadResult([], Batch: false, errors);
        }
        if (!body.TryGetProperty("instances", out var instances) || _index.ContainsKey("instances"))
        {
            var row = ReadInstance(body, "", errors);
            return new ReadResult(row is null ? [] : [row], Batch: false, errors);
        }
        if (instances.ValueKind != JsonValueKind.Array || instances.GetArrayLength() == 0)
        {
            errors["instances"] = ["instances must be a non-empty array of objects."];
            return new ReadResult([], Batch: true, errors);
        }
        if (instances.GetArrayLength() > MaxInstances)
        {
            errors["instances"] = [$"At most {MaxInstances} instances per request; send {instances.GetArrayLength()} in several requests."];
            return new ReadResult([], Batch: true, errors);
        }
        var rows = new List<InputRow>(instances.GetArrayLength());
        var i = 0;
        foreach (var instance in instances.EnumerateArray())
        {
            var prefix = $"instances[{i++}]";
            if (instance.ValueKind != JsonValueKind.Object)
            {
                errors[prefix] = ["Each instance must be a JSON object of column values."];
            }
            else if (ReadInstance(instance, prefix + ".", errors) is { } row)
            {
                rows.Add(row);
            }
            if (errors.Count >= MaxErrors) break;
        }
        return new ReadResult(rows, Batch: true, errors);
    }

    private InputRow? ReadInstance(JsonElement instance, string prefix, Dictionary<string, string[]> errors)
    {
        var before = errors.Count;
        var row = new InputRow(Columns.Count);
        var seen = new bool[Columns.Count];
        foreach (var property in instance.EnumerateObject())
        {
            if (!_index.TryGetValue(property.Name, out var c))
            {
                if (!_tolerated.Contains(property.Name))
                {
                    errors[prefix + property.Name] = [$"'{property.Name}' is not an input of this model; its inputs are: {string.Join(", ", Columns.Select(x => x.Name))}."];
                }
                continue;
            }
            seen[c] = true;
            if (ReadValue(Columns[c], property.Value, row, c) is { } problem)
            {
                errors[prefix + property.Name] = [problem];
            }
        }
        for (var c = 0; c < Columns.Count; c++)
        {
            if (!seen[c])
            {
                errors[prefix + Columns[c].Name] = ["Required: every input column must be present (null for a missing value)."];
            }
        }
        return errors.Count == before ? row : null;
    }

    private static string? ReadValue(InputColumn column, JsonElement value, InputRow row, int c)
    {
        switch (column.Kind)
        {
            case InputKind.Number:
                if (value.ValueKind == JsonValueKind.Null)
                {
                    row.Numbers[c] = float.NaN;
                    return null;
                }
                if (value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var number) && double.IsFinite(number) && Math.Abs(number) <= float.MaxValue)
                {
                    row.Numbers[c] = (float)number;
                    return null;
                }
                return $"Must be a number (or null for a missing value), not {JsonValues.Describe(value)}.";
            case InputKind.Boolean:
                if (value.ValueKind is JsonValueKind.True or JsonValueKind.False)
                {
                    row.Numbers[c] = value.ValueKind == JsonValueKind.True ? 1 : 0;
                    return null;
                }
                return $"Must be true or false, not {JsonValues.Describe(value)}.";
            default:
                return ReadText(column, value, row, c);
        }
    }

    private static string? ReadText(InputColumn column, JsonElement value, InputRow row, int c)
    {
        // Text as the trainer saw it: trimmed; a boolean column's levels are "true" and "false".
        switch (value.ValueKind)
        {
            case JsonValueKind.Null:
                row.Texts[c] = "";
                return null;
            case JsonValueKind.String:
                var text = value.GetString()!.Trim();
                row.Texts[c] = column.Type == ModelColumnTypes.Boolean ? text.ToLowerInvariant() : text;
                return null;
            case JsonValueKind.True or JsonValueKind.False when column.Type == ModelColumnTypes.Boolean:
                row.Texts[c] = value.ValueKind == JsonValueKind.True ? "true" : "false";
                return null;
            default:
                return column.Type == ModelColumnTypes.Boolean
                    ? $"Must be true or false (or null for a missing value), not {JsonValues.Describe(value)}."
                    : $"Must be a string (or null for a missing value), not {JsonValues.Describe(value)}.";
        }
    }
}

/// <summary>What a request carried: its instances (when <see cref="Errors"/> is empty) and whether it was a batch.</summary>
public sealed record ReadResult(IReadOnlyList<InputRow> Rows, bool Batch, Dictionary<string, string[]> Errors);
