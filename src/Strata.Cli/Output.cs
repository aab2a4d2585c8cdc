using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Strata.Contracts;

namespace Strata.Cli;

/// <summary>Printing helpers shared by the commands.</summary>
public static class Output
{
    private static readonly JsonSerializerOptions Indented = new(StrataJson.Options) { WriteIndented = true };

    /// <summary>Writes <paramref name="value"/> as the API's JSON (snake_case), unwrapped and unstyled.</summary>
    public static void WriteJson<T>(IAnsiConsole console, T value) =>
        WriteRaw(console, JsonSerializer.Serialize(value, Indented));

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
