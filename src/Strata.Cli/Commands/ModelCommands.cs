using System.Text.Json;
using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Strata.Client;
using Strata.Contracts;

namespace Strata.Cli.Commands;

/// <summary><c>strata models list|get|versions|alias|register|download</c>: the model registry.</summary>
public static class ModelCommands
{
    public static Command Create(CliContext cli)
    {
        var command = new Command("models", "The model registry: models, versions, aliases");
        command.Subcommands.Add(ListCommand(cli));
        command.Subcommands.Add(GetCommand(cli));
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
        var name = new Argument<string>("name") { Description = "The model's name" };
        var version = new Argument<string?>("version") { Description = "A version number or alias (production, latest); omitted: the model and its versions", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("get", "Show a model and its versions, or one version with its metrics, schema and lineage") { name, version };
        command.SetAction((parse, ct) => cli.RunAsync(parse, (client, token) =>
            GetAsync(cli.Out, client, parse.GetValue(name)!, parse.GetValue(version), cli.Format(parse), token), ct, $"model \"{parse.GetValue(name)}\""));
        return command;
    }

    public static async Task<int> GetAsync(IAnsiConsole console, StrataClient client, string name, string? version, OutputFormat format, CancellationToken cancellationToken)
    {
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
        var table = new Table().AddColumns("VERSION", "FORMAT", "ALIASES", "METRICS", "JOB", "CREATED");
        foreach (var v in versions)
        {
            table.AddRow(v.Version.ToString(CultureInfo.InvariantCulture), v.Format, Output.Esc(string.Join(", ", v.Aliases)),
                Output.Esc(Metrics(v.Metrics)), Output.Esc(v.Lineage.JobId), Output.Esc(Output.Time(v.CreatedAt)));
        }
        console.Write(table);
        return ExitCodes.Success;
    }

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
        Row("Metrics", Metrics(version.Metrics));
        Row("Input", Input(version.InputSchema));
        Row("Job", version.Lineage.JobId);
        Row("Trainer", version.Lineage.Trainer);
        Row("Data", version.Lineage.DataPath);
        Row("Data SHA-256", version.Lineage.DataSha256);
        Row("Code", string.Join(" ", new[] { version.Lineage.DockerImage, version.Lineage.CodeRepo, version.Lineage.CodeCommit, version.Lineage.Entrypoint }.Where(p => p is not null)));
        Row("Created", Output.Time(version.CreatedAt));
        console.Write(grid);
    }

    /// <summary>
    /// What a prediction sends: each column with its type (and the values a categorical one knows), as
    /// <c>tenure_months: numeric, plan: categorical (basic|premium|standard)</c>; another schema as its JSON.
    /// </summary>
    private static string? Input(JsonElement? schema)
    {
        if (schema is not { ValueKind: JsonValueKind.Object } value) return null;
        if (!value.TryGetProperty("columns", out var columns) || columns.ValueKind != JsonValueKind.Array) return value.GetRawText();
        return string.Join(", ", columns.EnumerateArray().Select(column =>
        {
            var name = column.TryGetProperty("name", out var n) ? n.GetString() : "?";
            var type = column.TryGetProperty("type", out var t) ? t.GetString() : "?";
            var levels = column.TryGetProperty("levels", out var l) && l.ValueKind == JsonValueKind.Array
                ? $" ({string.Join('|', l.EnumerateArray().Select(x => x.GetString()))})"
                : "";
            return $"{name}: {type}{levels}";
        }));
    }

    private static string Aliases(Model model) =>
        string.Join(", ", model.Aliases.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => $"{a.Key}={a.Value}"));

    private static string Metrics(Dictionary<string, double> metrics) =>
        string.Join(" ", metrics.OrderBy(m => m.Key, StringComparer.Ordinal).Select(m => $"{m.Key}={m.Value.ToString("0.####", CultureInfo.InvariantCulture)}"));
}
