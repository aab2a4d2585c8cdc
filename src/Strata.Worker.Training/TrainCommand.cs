using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.ML;
using Strata.Contracts;
using Strata.Core.Jobs;
using Strata.Core.Runtime;
using Strata.Core.Training;

namespace Strata.Worker.Training;

/// <summary>
/// <c>strata-worker train</c>: trains a built-in model on a CSV file and writes <c>model.zip</c>,
/// <c>schema.json</c> and <c>metrics.json</c> to the output folder. Inside a job everything comes from
/// the job's contract (<c>DATA_PATH</c>, <c>MODEL_OUTPUT_PATH</c>, <c>HYPERPARAM_*</c>); the options
/// override it for use by hand. Metrics are also printed as <c>STRATA_METRIC</c> lines, which the
/// platform records for the job.
/// </summary>
public static class TrainCommand
{
    public const string ModelFile = "model.zip";
    public const string SchemaFile = "schema.json";
    public const string MetricsFile = "metrics.json";

    /// <summary>Trained and written.</summary>
    public const int Success = 0;
    /// <summary>The data could not be trained on (the message names the column, line or value).</summary>
    public const int DataError = 1;
    /// <summary>The command line or a hyperparameter is wrong.</summary>
    public const int Usage = 2;

    public const string UsageText =
        "usage: strata-worker train --model <lightgbm|fasttree|logistic_regression|linear_regression> --label <column>\n" +
        "                           [--task binary|multiclass|regression] [--data <csv>] [--output <folder>] [--hp name=value ...]\n" +
        "       --data and --output default to DATA_PATH and MODEL_OUTPUT_PATH; hyperparameters also come from HYPERPARAM_<NAME>.";

    private static readonly JsonSerializerOptions Indented = new(StrataJson.Options) { WriteIndented = true };

    public static int Run(IReadOnlyList<string> args, IReadOnlyDictionary<string, string> environment, TextWriter output, TextWriter error)
    {
        if (!TryParse(args, environment, out var options, out var problem))
        {
            error.WriteLine($"strata-worker train: {problem}");
            error.WriteLine(UsageText);
            return Usage;
        }
        var errors = new ValidationErrors();
        var settings = BuiltInTrainers.Validate(options.Model, options.Task, options.Hyperparameters, errors);
        if (settings is null)
        {
            foreach (var (field, messages) in errors.ToDictionary())
            {
                // STRATA_ERROR: the job's error message is this line, not only "exited with code 2" (docs/tracking.md).
                error.WriteLine($"{Tracebacks.ErrorLinePrefix}strata-worker train: {field}: {string.Join("; ", messages)}");
            }
            return Usage;
        }
        try
        {
            Train(options, settings, output);
            return Success;
        }
        catch (TrainingDataException e)
        {
            error.WriteLine($"{Tracebacks.ErrorLinePrefix}strata-worker train: {options.DataPath}: {e.Message}");
            return DataError;
        }
    }

    private static void Train(TrainOptions options, TrainerSettings settings, TextWriter output)
    {
        var file = CsvFile(options.DataPath);
        var bytes = File.ReadAllBytes(file);
        var table = CsvTable.Parse(new UTF8Encoding(false, throwOnInvalidBytes: false).GetString(bytes));
        var analyzed = TableAnalysis.Analyze(table, options.Label, options.Task);
        var task = analyzed.Label.Task;
        output.WriteLine($"strata-worker train: {settings.Trainer.Name} ({settings.Trainer.Description}), {task} task, label '{options.Label}'" +
            (analyzed.Label.PositiveClass is { } positive ? $" (positive class '{positive}')" : "") +
            (analyzed.Label.ClassNames is { } classes && task == TrainingTasks.Multiclass ? $" ({classes.Count} classes)" : ""));
        output.WriteLine($"strata-worker train: {analyzed.Rows} rows, {analyzed.Features.Count} features: " +
            string.Join(", ", analyzed.Features.Select(f => $"{f.Name} ({f.Type}{(f.HasMissing ? ", has missing" : "")})")));
        foreach (var ignored in analyzed.Ignored)
        {
            output.WriteLine($"strata-worker train: column '{ignored.Name}' is ignored: {ignored.Reason}");
        }
        if (analyzed.SkippedRows > 0)
        {
            output.WriteLine($"strata-worker train: {analyzed.SkippedRows} rows without a label were skipped");
        }

        var trained = ModelTrainer.Train(analyzed, settings, task);
        output.WriteLine($"strata-worker train: trained on {trained.TrainRows} rows, validated on {trained.ValidationRows}");
        foreach (var (name, value) in trained.Metrics)
        {
            // Step 0: one evaluation of the finished model on the held-out rows.
            output.WriteLine("STRATA_METRIC " + JsonSerializer.Serialize(new { name, value, step = 0 }));
        }

        Directory.CreateDirectory(options.OutputPath);
        var model = Path.Combine(options.OutputPath, ModelFile);
        var mlContext = new MLContext();
        WriteAtomically(model, path => mlContext.Model.Save(trained.Model, trained.InputSchema, path));
        WriteJson(Path.Combine(options.OutputPath, SchemaFile), analyzed.Schema());
        WriteJson(Path.Combine(options.OutputPath, MetricsFile), new TrainingReport
        {
            Model = settings.Trainer.Name,
            Task = task,
            Label = options.Label,
            Metrics = trained.Metrics,
            TrainRows = trained.TrainRows,
            ValidationRows = trained.ValidationRows,
            SkippedRows = analyzed.SkippedRows,
            DataPath = file,
            DataSha256 = Convert.ToHexStringLower(SHA256.HashData(bytes)),
            Hyperparameters = new Dictionary<string, double>(settings.Values, StringComparer.Ordinal),
        });
        output.WriteLine($"strata-worker train: wrote {model}, {SchemaFile} and {MetricsFile}");
    }

    /// <summary>The data file: the path itself, or the one CSV file in a folder (an unpacked upload).</summary>
    private static string CsvFile(string path)
    {
        if (File.Exists(path)) return path;
        if (!Directory.Exists(path))
        {
            throw new TrainingDataException("no such file");
        }
        var candidates = Directory.GetFiles(path, "*.csv", SearchOption.TopDirectoryOnly);
        return candidates.Length == 1
            ? candidates[0]
            : throw new TrainingDataException($"is a folder with {candidates.Length} CSV files; name the file to train on");
    }

    private static void WriteJson<T>(string path, T value) =>
        WriteAtomically(path, temporary => File.WriteAllText(temporary, JsonSerializer.Serialize(value, Indented) + "\n"));

    /// <summary>Writes through a temporary file and a rename, so that a reader never sees half a file.</summary>
    private static void WriteAtomically(string path, Action<string> write)
    {
        var temporary = path + ".tmp";
        write(temporary);
        File.Move(temporary, path, overwrite: true);
    }

    private sealed record TrainOptions(string Model, string Label, string? Task, string DataPath, string OutputPath, Dictionary<string, string> Hyperparameters);

    private static bool TryParse(IReadOnlyList<string> args, IReadOnlyDictionary<string, string> environment, out TrainOptions options, out string? problem)
    {
        options = null!;
        problem = null;
        string? model = null, label = null, task = null;
        environment.TryGetValue("DATA_PATH", out var data);
        environment.TryGetValue("MODEL_OUTPUT_PATH", out var outputPath);
        // HYPERPARAM_NUM_LEAVES=63 is num_leaves=63: trainers compare names as their variables do.
        var hyperparameters = environment
            .Where(e => e.Key.StartsWith("HYPERPARAM_", StringComparison.Ordinal) && e.Key.Length > "HYPERPARAM_".Length)
            .ToDictionary(e => e.Key["HYPERPARAM_".Length..].ToLowerInvariant(), e => e.Value, StringComparer.Ordinal);
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            if (i + 1 >= args.Count)
            {
                problem = $"{name} needs a value";
                return false;
            }
            var value = args[++i];
            switch (name)
            {
                case "--model": model = value; break;
                case "--label": label = value; break;
                case "--task": task = value; break;
                case "--data": data = value; break;
                case "--output": outputPath = value; break;
                case "--hp" when value.IndexOf('=', StringComparison.Ordinal) is > 0 and var equals:
                    hyperparameters[value[..equals]] = value[(equals + 1)..];
                    break;
                case "--hp":
                    problem = $"--hp takes name=value, not '{value}'";
                    return false;
                default:
                    problem = $"unknown option '{name}'";
                    return false;
            }
        }
        problem = model is null ? "--model is required"
            : label is null ? "--label is required"
            : string.IsNullOrEmpty(data) ? "no data: give --data or set DATA_PATH"
            : string.IsNullOrEmpty(outputPath) ? "no output folder: give --output or set MODEL_OUTPUT_PATH"
            : null;
        if (problem is not null) return false;
        options = new TrainOptions(model!, label!, task, Path.GetFullPath(data!), Path.GetFullPath(outputPath!), hyperparameters);
        return true;
    }

    /// <summary>The process's environment as a dictionary.</summary>
    public static Dictionary<string, string> ProcessEnvironment() =>
        Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value ?? "", StringComparer.Ordinal);
}
