using System.Text.Json;
using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Strata.Client;
using Strata.Contracts;

namespace Strata.Cli.Commands;

/// <summary><c>strata models list|get|versions|compare|alias|register|download</c>: the model registry.</summary>
public static class ModelCommands
{
    public static Command Create(CliContext cli)
    {
        var command = new Command("models", "The model registry: models, versions, aliases");
        command.Subcommands.Add(ListCommand(cli));
        command.Subcommands.Add(GetCommand(cli));
        command.Subcommands.Add(VersionsCommand(cli));
        command.Subcommands.Add(ModelCompare.Create(cli));
        command.Subcommands.Add(AliasCommand(cli));
        command.Subcommands.Add(RegisterCommand(cli));
        command.Subcommands.Add(DownloadCommands.ModelDownload(cli));
        return command;
    }

    private static Command ListCommand(CliContext cli)
    {
        var command = new Command("list", "List the tenant's models, newest first");
        command.SetAction((parse, ct) => cli.RunAsync(parse, (client, token) => ListAsync(cli.Out, client, cli.Format(parse), token), ct));
        return command;
    }

    public static async Task<int> ListAsync(IAnsiConsole console, StrataClient client, OutputFormat format, CancellationToken cancellationToken)
    {
        var models = await client.Models.ListAsync(cancellationToken: cancellationToken);
        if (Output.WriteData(console, format, models, models.Select(m => m.Name)))
        {
            return ExitCodes.Success;
        }
        var table = new Table().AddColumns("NAME", "LATEST", "ALIASES", "CREATED", "DESCRIPTION");
        foreach (var model in models)
        {
            table.AddRow(Output.Esc(model.Name), Output.Esc(model.LatestVersion?.ToString(CultureInfo.InvariantCulture)), Output.Esc(Aliases(model)),
                Output.Esc(Output.Time(model.CreatedAt)), Output.Esc(model.Description));
        }
        console.Write(table);
        return ExitCodes.Success;
    }

    private static Command GetCommand(CliContext cli)
    {
        var name = new Argument<string>("model") { Description = "The model's name, or one version of it: churn@production, churn@3, churn:3" };
        var version = new Argument<string?>("version") { Description = "A version number or alias (production, latest), as name@version does; omitted: the model and its versions", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("get", "Show a model and its versions, or one version with its metrics, input schema, hyperparameters and lineage") { name, version };
        // No subject for a 404: the server's message says whether the model or the version is missing.
        command.SetAction((parse, ct) => cli.RunAsync(parse, (client, token) =>
            GetAsync(cli.Out, client, parse.GetValue(name)!, parse.GetValue(version), cli.Format(parse), token), ct));
        return command;
    }

    public static async Task<int> GetAsync(IAnsiConsole console, StrataClient client, string reference, string? version, OutputFormat format, CancellationToken cancellationToken)
    {
        var (name, referenced) = ParseReference(reference);
        if (referenced is not null && version is not null)
        {
            throw new UsageException($"\"{reference}\" names a version already; give either {reference} or {name} {version}");
        }
        version ??= referenced;
        if (version is not null)
        {
            var found = await client.Models.GetVersionAsync(name, version, cancellationToken);
            if (Output.WriteData(console, format, found, [$"{found.ModelName}@{found.Version}"]))
            {
                return ExitCodes.Success;
            }
            WriteVersion(console, found);
            return ExitCodes.Success;
        }
        var model = await client.Models.GetAsync(name, cancellationToken);
        var versions = await client.Models.ListVersionsAsync(name, cancellationToken: cancellationToken);
        if (Output.WriteData(console, format, new { model, versions }, versions.Select(v => $"{v.ModelName}@{v.Version}")))
        {
            return ExitCodes.Success;
        }
        console.MarkupLine($"Model [bold]{Output.Esc(model.Name)}[/]{(model.Description is null ? "" : $": {Output.Esc(model.Description)}")}; aliases: {Output.Esc(Aliases(model))}");
        WriteVersions(console, versions, format);
        return ExitCodes.Success;
    }

    private static Command VersionsCommand(CliContext cli)
    {
        var name = new Argument<string>("name") { Description = "The model's name" };
        var command = new Command("versions", "List a model's newest 50 versions, newest first, with their trainer, hyperparameters and metrics") { name };
        command.SetAction((parse, ct) => cli.RunAsync(parse, (client, token) =>
            VersionsAsync(cli.Out, client, parse.GetValue(name)!, cli.Format(parse), token), ct, $"model \"{parse.GetValue(name)}\""));
        return command;
    }

    public static async Task<int> VersionsAsync(IAnsiConsole console, StrataClient client, string name, OutputFormat format, CancellationToken cancellationToken)
    {
        var versions = await client.Models.ListVersionsAsync(name, cancellationToken: cancellationToken);
        if (!Output.WriteData(console, format, versions, versions.Select(v => $"{v.ModelName}@{v.Version}")))
        {
            WriteVersions(console, versions, format);
        }
        return ExitCodes.Success;
    }

    /// <summary>Most characters of a versions table's hyperparameters cell; <c>-o wide</c> shows them all.</summary>
    private const int HyperparametersWidth = 40;

    /// <summary>
    /// A row per version. The hyperparameters that differ between the listed versions come first, so that what sets
    /// two versions apart is what survives the abbreviation.
    /// </summary>
    private static void WriteVersions(IAnsiConsole console, IReadOnlyList<ModelVersion> versions, OutputFormat format)
    {
        var wide = format == OutputFormat.Wide;
        var differing = versions.SelectMany(v => v.Lineage.Hyperparameters?.Keys ?? Enumerable.Empty<string>())
            .Where(key => versions.Select(v => HyperparameterText(v.Lineage.Hyperparameters, key)).Distinct(StringComparer.Ordinal).Count() > 1)
            .ToHashSet(StringComparer.Ordinal);
        var table = new Table().AddColumns("VERSION", "ALIASES", "TRAINER", "HYPERPARAMETERS", "METRICS", "JOB", "CREATED");
        if (wide) table.AddColumns("FORMAT", "DATA SHA-256");
        foreach (var v in versions)
        {
            var hyperparameters = string.Join(" ", (v.Lineage.Hyperparameters ?? [])
                .OrderBy(h => differing.Contains(h.Key) ? 0 : 1).ThenBy(h => h.Key, StringComparer.Ordinal)
                .Select(h => $"{h.Key}={HyperparameterText(v.Lineage.Hyperparameters, h.Key)}"));
            List<string> cells =
            [
                v.Version.ToString(CultureInfo.InvariantCulture), Output.Esc(string.Join(", ", v.Aliases)), Output.Esc(v.Lineage.Trainer),
                Output.Esc(wide ? hyperparameters : Abbreviate(hyperparameters, HyperparametersWidth)), Output.Esc(Metrics(v.Metrics)),
                Output.Esc(v.Lineage.JobId), Output.Esc(Output.Time(v.CreatedAt)),
            ];
            if (wide) cells.AddRange([v.Format, Output.Esc(v.Lineage.DataSha256)]);
            table.AddRow([.. cells]);
        }
        console.Write(table);
    }

    /// <summary>
    /// A model and maybe a version: <c>churn</c>, <c>churn@production</c>, <c>churn@3</c> or <c>churn:3</c> (a model's name
    /// is a DNS-1123 label, so neither sign can be part of it).
    /// </summary>
    internal static (string Name, string? Version) ParseReference(string reference)
    {
        var sign = reference.IndexOfAny(['@', ':']);
        if (sign < 0) return (reference, null);
        var (name, version) = (reference[..sign], reference[(sign + 1)..]);
        return name.Length == 0 || version.Length == 0 || version.IndexOfAny(['@', ':']) >= 0
            ? throw new UsageException($"\"{reference}\": expected a model's name, or name@alias or name:version, such as churn@production or churn:3")
            : (name, version);
    }

    /// <summary>A hyperparameter's value as written: a number in its shortest form, text as it is; null when absent.</summary>
    internal static string? HyperparameterText(Dictionary<string, JsonElement>? hyperparameters, string key) =>
        hyperparameters?.TryGetValue(key, out var value) != true ? null
            : value.ValueKind == JsonValueKind.Number ? NumberText.Format(value.GetDouble())
            : value.ValueKind == JsonValueKind.String ? value.GetString()
            : value.GetRawText();

    /// <summary>At most <paramref name="width"/> characters, the cut marked with an ellipsis.</summary>
    private static string Abbreviate(string text, int width) => text.Length <= width ? text : text[..(width - 1)] + "…";

    private static Command AliasCommand(CliContext cli)
    {
        var name = new Argument<string>("name") { Description = "The model's name" };
        var alias = new Argument<string>("alias") { Description = "production, staging, ..." };
        var version = new Argument<int?>("version") { Description = "The version to point at (omit with --delete)", Arity = ArgumentArity.ZeroOrOne };
        var delete = new Option<bool>("--delete") { Description = "Remove the alias" };
        var command = new Command("alias", "Point an alias at a version (strata models alias churn production 3), or remove it") { name, alias, version, delete };
        command.SetAction((parse, ct) => cli.RunAsync(parse, (client, token) =>
            AliasAsync(cli.Out, client, parse.GetValue(name)!, parse.GetValue(alias)!, parse.GetValue(version), parse.GetValue(delete), cli.Format(parse), token),
            ct, $"model \"{parse.GetValue(name)}\""));
        return command;
    }

    public static async Task<int> AliasAsync(
        IAnsiConsole console, StrataClient client, string name, string alias, int? version, bool delete, OutputFormat format, CancellationToken cancellationToken)
    {
        if (delete == version.HasValue)
        {
            throw new UsageException(delete ? "give either a version or --delete, not both" : "give the version to point the alias at, or --delete");
        }
        if (delete)
        {
            await client.Models.DeleteAliasAsync(name, alias, cancellationToken);
            if (format.ForPeople()) console.MarkupLine($"Removed alias [bold]{Output.Esc(alias)}[/] of model {Output.Esc(name)}.");
            return ExitCodes.Success;
        }
        var model = await client.Models.SetAliasAsync(name, alias, version!.Value, cancellationToken);
        if (!Output.WriteData(console, format, model, [$"{name}@{alias}"]))
        {
            console.MarkupLine($"[bold]{Output.Esc(name)}@{Output.Esc(alias)}[/] is now version {version}.");
        }
        return ExitCodes.Success;
    }

    private static Command RegisterCommand(CliContext cli)
    {
        var name = new Argument<string>("name") { Description = "The model's name" };
        var path = new Option<string>("--path") { Description = "The model file, on the server's disk (inside a job: under MODEL_OUTPUT_PATH)", Required = true };
        var format = new Option<string?>("--format") { Description = "onnx or mlnet (default: from the extension, .onnx or .zip)" };
        format.AcceptOnlyFromAmong(ModelFormats.All.ToArray());
        var metrics = new Option<string[]>("--metric") { Description = "name=value, repeatable", DefaultValueFactory = _ => [] };
        var job = new Option<string?>("--job") { Description = "The job that made it (default inside a job: that job)" };
        var description = new Option<string?>("--description") { Description = "What the version is, for people" };
        var command = new Command("register", "Register a model file as the next version of a model (works inside a job with no login)")
        {
            name, path, format, metrics, job, description,
        };
        command.SetAction((parse, ct) => cli.RunAsync(parse, (client, token) =>
        {
            var request = new RegisterModelVersionRequest
            {
                Path = SpecBuilder.AbsoluteIfLocal(parse.GetValue(path)!, cli.WorkingDirectory),
                Format = parse.GetValue(format),
                Metrics = ParseMetrics(parse.GetValue(metrics) ?? []),
                JobId = parse.GetValue(job),
                Description = parse.GetValue(description),
            };
            return RegisterAsync(cli.Out, client, parse.GetValue(name)!, request, cli.Format(parse), token);
        }, ct, $"model \"{parse.GetValue(name)}\""));
        return command;
    }

    public static async Task<int> RegisterAsync(IAnsiConsole console, StrataClient client, string name, RegisterModelVersionRequest request, OutputFormat format, CancellationToken cancellationToken)
    {
        var version = await client.Models.RegisterAsync(name, request, cancellationToken);
        if (!Output.WriteData(console, format, version, [$"{version.ModelName}@{version.Version}"]))
        {
            console.MarkupLine($"Registered [bold]{Output.Esc(name)}@{version.Version}[/] ({Output.Esc(version.Format)}, sha256 {Output.Esc(version.Sha256[..12])}…).");
        }
        return ExitCodes.Success;
    }

    private static Dictionary<string, double>? ParseMetrics(string[] entries)
    {
        if (entries.Length == 0) return null;
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            var equals = entry.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0 || !double.TryParse(entry[(equals + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
            {
                throw new UsageException($"--metric \"{entry}\": expected name=number, such as auc=0.91");
            }
            metrics[entry[..equals]] = value;
        }
        return metrics;
    }

    private static void WriteVersion(IAnsiConsole console, ModelVersion version)
    {
        var grid = new Grid().AddColumn().AddColumn();
        void Row(string label, string? value) => grid.AddRow($"[grey]{label}[/]", Output.Esc(value));
        Row("Model", $"{version.ModelName}@{version.Version}");
        Row("Aliases", string.Join(", ", version.Aliases));
        Row("Format", version.Format);
        Row("Size", Output.Bytes(version.SizeBytes));
        Row("SHA-256", version.Sha256);
        Row("Metrics", Metrics(version.Metrics, exact: true));
        Row("Input", Input(version.InputSchema));
        Row("Label", Label(version.InputSchema));
        Row("Trainer", version.Lineage.Trainer);
        Row("Hyperparameters", string.Join(", ", (version.Lineage.Hyperparameters ?? []).Keys.Order(StringComparer.Ordinal)
            .Select(key => $"{key}={HyperparameterText(version.Lineage.Hyperparameters, key)}")));
        Row("Job", version.Lineage.JobId);
        Row("Data", version.Lineage.DataPath);
        Row("Data SHA-256", version.Lineage.DataSha256);
        Row("Code", string.Join(" ", new[] { version.Lineage.DockerImage, version.Lineage.CodeRepo, version.Lineage.CodeCommit, version.Lineage.Entrypoint }.Where(p => p is not null)));
        Row("Created", Output.Time(version.CreatedAt));
        console.Write(grid);
    }

    /// <summary>
    /// What a prediction sends: each column with its type (and the values a categorical one knows, the range a numeric
    /// one saw), as <c>tenure_months: numeric (0 to 72), plan: categorical (basic|premium|standard)</c>; another schema as its JSON.
    /// </summary>
    private static string? Input(JsonElement? schema)
    {
        if (schema is not { ValueKind: JsonValueKind.Object } value) return null;
        if (!value.TryGetProperty("columns", out var columns) || columns.ValueKind != JsonValueKind.Array) return value.GetRawText();
        return string.Join(", ", columns.EnumerateArray().Select(column =>
        {
            var name = column.TryGetProperty("name", out var n) ? n.GetString() : "?";
            var type = column.TryGetProperty("type", out var t) ? t.GetString() : "?";
            var details = column.TryGetProperty("levels", out var l) && l.ValueKind == JsonValueKind.Array
                ? $" ({string.Join('|', l.EnumerateArray().Select(x => x.GetString()))})"
                : column.TryGetProperty("min", out var min) && min.ValueKind == JsonValueKind.Number && column.TryGetProperty("max", out var max) && max.ValueKind == JsonValueKind.Number
                    ? $" ({NumberText.Format(min.GetDouble())} to {NumberText.Format(max.GetDouble())})"
                    : "";
            return $"{name}: {type}{details}";
        }));
    }

    /// <summary>What the model predicts, as <c>churned: boolean, binary (positive: true)</c>; null when the schema does not say.</summary>
    private static string? Label(JsonElement? schema)
    {
        if (schema is not { ValueKind: JsonValueKind.Object } value || !value.TryGetProperty("label", out var label) || label.ValueKind != JsonValueKind.Object) return null;
        string? Text(JsonElement element, string property) =>
            element.TryGetProperty(property, out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;
        var task = Text(value, "task");
        var positive = Text(label, "positive_class");
        return $"{Text(label, "name")}: {Text(label, "type")}{(task is null ? "" : $", {task}")}{(positive is null ? "" : $" (positive: {positive})")}";
    }

    private static string Aliases(Model model) =>
        string.Join(", ", model.Aliases.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => $"{a.Key}={a.Value}"));

    /// <summary>Metrics to 4 decimals in a list, or <paramref name="exact"/>ly (a float32's figure as it was written).</summary>
    private static string Metrics(Dictionary<string, double> metrics, bool exact = false) =>
        string.Join(" ", metrics.OrderBy(m => m.Key, StringComparer.Ordinal)
            .Select(m => $"{m.Key}={(exact ? NumberText.Format(m.Value) : m.Value.ToString("0.####", CultureInfo.InvariantCulture))}"));
}
