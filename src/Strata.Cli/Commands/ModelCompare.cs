using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Strata.Client;
using Strata.Contracts;

namespace Strata.Cli.Commands;

/// <summary>
/// <c>strata models compare NAME V1 V2 [V3…]</c>: versions side by side (docs/models.md, "Comparing versions"). It reads
/// each version through the registry's own route, so it needs nothing more of the server.
/// </summary>
public static class ModelCompare
{
    /// <summary>The width the table fits in by default, whatever the terminal's; <c>--wide</c> lifts it.</summary>
    public const int Width = ComparisonTable.DefaultWidth;
    /// <summary>How much of a sha256 identifies it in the narrow table, as git shortens a commit.</summary>
    private const int ShortHash = 12;

    public static Command Create(CliContext cli)
    {
        var name = new Argument<string>("name") { Description = "The model's name" };
        var versions = new Argument<string[]>("versions") { Description = "Two or more version numbers or aliases (1 2, production 4)", Arity = new ArgumentArity(2, 20) };
        var wide = new Option<bool>("--wide") { Description = "Every value whole, in one table as wide as it needs (as -o wide)" };
        var command = new Command("compare", "Versions of a model side by side: metrics, trainer, hyperparameters and lineage, the fields that differ marked *")
        {
            name, versions, wide,
        };
        command.SetAction((parse, ct) => cli.RunAsync(parse, (client, token) =>
        {
            var format = parse.GetValue(wide) && cli.Format(parse) == OutputFormat.Table ? OutputFormat.Wide : cli.Format(parse);
            return CompareAsync(cli.Out, client, parse.GetValue(name)!, parse.GetValue(versions)!, format, token);
        }, ct)); // No subject for a 404: the server's message says whether the model or one of its versions is missing.
        return command;
    }

    public static async Task<int> CompareAsync(
        IAnsiConsole console, StrataClient client, string name, IReadOnlyList<string> references, OutputFormat format, CancellationToken cancellationToken)
    {
        var versions = new List<ModelVersion>();
        foreach (var reference in references)
        {
            versions.Add(await client.Models.GetVersionAsync(name, reference, cancellationToken));
        }
        if (Output.WriteData(console, format, versions, versions.Select(v => $"{v.ModelName}@{v.Version}")))
        {
            return ExitCodes.Success;
        }
        var wide = format == OutputFormat.Wide;
        var rows = Rows(versions, wide);
        var table = new ComparisonTable([.. versions.Select((v, i) => (v.Version.ToString(CultureInfo.InvariantCulture) == references[i]
            ? $"{v.ModelName}@{v.Version}"
            : $"{v.ModelName}@{v.Version} ({references[i]})", ""))]);
        foreach (var row in rows)
        {
            if (row.Values is null) table.Section(row.Label);
            else table.Add(row.Label, row.Values.Select(v => v is null ? null : new ComparisonTable.Cell(v)), row.Differs);
        }
        table.Write(console, wide ? null : Width);
        if (rows.Any(r => r.Differs)) console.MarkupLine("[grey]* the versions differ in this field[/]");
        return ExitCodes.Success;
    }

    /// <summary>A field of the comparison: a section's title (no values), or a field with a value per version.</summary>
    private sealed record Row(string Label, IReadOnlyList<string?>? Values, bool Differs)
    {
        public static Row Section(string title) => new(title, null, false);
    }

    /// <summary>
    /// Every field of the versions, by section. Whether a field differs is decided on its whole values, before the
    /// narrow table shortens them (two hashes that differ only past the 12th character still differ).
    /// </summary>
    private static List<Row> Rows(IReadOnlyList<ModelVersion> versions, bool wide)
    {
        var rows = new List<Row>();
        void Add(string label, Func<ModelVersion, string?> value, Func<string, string>? shorten = null, Func<ModelVersion, string?>? sameWhen = null)
        {
            var values = versions.Select(value).ToList();
            if (values.All(v => v is null)) return;
            var differs = versions.Select(sameWhen ?? value).Distinct(StringComparer.Ordinal).Count() > 1;
            rows.Add(new Row(label, wide || shorten is null ? values : [.. values.Select(v => v is null ? null : shorten(v))], differs));
        }

        rows.Add(Row.Section("metrics"));
        foreach (var metric in versions.SelectMany(v => v.Metrics.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            Add(metric, v => v.Metrics.TryGetValue(metric, out var value) ? NumberText.Format(value) : null, Number);
        }
        rows.Add(Row.Section("trainer"));
        Add("trainer", v => v.Lineage.Trainer);
        Add("docker image", v => v.Lineage.DockerImage);
        Add("entrypoint", v => v.Lineage.Entrypoint);
        rows.Add(Row.Section("hyperparameters"));
        foreach (var key in versions.SelectMany(v => v.Lineage.Hyperparameters?.Keys ?? Enumerable.Empty<string>()).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            Add(key, v => ModelCommands.HyperparameterText(v.Lineage.Hyperparameters, key), Number);
        }
        rows.Add(Row.Section("lineage"));
        Add("job", v => v.Lineage.JobId);
        // Two uploads of one file are two artifacts of the same data: the data differs when its hash does.
        Add("data", v => v.Lineage.DataPath, sameWhen: v => v.Lineage.DataSha256 ?? v.Lineage.DataPath);
        Add("data sha256", v => v.Lineage.DataSha256, Hash);
        Add("code repo", v => v.Lineage.CodeRepo);
        Add("code commit", v => v.Lineage.CodeCommit, Hash);
        rows.Add(Row.Section("version"));
        Add("aliases", v => string.Join(", ", v.Aliases));
        Add("format", v => v.Format);
        Add("size", v => Output.Bytes(v.SizeBytes));
        Add("sha256", v => v.Sha256, Hash);
        Add("created", v => Output.Time(v.CreatedAt));
        // A section with no field left (no hyperparameters recorded) is left out too.
        return [.. rows.Where((row, i) => row.Values is not null || (i + 1 < rows.Count && rows[i + 1].Values is not null))];
    }

    /// <summary>A number in at most 6 significant digits (<c>0.857143</c>); text that is not a number as it is.</summary>
    private static string Number(string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value.ToString("G6", CultureInfo.InvariantCulture) : text;

    private static string Hash(string text) => text.Length <= ShortHash ? text : text[..ShortHash];
}
