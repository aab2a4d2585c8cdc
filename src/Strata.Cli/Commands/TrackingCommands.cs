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
        var id = new Argument<string>("id") { Description = "The job's id" };
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
        var ids = new Argument<string[]>("ids") { Description = "Two or more job ids", Arity = new ArgumentArity(2, 20) };
        var command = new Command("compare", "Runs side by side: how their specs differ, their hyperparameters and latest metrics") { ids };
        command.SetAction((parse, ct) => cli.RunAsync(parse,
            (client, token) => CompareAsync(cli.Out, client, parse.GetValue(ids)!, cli.Format(parse), token), ct));
        return command;
    }

    public static async Task<int> CompareAsync(IAnsiConsole console, StrataClient client, IReadOnlyList<string> ids, OutputFormat format, CancellationToken cancellationToken)
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
        var specs = jobs.Select(j => Flatten(JsonSerializer.SerializeToNode(j.Spec with { Hyperparameters = null, TenantId = null }, StrataJson.Options))).ToList();
        var table = new Table().AddColumn("");
        foreach (var job in jobs)
        {
            table.AddColumn(new TableColumn($"[bold]{Output.Esc(job.Spec.Name)}[/]\n[grey]{Output.Esc(job.Id[..Math.Min(8, job.Id.Length)])}[/]"));
        }
        AddRow(table, "status", jobs.Select(j => Output.StatusMarkup(j.Status)));
        AddRow(table, "duration", jobs.Select(j => Output.Esc(Output.Duration(j.StartedAt, j.CompletedAt))));

        var differing = specs.SelectMany(s => s.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)
            .Where(key => specs.Select(s => s.GetValueOrDefault(key)).Distinct(StringComparer.Ordinal).Count() > 1)
            .ToList();
        Section(table, "spec differences", differing.Count == 0 ? "none" : null);
        foreach (var key in differing) AddRow(table, key, specs.Select(s => Output.Esc(s.GetValueOrDefault(key))));

        var parameters = jobs.SelectMany(j => j.Spec.Hyperparameters?.Keys ?? Enumerable.Empty<string>()).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        Section(table, "hyperparameters", parameters.Count == 0 ? "none" : null);
        foreach (var key in parameters)
        {
            AddRow(table, key, jobs.Select(j => j.Spec.Hyperparameters?.TryGetValue(key, out var v) == true ? Output.Esc(v.ToString()) : "[grey]-[/]"));
        }

        var metrics = jobs.SelectMany(j => j.Metrics.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        Section(table, "metrics (latest)", metrics.Count == 0 ? "none reported" : null);
        foreach (var key in metrics)
        {
            AddRow(table, key, jobs.Select(j => j.Metrics.TryGetValue(key, out var v) ? Number(v) : "[grey]-[/]"));
        }
        console.Write(table);
        return ExitCodes.Success;
    }

    private static void Section(Table table, string title, string? empty)
    {
        var cells = new List<string> { $"[bold underline]{title}[/]" };
        cells.AddRange(Enumerable.Repeat(empty is null ? "" : $"[grey]{empty}[/]", table.Columns.Count - 1));
        table.AddRow(cells.ToArray());
    }

    private static void AddRow(Table table, string label, IEnumerable<string> cells) =>
        table.AddRow([Output.Esc(label), .. cells]);

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
