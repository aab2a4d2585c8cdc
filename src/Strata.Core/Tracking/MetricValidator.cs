using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Strata.Contracts;
using Strata.Core.Jobs;

namespace Strata.Core.Tracking;

/// <summary>A metric point as recorded: every field present and checked.</summary>
public readonly record struct ValidMetric(string Name, double Value, long Step, DateTimeOffset Time);

/// <summary>Checks reported metric points, and reads <c>STRATA_METRIC {...}</c> lines of a job's output.</summary>
public static partial class MetricValidator
{
    /// <summary>What a metric line starts with.</summary>
    public const string LinePrefix = "STRATA_METRIC ";

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9_./-]*$")]
    private static partial Regex NamePattern();

    /// <summary>Checks one point; <paramref name="field"/> names it in errors (<c>[3].value</c>).</summary>
    /// <param name="now">The time of a point that names none.</param>
    public static ValidMetric? Check(MetricPoint point, string field, DateTimeOffset now, ValidationErrors errors)
    {
        var valid = true;
        if (string.IsNullOrEmpty(point.Name))
        {
            errors.Add(field + "name", "is required");
            valid = false;
        }
        else if (point.Name.Length > MetricLimits.NameLength || !NamePattern().IsMatch(point.Name))
        {
            errors.Add(field + "name", $"must be 1 to {MetricLimits.NameLength} letters, digits and '_ . - /', not starting with '.', '-' or '/'");
            valid = false;
        }
        if (point.Value is not { } value)
        {
            errors.Add(field + "value", "is required");
            valid = false;
        }
        else if (!double.IsFinite(value))
        {
            errors.Add(field + "value", "must be a finite number");
            valid = false;
        }
        if (point.Time is { } time && (time < MetricLimits.EarliestTime || time > now + MetricLimits.MaxClockSkew))
        {
            errors.Add(field + "time", $"must be from {MetricLimits.EarliestTime:yyyy-MM-dd} to a day after the server's clock ({now:yyyy-MM-ddTHH:mm:ssZ})");
            valid = false;
        }
        if (point.Step is < 0)
        {
            errors.Add(field + "step", "must be 0 or more");
            valid = false;
        }
        return valid ? new ValidMetric(point.Name!, point.Value!.Value, point.Step ?? 0, point.Time ?? now) : null;
    }

    /// <summary>
    /// Reads a line of a job's output: a <c>STRATA_METRIC {"name": ..., "value": ..., "step": ...}</c> line
    /// gives its point; any other line, or a metric line that is not valid, gives null.
    /// </summary>
    public static ValidMetric? ParseLine(ReadOnlySpan<char> line, DateTimeOffset now)
    {
        var start = line.IndexOf(LinePrefix.AsSpan(), StringComparison.Ordinal);
        // At the start of the line, after optional whitespace or a logging prefix ending in a space.
        if (start < 0 || (start > 0 && !char.IsWhiteSpace(line[start - 1]))) return null;
        var json = line[(start + LinePrefix.Length)..].Trim();
        try
        {
            var point = JsonSerializer.Deserialize(json, MetricLineJsonContext.Default.MetricPoint);
            return point is null ? null : Check(point, "", now, new ValidationErrors());
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>Metric lines are printed by hand: unknown keys are ignored (unlike in the API's bodies), numbers may be quoted.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
    NumberHandling = JsonNumberHandling.AllowReadingFromString)]
[JsonSerializable(typeof(MetricPoint))]
internal sealed partial class MetricLineJsonContext : JsonSerializerContext;
