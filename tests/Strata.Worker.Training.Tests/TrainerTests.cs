using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Strata.Contracts;

namespace Strata.Worker.Training.Tests;

public sealed class TrainerQualityTests
{
    // The churn example's generating model scores an AUC of 0.87 on it (examples/churn/generate.py); the
    // split and the trainers are seeded, so these figures are the same on every run.
    [Theory]
    [InlineData("lightgbm", "", 0.80)]
    [InlineData("lightgbm", "--hp num_leaves=15 --hp learning_rate=0.05", 0.82)]
    [InlineData("logistic_regression", "", 0.83)]
    [InlineData("fasttree", "--hp num_leaves=7 --hp learning_rate=0.05", 0.80)]
    public void Trainers_reach_a_useful_AUC_on_the_churn_example(string model, string hyperparameters, double minimumAuc)
    {
        using var run = TrainRun.Start(TrainRun.ChurnCsv, $"--model {model} --label churned {hyperparameters}", isPath: true);

        Assert.True(run.ExitCode == 0, run.Stderr);
        var metrics = run.Report.Metrics;
        Assert.True(metrics["auc"] >= minimumAuc, $"AUC {metrics["auc"]:F3} < {minimumAuc}");
        Assert.True(metrics["accuracy"] > 0.69, $"accuracy {metrics["accuracy"]:F3} is no better than always answering 'false' (0.69)");
    }

    [Fact]
    public void The_churn_example_is_read_with_its_categorical_and_missing_values()
    {
        using var run = TrainRun.Start(TrainRun.ChurnCsv, "--model lightgbm --label churned", isPath: true);

        var schema = run.Schema;
        Assert.Equal("binary", schema.Task);
        Assert.Equal("true", schema.Label!.PositiveClass);
        var columns = schema.Columns.ToDictionary(c => c.Name);
        Assert.Equal(["tenure_months", "plan", "contract", "monthly_charges", "total_charges", "support_calls", "region", "paperless_billing"], columns.Keys);
        Assert.Equal(ModelColumnTypes.Numeric, columns["monthly_charges"].Type);
        Assert.True(columns["monthly_charges"].HasMissing);   // empty cells
        Assert.True(columns["total_charges"].HasMissing);     // "NA"
        Assert.Equal(ModelColumnTypes.Categorical, columns["plan"].Type);
        Assert.Equal(["basic", "premium", "standard"], columns["plan"].Levels);
        Assert.True(columns["region"].HasMissing);
        Assert.False(columns["tenure_months"].HasMissing);
        Assert.Equal(3000, run.Report.TrainRows + run.Report.ValidationRows);
        Assert.Equal(64, run.Report.DataSha256!.Length);
    }
}

public sealed class TrainerKindTests
{
    [Theory]
    [InlineData("lightgbm", "binary", "auc", 0.9)]
    [InlineData("fasttree", "binary", "auc", 0.9)]
    [InlineData("logistic_regression", "binary", "auc", 0.9)]
    [InlineData("lightgbm", "multiclass", "micro_accuracy", 0.9)]
    [InlineData("logistic_regression", "multiclass", "micro_accuracy", 0.8)]
    [InlineData("lightgbm", "regression", "r2", 0.9)]
    [InlineData("fasttree", "regression", "r2", 0.9)]
    [InlineData("linear_regression", "regression", "r2", 0.9)]
    public void Each_trainer_learns_each_of_its_tasks(string model, string task, string metric, double minimum)
    {
        var csv = task switch { "binary" => Datasets.Binary(), "multiclass" => Datasets.Multiclass(), _ => Datasets.Regression() };

        using var run = TrainRun.Start(csv, $"--model {model} --label y");

        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Equal(task, run.Report.Task);
        Assert.True(run.Report.Metrics[metric] >= minimum, $"{metric} = {run.Report.Metrics[metric]:F3}");
        Assert.True(File.Exists(Path.Combine(run.Output, TrainCommand.ModelFile)));
        string[] expected = task switch
        {
            "binary" => ["accuracy", "auc", "f1", "log_loss"],
            "multiclass" => ["micro_accuracy", "macro_accuracy", "log_loss"],
            _ => ["rmse", "mae", "r2"],
        };
        Assert.Equal(expected.Order(), run.Report.Metrics.Keys.Order());
        Assert.Equal(run.Report.Metrics, run.PrintedMetrics);
    }

    /// <summary>
    /// Log-loss is scikit-learn's, in nats: a model that cannot beat a coin toss on balanced labels scores about
    /// ln 2 = 0.69 (ML.NET's own binary figure, in bits, would be about 1.0).
    /// </summary>
    [Fact]
    public void Binary_log_loss_is_in_nats()
    {
        var random = new Random(7);
        var csv = new System.Text.StringBuilder("x,y\n");
        for (var i = 0; i < 2000; i++) csv.Append(CultureInfo.InvariantCulture, $"{random.NextDouble():F4},{(i % 2 == 0 ? "true" : "false")}\n");

        using var run = TrainRun.Start(csv.ToString(), "--model logistic_regression --label y");

        Assert.True(run.ExitCode == 0, run.Stderr);
        var logLoss = run.Report.Metrics["log_loss"];
        Assert.InRange(logLoss, 0.66, 0.75);
    }

    /// <summary>The schema's statistics are the CSV's own figures, and a 0/1 label is recorded as numbers (serving answers 0/1, not "1").</summary>
    [Fact]
    public void The_schema_keeps_the_numbers_as_written_and_a_0_1_label_as_numeric()
    {
        var csv = new System.Text.StringBuilder("x,y\n");
        for (var i = 0; i < 200; i++) csv.Append(CultureInfo.InvariantCulture, $"{(i == 7 ? "-3.4718" : i == 9 ? "12.3456" : (i % 10).ToString(CultureInfo.InvariantCulture))},{i % 2}\n");

        using var run = TrainRun.Start(csv.ToString(), "--model lightgbm --label y");

        Assert.True(run.ExitCode == 0, run.Stderr);
        using var schema = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(run.Output, TrainCommand.SchemaFile)));
        var x = schema.RootElement.GetProperty("columns")[0];
        Assert.Equal("-3.4718", x.GetProperty("min").GetRawText());
        Assert.Equal("12.3456", x.GetProperty("max").GetRawText());
        Assert.Equal(ModelColumnTypes.Numeric, run.Schema.Label!.Type);
        Assert.Equal(["0", "1"], run.Schema.Label.Classes);
    }

    [Fact]
    public void A_multiclass_model_predicts_class_names()
    {
        using var run = TrainRun.Start(Datasets.Multiclass(), "--model lightgbm --label y");
        Assert.True(run.ExitCode == 0, run.Stderr);

        var predicted = Predict(run, new() { ["x"] = new float[] { 1f, 9f }, ["colour"] = new[] { "red", "blue" } }, "PredictedLabel");

        Assert.Equal(["bronze", "gold"], predicted.Select(p => p.ToString()));
        Assert.Equal(["bronze", "gold", "silver"], run.Schema.Label!.Classes);
    }

    [Fact]
    public void The_saved_model_takes_missing_numbers_and_unknown_categories()
    {
        using var run = TrainRun.Start(Datasets.Regression(), "--model lightgbm --label y");
        Assert.True(run.ExitCode == 0, run.Stderr);

        var scores = Predict(run, new() { ["x"] = new[] { float.NaN, 5f }, ["colour"] = new[] { "purple", "" } }, "Score");

        Assert.All(scores, score => Assert.True(float.IsFinite((float)score)));
    }

    [Fact]
    public void Hyperparameters_from_the_environment_reach_the_trainer()
    {
        var environment = new Dictionary<string, string> { ["HYPERPARAM_NUM_LEAVES"] = "4", ["HYPERPARAM_LEARNING-RATE"] = "0.3" };

        using var run = TrainRun.Start(Datasets.Binary(), "--model lightgbm --label y", environment);

        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Equal(4, run.Report.Hyperparameters["num_leaves"]);
        Assert.Equal(0.3, run.Report.Hyperparameters["learning_rate"]);
    }

    [Fact]
    public void The_seed_makes_a_run_repeatable()
    {
        using var first = TrainRun.Start(Datasets.Binary(), "--model fasttree --label y --hp seed=5");
        using var second = TrainRun.Start(Datasets.Binary(), "--model fasttree --label y --hp seed=5");

        Assert.Equal(first.Report.Metrics, second.Report.Metrics);
    }

    private static List<object> Predict(TrainRun run, Dictionary<string, Array> columns, string output)
    {
        var ml = new MLContext();
        var model = ml.Model.Load(Path.Combine(run.Output, TrainCommand.ModelFile), out _);
        var predictions = model.Transform(new TableDataView([.. columns.Select(c => (c.Key, c.Value))]));
        var column = predictions.Schema[output];
        var values = new List<object>();
        using var cursor = predictions.GetRowCursor([column]);
        while (cursor.MoveNext())
        {
            if (column.Type is TextDataViewType)
            {
                var text = default(ReadOnlyMemory<char>);
                cursor.GetGetter<ReadOnlyMemory<char>>(column)(ref text);
                values.Add(text.ToString());
            }
            else
            {
                var number = 0f;
                cursor.GetGetter<float>(column)(ref number);
                values.Add(number);
            }
        }
        return values;
    }
}

public sealed class TaskInferenceTests
{
    [Theory]
    [InlineData("y\ntrue\nfalse\nTRUE\nfalse\n", "binary", "true")]
    [InlineData("y\n1\n0\n1\n0\n", "binary", "1")]
    [InlineData("y\nyes\nno\nno\nyes\n", "binary", "yes")]
    [InlineData("y\nspam\nham\nham\nspam\n", "binary", "spam")]
    [InlineData("y\ngold\nsilver\nbronze\ngold\n", "multiclass", null)]
    [InlineData("y\n1\n2\n3\n2\n", "multiclass", null)]
    [InlineData("y\n1.5\n2.25\n3\n7.75\n", "regression", null)]
    public void The_task_follows_the_label_column(string labelColumn, string task, string? positive)
    {
        var table = CsvTable.Parse(WithFeature(labelColumn));

        var analyzed = TableAnalysis.Analyze(table, "y", task: null);

        Assert.Equal(task, analyzed.Label.Task);
        Assert.Equal(positive, analyzed.Label.PositiveClass);
    }

    [Fact]
    public void Many_whole_numbers_are_a_regression_label()
    {
        var labels = string.Join('\n', Enumerable.Range(0, 40).Select(i => (i * 7 % 40).ToString(System.Globalization.CultureInfo.InvariantCulture)));

        var analyzed = TableAnalysis.Analyze(CsvTable.Parse(WithFeature("y\n" + labels + "\n")), "y", task: null);

        Assert.Equal("regression", analyzed.Label.Task);
    }

    [Fact]
    public void A_given_task_overrides_the_inference()
    {
        var analyzed = TableAnalysis.Analyze(CsvTable.Parse(WithFeature("y\n1\n2\n3\n2\n")), "y", task: "regression");

        Assert.Equal("regression", analyzed.Label.Task);
    }

    [Fact]
    public void Rows_without_a_label_are_skipped()
    {
        var analyzed = TableAnalysis.Analyze(CsvTable.Parse(WithFeature("y\ntrue\n\nNA\nfalse\n")), "y", task: null);

        Assert.Equal(2, analyzed.Rows);
        Assert.Equal(2, analyzed.SkippedRows);
    }

    [Fact]
    public void Columns_are_typed_from_their_values_and_identifiers_are_ignored()
    {
        var rows = Enumerable.Range(0, 60).Select(i =>
            $"id-{i},{(i % 5 == 0 ? "NA" : (i * 1.5).ToString(System.Globalization.CultureInfo.InvariantCulture))},{(i % 2 == 0 ? "True" : "false")},{(i % 3 == 0 ? "" : "c" + i % 3)},\"quoted, text\",{i % 2}");
        var csv = "id,amount,flag,group,note,y\n" + string.Join('\n', rows) + "\n";

        var analyzed = TableAnalysis.Analyze(CsvTable.Parse(csv), "y", task: null);

        var types = analyzed.Features.ToDictionary(f => f.Name, f => f.Type);
        Assert.Equal(ModelColumnTypes.Numeric, types["amount"]);
        Assert.Equal(ModelColumnTypes.Boolean, types["flag"]);
        Assert.Equal(ModelColumnTypes.Categorical, types["group"]);
        Assert.Equal(ModelColumnTypes.Categorical, types["note"]);
        Assert.Equal("id", Assert.Single(analyzed.Ignored).Name);
        var amount = analyzed.Features.Single(f => f.Name == "amount");
        Assert.True(amount.HasMissing);
        Assert.True(float.IsNaN(amount.Numbers![0]));
        Assert.Equal(["c1", "c2"], analyzed.Features.Single(f => f.Name == "group").Describe().Levels);
        Assert.Equal(["false", "true"], analyzed.Features.Single(f => f.Name == "flag").Describe().Levels);
    }

    private static string WithFeature(string labelColumn)
    {
        var lines = labelColumn.Split('\n');
        return string.Join('\n', lines.Select((line, i) => i == 0 ? "f," + line : i == lines.Length - 1 ? line : $"{i},{line}"));
    }
}

public sealed class TrainFailureTests
{
    [Fact]
    public void A_missing_label_column_lists_the_columns()
    {
        using var run = TrainRun.Start(Datasets.Binary(), "--model lightgbm --label Y");

        Assert.Equal(TrainCommand.DataError, run.ExitCode);
        Assert.Contains("the label column 'Y' is not in the data (did you mean 'y'? names are case-sensitive); its columns are: x, colour, y", run.Stderr);
    }

    [Fact]
    public void A_word_in_a_numeric_column_names_its_line_and_column()
    {
        var csv = Datasets.Binary().Split('\n').ToList();
        csv[42] = "abc" + csv[42][csv[42].IndexOf(',', StringComparison.Ordinal)..];

        using var run = TrainRun.Start(string.Join('\n', csv), "--model lightgbm --label y");

        Assert.Equal(TrainCommand.DataError, run.ExitCode);
        Assert.Contains("column 'x' holds numbers (399 of 400 values) but line 43 has 'abc'", run.Stderr);
    }

    [Fact]
    public void A_regression_label_with_a_word_names_the_value_and_line()
    {
        using var run = TrainRun.Start("x,y\n1,2.5\n2,3.5\n3,oops\n4,1\n", "--model lightgbm --label y --task regression");

        Assert.Equal(TrainCommand.DataError, run.ExitCode);
        Assert.Contains("a regression label must be numeric, but 'y' has 'oops' on line 4", run.Stderr);
    }

    [Fact]
    public void A_row_with_too_few_fields_is_named()
    {
        using var run = TrainRun.Start("x,y\n1,true\n2\n", "--model lightgbm --label y");

        Assert.Contains("line 3 has 1 fields; the header has 2", run.Stderr);
    }

    [Fact]
    public void A_trainer_that_cannot_learn_the_inferred_task_says_which_it_can()
    {
        using var run = TrainRun.Start(Datasets.Multiclass(), "--model fasttree --label y");

        Assert.Equal(TrainCommand.DataError, run.ExitCode);
        Assert.Contains("fasttree does not learn multiclass tasks (it learns binary, regression)", run.Stderr);
    }

    [Theory]
    [InlineData("--hp num_leaves=1", "hyperparameters.num_leaves: must be 2 to 131072")]
    [InlineData("--hp learning_rate=fast", "hyperparameters.learning_rate: must be a number, not 'fast'")]
    [InlineData("--hp num_iterations=2.5", "hyperparameters.num_iterations: must be a whole number")]
    [InlineData("--hp depth=3", "hyperparameters.depth: lightgbm has no hyperparameter 'depth'; it takes num_leaves")]
    [InlineData("--task ranking", "task: must be one of binary, multiclass, regression")]
    public void Bad_settings_are_refused_before_reading_the_data(string arguments, string message)
    {
        using var run = TrainRun.Start("not read", "--model lightgbm --label y " + arguments);

        Assert.Equal(TrainCommand.Usage, run.ExitCode);
        Assert.Contains(message, run.Stderr);
    }

    [Fact]
    public void A_bad_hyperparameter_in_the_environment_is_named()
    {
        using var run = TrainRun.Start("not read", "--model lightgbm --label y", new() { ["HYPERPARAM_NUM_LEAVES"] = "-3" });

        Assert.Contains("hyperparameters.num_leaves: must be 2 to 131072", run.Stderr);
    }

    [Fact]
    public void An_unknown_model_lists_the_trainers()
    {
        using var run = TrainRun.Start("not read", "--model xgboost --label y");

        Assert.Contains("model: 'xgboost' is not a built-in trainer; use one of lightgbm, fasttree, logistic_regression, linear_regression", run.Stderr);
    }
}
