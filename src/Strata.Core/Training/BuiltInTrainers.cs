using System.Globalization;
using Strata.Core.Jobs;

namespace Strata.Core.Training;

/// <summary>The values of a built-in trainer job's <c>task</c>.</summary>
public static class TrainingTasks
{
    public const string Binary = "binary";
    public const string Multiclass = "multiclass";
    public const string Regression = "regression";
    public static readonly IReadOnlyList<string> All = [Binary, Multiclass, Regression];
}

/// <summary>One hyperparameter a built-in trainer accepts: whole or real, with its inclusive range.</summary>
/// <param name="Aliases">Other names for the same setting (<c>num_trees</c> for <c>num_iterations</c>).</param>
public sealed record HyperparameterDefinition(
    string Name, bool IsInteger, double Min, double Max, double Default, string Description, IReadOnlyList<string>? Aliases = null)
{
    public IEnumerable<string> Names => [Name, .. Aliases ?? []];
}

/// <summary>A built-in trainer: the tasks it can learn and the hyperparameters it takes.</summary>
public sealed record TrainerDefinition(string Name, string Description, IReadOnlyList<string> Tasks, IReadOnlyList<HyperparameterDefinition> Hyperparameters);

/// <summary>A validated choice of trainer and settings: every hyperparameter has a value (given or default).</summary>
public sealed record TrainerSettings(TrainerDefinition Trainer, string? Task, IReadOnlyDictionary<string, double> Values)
{
    public double this[string name] => Values[name];

    public int GetInt32(string name) => (int)Values[name];

    public double ValidationFraction => Values[BuiltInTrainers.ValidationFraction];

    public int Seed => GetInt32(BuiltInTrainers.Seed);
}

/// <summary>
/// The built-in trainers of <c>strata-worker train</c> (ML.NET) as data: their names, tasks and
/// hyperparameters with ranges and defaults. Shared by the server, which validates a job's spec at
/// submission, and the worker, which validates again and trains; so a bad value is refused before the
/// job queues, and the two can never disagree.
/// </summary>
public static class BuiltInTrainers
{
    public const string LightGbm = "lightgbm";
    public const string FastTree = "fasttree";
    public const string LogisticRegression = "logistic_regression";
    public const string LinearRegression = "linear_regression";

    /// <summary>Share of the rows held out to measure the model, common to every trainer.</summary>
    public const string ValidationFraction = "validation_fraction";
    /// <summary>Seeds the train/validation split and the trainer.</summary>
    public const string Seed = "seed";

    private static readonly HyperparameterDefinition[] Common =
    [
        new(ValidationFraction, false, 0.05, 0.5, 0.2, "share of the rows held out for validation metrics"),
        new(Seed, true, 0, int.MaxValue, 42, "seeds the split and the trainer, so a run can be repeated"),
    ];

    private static readonly HyperparameterDefinition NumLeaves = new("num_leaves", true, 2, 131072, 31, "leaves per tree");
    private static readonly HyperparameterDefinition LearningRate = new("learning_rate", false, 1e-6, 1, 0.1, "shrinkage of each tree's contribution");
    private static readonly HyperparameterDefinition MinDataInLeaf = new("min_data_in_leaf", true, 1, 1_000_000, 20, "fewest rows in a leaf", ["min_examples_per_leaf"]);
    private static readonly HyperparameterDefinition L1 = new("l1_regularization", false, 0, 1e6, 0, "L1 penalty on the weights", ["l1"]);

    public static readonly IReadOnlyList<TrainerDefinition> All =
    [
        new(LightGbm, "gradient-boosted trees (LightGBM)", [TrainingTasks.Binary, TrainingTasks.Multiclass, TrainingTasks.Regression],
        [
            NumLeaves, LearningRate, MinDataInLeaf,
            new("num_iterations", true, 1, 100_000, 100, "boosting rounds (trees)", ["num_trees", "n_estimators"]),
            new("l1_regularization", false, 0, 1e6, 0, "L1 penalty on the leaf values", ["l1", "lambda_l1"]),
            new("l2_regularization", false, 0, 1e6, 0, "L2 penalty on the leaf values", ["l2", "lambda_l2"]),
            new("max_bin", true, 2, 65535, 255, "histogram bins per feature"),
            .. Common,
        ]),
        new(FastTree, "gradient-boosted trees (ML.NET FastTree / MART)", [TrainingTasks.Binary, TrainingTasks.Regression],
        [
            NumLeaves, MinDataInLeaf,
            new("learning_rate", false, 1e-6, 1, 0.2, "shrinkage of each tree's contribution"),
            new("num_trees", true, 1, 100_000, 100, "boosting rounds (trees)", ["num_iterations", "n_estimators"]),
            .. Common,
        ]),
        new(LogisticRegression, "logistic regression (L-BFGS; multinomial for multiclass)", [TrainingTasks.Binary, TrainingTasks.Multiclass],
        [
            L1,
            new("l2_regularization", false, 0, 1e6, 1, "L2 penalty on the weights", ["l2"]),
            new("max_iterations", true, 1, 1_000_000, 100, "optimizer iterations"),
            .. Common,
        ]),
        new(LinearRegression, "linear regression (SDCA, squared loss)", [TrainingTasks.Regression],
        [
            L1,
            new("l2_regularization", false, 0, 1e6, 0.01, "L2 penalty on the weights", ["l2"]),
            new("max_iterations", true, 1, 1_000_000, 100, "passes over the data", ["epochs"]),
            .. Common,
        ]),
    ];

    public static IEnumerable<string> Names => All.Select(t => t.Name);

    public static TrainerDefinition? Find(string name) => All.FirstOrDefault(t => t.Name == name);

    /// <summary>
    /// Checks a trainer choice and its hyperparameters. Names match as their environment variables do
    /// (<c>learning-rate</c>, <c>LEARNING_RATE</c> and <c>learning_rate</c> are one setting). Errors go to
    /// <paramref name="errors"/> under <c>model</c>, <c>task</c> and <c>hyperparameters.&lt;name&gt;</c>.
    /// </summary>
    /// <param name="hyperparameters">Values as text (what <c>HYPERPARAM_*</c> carries), by the name the user gave.</param>
    public static TrainerSettings? Validate(string model, string? task, IReadOnlyDictionary<string, string> hyperparameters, ValidationErrors errors)
    {
        var trainer = Find(model);
        if (trainer is null)
        {
            errors.Add("model", $"'{model}' is not a built-in trainer; use one of {string.Join(", ", Names)}");
            return null;
        }
        if (task is not null && !TrainingTasks.All.Contains(task))
        {
            errors.Add("task", $"must be one of {string.Join(", ", TrainingTasks.All)}");
        }
        else if (task is not null && !trainer.Tasks.Contains(task))
        {
            errors.Add("task", $"{trainer.Name} does not learn {task} tasks; it learns {string.Join(", ", trainer.Tasks)}");
        }

        var values = trainer.Hyperparameters.ToDictionary(h => h.Name, h => h.Default, StringComparer.Ordinal);
        var given = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, text) in hyperparameters)
        {
            var field = $"hyperparameters.{name}";
            var key = Key(name);
            var definition = trainer.Hyperparameters.FirstOrDefault(h => h.Names.Any(n => Key(n) == key));
            if (definition is null)
            {
                errors.Add(field, $"{trainer.Name} has no hyperparameter '{name}'; it takes {string.Join(", ", trainer.Hyperparameters.Select(h => h.Name))}");
                continue;
            }
            if (given.TryGetValue(definition.Name, out var other))
            {
                errors.Add(field, $"sets {definition.Name}, as '{other}' does; give it once");
                continue;
            }
            given[definition.Name] = name;
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
            {
                errors.Add(field, $"must be a number, not '{Shorten(text)}'");
            }
            else if (definition.IsInteger && value != Math.Floor(value))
            {
                errors.Add(field, $"must be a whole number, not {text}");
            }
            else if (value < definition.Min || value > definition.Max)
            {
                errors.Add(field, $"must be {Format(definition.Min)} to {Format(definition.Max)} ({definition.Description})");
            }
            else
            {
                values[definition.Name] = value;
            }
        }
        return errors.IsEmpty ? new TrainerSettings(trainer, task, values) : null;
    }

    /// <summary>How a hyperparameter's name is compared: as the upper-cased part of its environment variable.</summary>
    public static string Key(string name) => Jobs.Names.HyperparameterVariable(name)["HYPERPARAM_".Length..];

    private static string Format(double value) => value.ToString("G", CultureInfo.InvariantCulture);

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";
}
