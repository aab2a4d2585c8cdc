using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;
using Strata.Client;
using Strata.Contracts;

namespace Strata.Cli.Commands;

/// <summary><c>strata jobs metrics</c> (a table and a sparkline per metric) and <c>strata jobs compare</c> (runs side by side).</summary>
public static class TrackingCommands
{
    private const string SparkBars = "▁▂▃▄▅▆▇█";
    public const int SparklineWidth = 40;

    public static Command MetricsCommand(CliContext cli)
    {
        var id = new Argument<string>("id") { Description = JobCommands.ReferenceDescription };
        var name = new Option<string?>("--name") { Description = "Only this metric" };
        var command = new Command("metrics", "A job's metrics: latest value, range and a sparkline of each") { id, name };
        command.SetAction((parse, ct) => cli.RunAsync(parse,
            (client, token) => MetricsAsync(cli.Out, client, parse.GetValue(id)!, parse.GetValue(name), cli.Format(parse), token), ct,
            $"job \"{parse.GetValue(id)}\""));
        return command;
    }

    public static async Task<int> MetricsAsync(IAnsiConsole console, StrataClient client, string id, string? name, OutputFormat format, CancellationToken cancellationToken)
    {
        var points = await client.Jobs.GetMetricsAsync(id, name, cancellationToken);
        if (Output.WriteData(console, format, points, points.Select(p => p.Name!).Distinct(StringComparer.Ordinal)))
        {
            return ExitCodes.Success;
        }
        if (points.Count == 0)
        {
            console.MarkupLine($"[grey]Job {Output.Esc(id)} has reported no metrics{(name is null ? "" : $" named {Output.Esc(name)}")}.[/]");
            return ExitCodes.Success;
        }
        var table = new Table().AddColumns("METRIC", "LATEST", "STEP", "MIN", "MAX", "POINTS", "HISTORY");
        foreach (var series in points.GroupBy(p => p.Name!, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            // In step order, reports of one step in the order recorded: the last one is the latest value.
            var ordered = series.Select((p, i) => (Point: p, Index: i)).OrderBy(x => x.Point.Step).ThenBy(x => x.Index).Select(x => x.Point).ToList();
            var values = ordered.Select(p => p.Value!.Value).ToList();
            var latest = ordered[^1];
            table.AddRow(
                Output.Esc(series.Key),
                Number(latest.Value!.Value),
                (latest.Step ?? 0).ToString(CultureInfo.InvariantCulture),
                Number(values.Min()),
                Number(values.Max()),
                values.Count.ToString(CultureInfo.InvariantCulture),
                Sparkline(values, SparklineWidth));
        }
        console.Write(table);
        return ExitCodes.Success;
    }

    /// <summary>
    /// A terminal sparkline of <paramref name="values"/> in at most <paramref name="width"/> characters: each
    /// character is the mean of its share of the values, scaled between their minimum and maximum.
    /// </summary>
    public static string Sparkline(IReadOnlyList<double> values, int width)
    {
        if (values.Count == 0) return "";
        var buckets = Math.Min(width, values.Count);
        var means = new double[buckets];
        for (var b = 0; b < buckets; b++)
        {
            var from = b * values.Count / buckets;
            var to = Math.Max(from + 1, (b + 1) * values.Count / buckets);
            means[b] = values.Skip(from).Take(to - from).Average();
        }
        var min = means.Min();
        var range = means.Max() - min;
        var line = new StringBuilder(buckets);
        foreach (var mean in means)
        {
            var level = range == 0 ? SparkBars.Length / 2 : (int)Math.Round((mean - min) / range * (SparkBars.Length - 1));
            line.Append(SparkBars[level]);
        }
        return line.ToString();
    }

    public static Command CompareCommand(CliContext cli)
    {
        var ids = new Argument<string[]>("ids") { Description = "Two or more jobs: ids, unique id prefixes or names", Arity = new ArgumentArity(2, 20) };
        var wide = new Option<bool>("--wide") { Description = $"Every value whole and every run in one table (by default the table fits {ComparisonTable.DefaultWidth} columns)" };
        var command = new Command("compare", "Runs side by side: how their specs differ, the hyperparameters they used and their latest metrics") { ids, wide };
        command.SetAction((parse, ct) => cli.RunAsync(parse,
            (client, token) => CompareAsync(cli.Out, client, parse.GetValue(ids)!, cli.Format(parse), parse.GetValue(wide), token), ct));
        return command;
    }

    /// <summary>
    /// The runs side by side. Fields that differ between any two runs by their nature (ids, the output folder, times)
    /// are left out; an uploaded file counts as its content (its sha256), so two uploads of one file are the same data.
    /// </summary>
    /// <param name="wide">Whole values in one table; otherwise the table fits <see cref="ComparisonTable.DefaultWidth"/> columns (or the terminal, when narrower).</param>
    public static async Task<int> CompareAsync(
        IAnsiConsole console, StrataClient client, IReadOnlyList<string> ids, OutputFormat format, bool wide, CancellationToken cancellationToken)
    {
        var jobs = new List<TrainingJob>();
        foreach (var id in ids)
        {
            jobs.Add(await client.Jobs.GetAsync(id, cancellationToken));
        }
        if (Output.WriteData(console, format, jobs, jobs.Select(j => j.Id)))
        {
            return ExitCodes.Success;
        }
        var artifacts = new Dictionary<string, Artifact?>(StringComparer.Ordinal);
        var specs = new List<Dictionary<string, SpecValue>>();
        var hyperparameters = new List<Dictionary<string, string>>();
        foreach (var job in jobs)
        {
            specs.Add(await SpecValuesAsync(client, job.Spec, artifacts, cancellationToken));
            hyperparameters.Add(await HyperparametersAsync(client, job, cancellationToken));
        }

        var table = new ComparisonTable(Labels(jobs));
        table.Add("status", jobs.Select(j => new ComparisonTable.Cell(Output.Status(j.Status), Output.StatusMarkup(j.Status))));
        table.Add("duration", jobs.Select(j => new ComparisonTable.Cell(Output.Duration(j.StartedAt, j.CompletedAt))));

        var differing = specs.SelectMany(s => s.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)
            .Where(key => specs.Select(s => s.GetValueOrDefault(key)?.Identity).Distinct(StringComparer.Ordinal).Count() > 1)
            .ToList();
        table.Section("spec differences", differing.Count == 0 ? "none" : null);
        foreach (var key in differing) table.Add(key, specs.Select(s => s.TryGetValue(key, out var v) ? new ComparisonTable.Cell(v.Shown) : null));

        var parameters = hyperparameters.SelectMany(h => h.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        table.Section("hyperparameters", parameters.Count == 0 ? "none" : null);
        foreach (var key in parameters) table.Add(key, hyperparameters.Select(h => h.TryGetValue(key, out var v) ? new ComparisonTable.Cell(v) : null));

        var metrics = jobs.SelectMany(j => j.Metrics.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        table.Section("metrics (latest)", metrics.Count == 0 ? "none reported" : null);
        foreach (var key in metrics) table.Add(key, jobs.Select(j => j.Metrics.TryGetValue(key, out var v) ? new ComparisonTable.Cell(Number(v)) : null));

        table.Write(console, wide || format == OutputFormat.Wide ? null : Math.Min(ComparisonTable.DefaultWidth, console.Profile.Width));
        return ExitCodes.Success;
    }

    /// <summary>
    /// Each run's column heading: its name, and the shortest end of its id (4 hex digits at least) that no other run's
    /// id ends with. Ids are UUIDv7: runs of one minute share a long start (the time) and differ in their random end.
    /// </summary>
    internal static IReadOnlyList<(string Title, string Subtitle)> Labels(IReadOnlyList<TrainingJob> jobs)
    {
        var digits = jobs.Select(j => j.Id.Replace("-", "", StringComparison.Ordinal)).ToList();
        var distinct = digits.Distinct(StringComparer.Ordinal).Count();
        var length = 4;
        while (length < digits.Max(d => d.Length) && digits.Select(d => End(d, length)).Distinct(StringComparer.Ordinal).Count() < distinct) length++;
        return [.. jobs.Select((job, i) => (job.Spec.Name ?? "-", "…" + End(digits[i], length)))];
    }

    private static string End(string text, int length) => text[^Math.Min(length, text.Length)..];

    /// <summary>A spec value as shown, and what makes two of them the same (an uploaded file's sha256, else the text).</summary>
    private sealed record SpecValue(string Identity, string Shown);

    /// <summary>
    /// The spec's fields that may tell runs apart, as dotted keys: not its name (the heading), tenant, output folder
    /// (each job's own) or hyperparameters (a section of their own). An artifact is named by its upload's name and sha256.
    /// </summary>
    private static async Task<Dictionary<string, SpecValue>> SpecValuesAsync(
        StrataClient client, TrainingJobSpec spec, Dictionary<string, Artifact?> artifacts, CancellationToken cancellationToken)
    {
        var flat = Flatten(JsonSerializer.SerializeToNode(spec with { Name = null, Hyperparameters = null, TenantId = null, ModelOutputPath = null }, StrataJson.Options));
        var values = new Dictionary<string, SpecValue>(StringComparer.Ordinal);
        foreach (var (key, text) in flat)
        {
            if (ArtifactUri.TryParse(text, out var artifactId))
            {
                if (!artifacts.TryGetValue(artifactId, out var artifact))
                {
                    try
                    {
                        artifact = await client.Artifacts.GetAsync(artifactId, cancellationToken);
                    }
                    catch (NotFoundException)
                    {
                        // Deleted since (retention): the URI is all there is to compare.
                        artifact = null;
                    }
                    artifacts[artifactId] = artifact;
                }
                if (artifact is not null)
                {
                    values[key] = new SpecValue("sha256:" + artifact.Sha256, $"{artifact.Name} (sha256 {artifact.Sha256[..Math.Min(12, artifact.Sha256.Length)]})");
                    continue;
                }
            }
            values[key] = new SpecValue(text, text);
        }
        return values;
    }

    /// <summary>
    /// The hyperparameters a run used. The built-in trainer writes every value it trained with, defaults included, to
    /// <see cref="TrainingReportFile"/> in its outputs; a custom run (or a built-in one whose outputs are not on the
    /// server, or that has not succeeded) shows what its spec gave.
    /// </summary>
    private static async Task<Dictionary<string, string>> HyperparametersAsync(StrataClient client, TrainingJob job, CancellationToken cancellationToken)
    {
        if (job.Spec.Model is not null && job.Status == JobStatus.Succeeded)
        {
            try
            {
                using var file = new MemoryStream();
                await client.Jobs.DownloadOutputAsync(job.Id, TrainingReportFile, file, null, cancellationToken);
                if (JsonSerializer.Deserialize<TrainingReport>(file.ToArray(), StrataJson.Options) is { Hyperparameters.Count: > 0 } report)
                {
                    return report.Hyperparameters.ToDictionary(h => h.Key, h => h.Value.ToString(CultureInfo.InvariantCulture), StringComparer.Ordinal);
                }
            }
            catch (Exception e) when (e is NotFoundException or JsonException)
            {
                // No report to read (a Kubernetes job keeps its outputs in the cluster): the spec's values follow.
            }
        }
        return (job.Spec.Hyperparameters ?? []).ToDictionary(
            h => h.Key, h => h.Value.ValueKind == JsonValueKind.String ? h.Value.GetString()! : h.Value.GetRawText(), StringComparer.Ordinal);
    }

    /// <summary>What the built-in trainer writes beside its model: a <see cref="TrainingReport"/>.</summary>
    public const string TrainingReportFile = "metrics.json";

    /// <summary>A spec as dotted keys and their JSON text (<c>compute.cpu_cores</c> → <c>2</c>); nulls left out.</summary>
    internal static Dictionary<string, string> Flatten(JsonNode? node, string prefix = "", Dictionary<string, string>? into = null)
    {
        into ??= new Dictionary<string, string>(StringComparer.Ordinal);
        switch (node)
        {
            case null:
                break;
            case JsonObject obj:
                foreach (var (key, value) in obj) Flatten(value, prefix.Length == 0 ? key : $"{prefix}.{key}", into);
                break;
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                into[prefix] = value.GetValue<string>();
                break;
            default:
                into[prefix] = node.ToJsonString();
                break;
        }
        return into;
    }

    private static string Number(double value) => value.ToString("G6", CultureInfo.InvariantCulture);
}
