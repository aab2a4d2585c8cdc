using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Strata.Contracts;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Strata.Cli;

/// <summary>Printing helpers shared by the commands.</summary>
public static class Output
{
    private static readonly JsonSerializerOptions Indented = new(StrataJson.Options) { WriteIndented = true };

    /// <summary>
    /// The one rendering path of <c>-o</c>: writes <paramref name="value"/> as JSON, YAML or names and returns true;
    /// returns false for <c>table</c> and <c>wide</c>, which the command draws itself.
    /// </summary>
    /// <param name="names">What <c>-o name</c> prints, one per line: the identifiers the command's <c>get</c> and
    /// <c>delete</c> take. Null where the output names no object.</param>
    /// <exception cref="UsageException"><c>-o name</c> for an output that names no object.</exception>
    public static bool WriteData<T>(IAnsiConsole console, OutputFormat format, T value, IEnumerable<string>? names = null)
    {
        switch (format)
        {
            case OutputFormat.Json:
                WriteJson(console, value);
                return true;
            case OutputFormat.Yaml:
                WriteYaml(console, value);
                return true;
            case OutputFormat.Name:
                if (names is null)
                {
                    throw new UsageException("-o name: this command's output names no object; choose json, yaml, table or wide");
                }

                foreach (var name in names)
                {
                    WriteRaw(console, name);
                }

                return true;
            default:
                return false;
        }
    }

    /// <summary>Whether the output is for people (<c>table</c>, <c>wide</c>): messages such as "Created …" are printed.</summary>
    public static bool ForPeople(this OutputFormat format) => format is OutputFormat.Table or OutputFormat.Wide;

    /// <summary>Writes <paramref name="value"/> as the API's JSON (snake_case), unwrapped and unstyled.</summary>
    public static void WriteJson<T>(IAnsiConsole console, T value) =>
        WriteRaw(console, JsonSerializer.Serialize(value, Indented));

    /// <summary>
    /// Writes <paramref name="value"/> as YAML with the JSON's field names and types: it is serialized as the API's
    /// JSON first, so both formats always agree. Strings YAML would read as another type (<c>"1"</c>, <c>"yes"</c>)
    /// are quoted.
    /// </summary>
    public static void WriteYaml<T>(IAnsiConsole console, T value)
    {
        var json = JsonSerializer.SerializeToElement(value, StrataJson.Options);
        var writer = new StringWriter(CultureInfo.InvariantCulture);
        new YamlStream(new YamlDocument(ToYaml(json))).Save(writer, assignAnchors: false);
        // The stream ends its document with an explicit "..." marker, which a single document does not need.
        var text = writer.ToString().TrimEnd();
        WriteRaw(console, text.EndsWith("\n...", StringComparison.Ordinal) ? text[..^4] : text);
    }

    private static YamlNode ToYaml(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => new YamlMappingNode(element.EnumerateObject().Select(p =>
            new KeyValuePair<YamlNode, YamlNode>(Scalar(p.Name, quoteIfAmbiguous: true), ToYaml(p.Value)))),
        JsonValueKind.Array => new YamlSequenceNode(element.EnumerateArray().Select(ToYaml)),
        JsonValueKind.String => Scalar(element.GetString()!, quoteIfAmbiguous: true),
        JsonValueKind.Number => Scalar(element.GetRawText(), quoteIfAmbiguous: false),
        JsonValueKind.True => Scalar("true", quoteIfAmbiguous: false),
        JsonValueKind.False => Scalar("false", quoteIfAmbiguous: false),
        _ => Scalar("null", quoteIfAmbiguous: false),
    };

    private static YamlScalarNode Scalar(string text, bool quoteIfAmbiguous) => new(text)
    {
        Style = !quoteIfAmbiguous ? ScalarStyle.Plain : ReadAsOtherType(text) ? ScalarStyle.DoubleQuoted : ScalarStyle.Any,
    };

    /// <summary>
    /// Whether a YAML reader (1.1 or 1.2) might take this plain text for a number, a date, a boolean or null: any
    /// text that starts as a number does (<c>1</c>, <c>0x1f</c>, <c>2026-01-01</c>, <c>1:20</c>), as kubectl quotes its timestamps.
    /// </summary>
    private static bool ReadAsOtherType(string text) =>
        text.Length == 0
        || char.IsAsciiDigit(text[0])
        || (text.Length > 1 && text[0] is '-' or '+' or '.' && char.IsAsciiDigit(text[1]))
        || text.ToLowerInvariant() is "~" or "null" or "true" or "false" or "yes" or "no" or "on" or "off" or "y" or "n" or ".inf" or "-.inf" or "+.inf" or ".nan";

    /// <summary>Writes a line as is: no markup, no wrapping at the console's width (tokens, logs, JSON).</summary>
    public static void WriteRaw(IAnsiConsole console, string line)
    {
        var writer = console.Profile.Out.Writer;
        writer.WriteLine(line);
        writer.Flush();
    }

    public static string Time(DateTimeOffset? time) =>
        time is { } t ? t.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) : "-";

    public static string Duration(DateTimeOffset? start, DateTimeOffset? end)
    {
        if (start is null)
        {
            return "-";
        }

        var span = (end ?? DateTimeOffset.UtcNow) - start.Value;
        if (span < TimeSpan.Zero)
        {
            span = TimeSpan.Zero;
        }

        return span.TotalSeconds < 60 ? $"{span.TotalSeconds:0.0}s"
            : span.TotalHours < 1 ? $"{(int)span.TotalMinutes}m{span.Seconds:00}s"
            : $"{(int)span.TotalHours}h{span.Minutes:00}m";
    }

    public static string Status(JobStatus status) => JsonNamingPolicy.SnakeCaseLower.ConvertName(status.ToString());

    public static string Status(AttemptStatus status) => JsonNamingPolicy.SnakeCaseLower.ConvertName(status.ToString());

    /// <summary>The status with a colour, escaped for markup.</summary>
    public static string StatusMarkup(JobStatus status) => status switch
    {
        JobStatus.Succeeded => "[green]succeeded[/]",
        JobStatus.Failed => "[red]failed[/]",
        JobStatus.Cancelled => "[yellow]cancelled[/]",
        JobStatus.Cancelling => "[yellow]cancelling[/]",
        JobStatus.Running => "[blue]running[/]",
        _ => "[grey]pending[/]",
    };

    /// <summary>"running", "pending (waiting_for_capacity, #3)", "failed (exited_with_error)".</summary>
    public static string Describe(TrainingJob job)
    {
        var details = new List<string>();
        if (!string.IsNullOrEmpty(job.StatusReason))
        {
            details.Add(job.StatusReason);
        }

        if (job.QueuePosition is { } position)
        {
            details.Add($"#{position} in queue");
        }

        if (job.Attempts > 1)
        {
            details.Add($"attempt {job.Attempts}");
        }

        return details.Count == 0 ? Status(job.Status) : $"{Status(job.Status)} ({string.Join(", ", details)})";
    }

    public static string Bytes(long? bytes) => bytes switch
    {
        null => "-",
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => $"{bytes / 1024.0:0.0} KiB",
        < 1024L * 1024 * 1024 => $"{bytes / (1024.0 * 1024):0.0} MiB",
        _ => $"{bytes / (1024.0 * 1024 * 1024):0.00} GiB",
    };

    public static string Esc(string? text) => Markup.Escape(text ?? "-");
}
