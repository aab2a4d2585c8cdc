using System.CommandLine;
using System.Text.RegularExpressions;
using Spectre.Console;
using Strata.Client;
using Strata.Contracts;

namespace Strata.Cli.Commands;

/// <summary>
/// <c>strata train</c>: a built-in trainer job from a few flags (<c>--model lightgbm --data churn.csv --label churned</c>).
/// When it succeeds, the server registers the model under the job's name, which defaults to the data file's name.
/// </summary>
public static partial class TrainCommand
{
    public static Command Create(CliContext cli)
    {
        var model = new Option<string>("--model") { Description = "The trainer: lightgbm, fasttree, logistic_regression or linear_regression", Required = true };
        var data = new Option<string>("--data") { Description = "The CSV to train on (a header row, one column per feature, and the label)", Required = true };
        var label = new Option<string>("--label") { Description = "The column to predict", Required = true };
        var task = new Option<string?>("--task") { Description = "binary, multiclass or regression (default: inferred from the label)" };
        task.AcceptOnlyFromAmong("binary", "multiclass", "regression");
        var name = new Option<string?>("--name", "-n") { Description = "The job's name, and the registered model's (default: from the data file's name)" };
        var hyperparameters = new Option<string[]>("--hp") { Description = "A hyperparameter, name=value (repeatable): num_leaves=31, learning_rate=0.05, ...", DefaultValueFactory = _ => [] };
        var cpu = new Option<int?>("--cpu") { Description = "CPU cores", CustomParser = CliOptions.ParseInt };
        var memory = new Option<int?>("--memory") { Description = "Memory, GB", CustomParser = CliOptions.ParseInt };
        var noUpload = new Option<bool>("--no-upload") { Description = "Send --data as a path the server can read, instead of uploading a local file" };
        var wait = new Option<bool>("--wait") { Description = "Wait for the job to end and show its metrics and model version; exits 1 if it failed" };
        var onQuotaExceeded = CliOptions.OnQuotaExceeded();
        var command = new Command("train", "Train a built-in model (no code, no image) and register it")
        {
            model, data, label, task, name, hyperparameters, cpu, memory, wait, noUpload, onQuotaExceeded,
        };
        command.SetAction((parse, ct) => cli.RunAsync(async token =>
        {
            var dataPath = parse.GetValue(data)!;
            var spec = SpecBuilder.Build(
                new SubmitArguments
                {
                    Name = parse.GetValue(name) ?? NameFromData(dataPath),
                    Model = parse.GetValue(model),
                    Data = dataPath,
                    Label = parse.GetValue(label),
                    Task = parse.GetValue(task),
                    Hyperparameters = parse.GetValue(hyperparameters) ?? [],
                    Cpu = parse.GetValue(cpu),
                    Memory = parse.GetValue(memory),
                    OnQuotaExceeded = parse.GetValue(onQuotaExceeded),
                },
                cli.WorkingDirectory);
            using var client = cli.Clients.Create(cli.ResolveConnection(parse));
            if (!parse.GetValue(noUpload) && Uploads.Uploader.LocalPath(spec.DataPath, cli.WorkingDirectory) is { } local)
            {
                // Refused before the upload: a column that is not there, a misspelt hyperparameter, a full quota.
                if (File.Exists(local)) CheckHeader(local, spec.Label!);
                await client.Jobs.CheckAsync(spec with { DataPath = ArtifactUri.ToBeUploaded }, token);
                // A local CSV is uploaded (with progress) and the job names the artifact: the server and its
                // jobs need not see the client's files.
                spec = spec with { DataPath = await Uploads.Uploader.UploadIfLocalAsync(cli.Error, client, spec.DataPath, cli.WorkingDirectory, token) };
            }
            return await ExecuteAsync(cli, client, spec, parse.GetValue(wait), cli.Format(parse), token);
        }, ct));
        return command;
    }

    public static async Task<int> ExecuteAsync(CliContext cli, StrataClient client, TrainingJobSpec spec, bool wait, OutputFormat format, CancellationToken cancellationToken)
    {
        if (!wait)
        {
            return await SubmitCommand.ExecuteAsync(cli.Out, client, spec, format, cancellationToken);
        }
        var handle = await client.Jobs.SubmitAsync(spec, cancellationToken);
        if (format.ForPeople())
        {
            cli.Out.MarkupLine($"Submitted job [bold]{Output.Esc(handle.Id)}[/] ({Output.Esc(spec.Name)}): {Output.Esc(spec.Model)} on {Output.Esc(spec.DataPath)}, label {Output.Esc(spec.Label)}.");
        }
        var exit = await JobCommands.WaitAsync(cli.Out, cli.Error, client, handle.Id, new WaitOptions { PollInterval = cli.PollInterval }, format, cancellationToken);
        if (exit == ExitCodes.Success && format.ForPeople())
        {
            var job = await client.Jobs.GetHandle(handle.Id).GetAsync(cancellationToken);
            if (job.Output?.ModelVersion is { } registered)
            {
                var (modelName, number) = (registered[..registered.LastIndexOf('@')], registered[(registered.LastIndexOf('@') + 1)..]);
                var version = await client.Models.GetVersionAsync(modelName, number, cancellationToken);
                var table = new Table().AddColumns("METRIC", "VALUE");
                foreach (var (metric, value) in version.Metrics.OrderBy(m => m.Key, StringComparer.Ordinal))
                {
                    table.AddRow(Output.Esc(metric), value.ToString("0.####", System.Globalization.CultureInfo.InvariantCulture));
                }
                cli.Out.Write(table);
                cli.Out.MarkupLine($"Registered model [bold]{Output.Esc(registered)}[/]. See it with: strata models get {Output.Esc(modelName)}");
            }
        }
        return exit;
    }

    /// <summary>
    /// The label must be a column of the CSV's header row (read here, before any upload), as the trainer would find:
    /// a case or spelling slip is named with the column meant.
    /// </summary>
    /// <exception cref="UsageException">The header has no such column.</exception>
    internal static void CheckHeader(string csv, string label)
    {
        var header = CsvPredictions.Header(csv) ?? throw new UsageException($"--data {csv} is empty: a CSV needs a header row and rows");
        // The names as the trainer reads them: spaces around a name dropped.
        var columns = header.Select(c => c.Trim()).ToList();
        if (columns.Contains(label, StringComparer.Ordinal)) return;
        var meant = columns.FirstOrDefault(c => string.Equals(c, label, StringComparison.OrdinalIgnoreCase)) ?? Words.Nearest(label, columns);
        throw new UsageException($"--label {label}: the data has no such column{(meant is null ? "" : $" (did you mean '{meant}'?)")}; its columns are: {string.Join(", ", columns)}");
    }

    /// <summary><c>data/Churn_2024.csv</c> → <c>churn-2024</c>: a DNS-1123 label from the file's name.</summary>
    public static string NameFromData(string path)
    {
        var stem = Path.GetFileNameWithoutExtension(path.TrimEnd('/')).ToLowerInvariant();
        var name = NonLabelCharacters().Replace(stem, "-").Trim('-');
        if (name.Length > 63) name = name[..63].TrimEnd('-');
        return name.Length == 0 ? "train" : name;
    }

    [GeneratedRegex("[^a-z0-9]+")]
    private static partial Regex NonLabelCharacters();
}
