using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using Microsoft.ML.Trainers.FastTree;
using Microsoft.ML.Trainers.LightGbm;
using Microsoft.ML.Transforms;
using Strata.Contracts;
using Strata.Core.Training;

namespace Strata.Worker.Training;

/// <summary>A trained model with its validation metrics.</summary>
public sealed record TrainedModel(ITransformer Model, DataViewSchema InputSchema, Dictionary<string, double> Metrics, int TrainRows, int ValidationRows);

/// <summary>
/// Builds and fits the ML.NET pipeline for an analyzed table: numeric columns get their missing values
/// replaced by the training mean (plus a 0/1 "was missing" indicator where the training data had any),
/// categorical and boolean columns are one-hot encoded (an unseen or missing level encodes as all
/// zeros), linear models see standardized features. The fitted model starts from the data's own
/// columns, so a prediction request carries the CSV's column names and types, never the label.
/// </summary>
public static class ModelTrainer
{
    private const string LabelColumn = "__strata_label";
    private const string FeaturesColumn = "__strata_features";

    public static TrainedModel Train(AnalyzedTable table, TrainerSettings settings, string task)
    {
        var ml = new MLContext(seed: settings.Seed);
        var features = table.Features.Select(f => (f.Name, (Array)(f.Numbers ?? (Array)f.Texts!))).ToList();
        var labelValues = (Array?)table.Label.Booleans ?? (Array?)table.Label.Classes ?? table.Label.Numbers!;
        IDataView data = new TableDataView([.. features, (LabelColumn, labelValues)]);
        var inputSchema = new TableDataView(features).Schema;
        if (task == TrainingTasks.Multiclass)
        {
            // Fitted on all rows, so every class is known; not part of the saved model (inputs have no label).
            data = ml.Transforms.Conversion.MapValueToKey(LabelColumn).Fit(data).Transform(data);
        }

        var split = ml.Data.TrainTestSplit(data, settings.ValidationFraction, seed: settings.Seed);
        var trainRows = CountRows(split.TrainSet);
        var validationRows = CountRows(split.TestSet);
        if (trainRows == 0 || validationRows == 0)
        {
            throw new TrainingDataException($"{table.Rows} rows are too few to hold out {settings.ValidationFraction:P0} for validation; add rows");
        }

        IEstimator<ITransformer> pipeline = Featurize(ml, table);
        if (IsLinear(settings.Trainer.Name))
        {
            // Linear models need features on one scale; trees do not care.
            pipeline = pipeline.Append(ml.Transforms.NormalizeMeanVariance(FeaturesColumn, fixZero: true));
        }
        pipeline = pipeline.AppendCacheCheckpoint(ml).Append(CreateTrainer(ml, settings, task));
        if (task == TrainingTasks.Multiclass)
        {
            // Predictions name the class ("gold"), not its index.
            pipeline = pipeline.Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        }
        var model = pipeline.Fit(split.TrainSet);

        var predictions = model.Transform(split.TestSet);
        var metrics = Evaluate(ml, predictions, task);
        return new TrainedModel(model, inputSchema, metrics, trainRows, validationRows);
    }

    private static EstimatorChain<ColumnConcatenatingTransformer> Featurize(MLContext ml, AnalyzedTable table)
    {
        IEstimator<ITransformer> chain = new EstimatorChain<ITransformer>();
        var parts = new List<string>();
        foreach (var column in table.Features)
        {
            if (column.Numbers is not null)
            {
                if (column.HasMissing)
                {
                    var indicator = column.Name + "__missing";
                    chain = chain.Append(ml.Transforms.IndicateMissingValues(indicator, column.Name))
                                 .Append(ml.Transforms.Conversion.ConvertType(indicator, outputKind: DataKind.Single));
                    parts.Add(indicator);
                }
                // Every numeric input is imputed, so that a missing value at prediction time is handled too.
                var imputed = column.Name + "__value";
                chain = chain.Append(ml.Transforms.ReplaceMissingValues(imputed, column.Name, MissingValueReplacingEstimator.ReplacementMode.Mean));
                parts.Add(imputed);
            }
            else
            {
                var encoded = column.Name + "__onehot";
                chain = chain.Append(ml.Transforms.Categorical.OneHotEncoding(encoded, column.Name));
                parts.Add(encoded);
            }
        }
        return chain.Append(ml.Transforms.Concatenate(FeaturesColumn, [.. parts]));
    }

    private static bool IsLinear(string trainer) => trainer is BuiltInTrainers.LogisticRegression or BuiltInTrainers.LinearRegression;

    private static IEstimator<ITransformer> CreateTrainer(MLContext ml, TrainerSettings s, string task) => (s.Trainer.Name, task) switch
    {
        (BuiltInTrainers.LightGbm, TrainingTasks.Binary) => ml.BinaryClassification.Trainers.LightGbm(LightGbmBinary(s)),
        (BuiltInTrainers.LightGbm, TrainingTasks.Multiclass) => ml.MulticlassClassification.Trainers.LightGbm(LightGbmMulticlass(s)),
        (BuiltInTrainers.LightGbm, TrainingTasks.Regression) => ml.Regression.Trainers.LightGbm(LightGbmRegression(s)),
        (BuiltInTrainers.FastTree, TrainingTasks.Binary) => ml.BinaryClassification.Trainers.FastTree(FastTree<FastTreeBinaryTrainer.Options>(s)),
        (BuiltInTrainers.FastTree, TrainingTasks.Regression) => ml.Regression.Trainers.FastTree(FastTree<FastTreeRegressionTrainer.Options>(s)),
        (BuiltInTrainers.LogisticRegression, TrainingTasks.Binary) => ml.BinaryClassification.Trainers.LbfgsLogisticRegression(new LbfgsLogisticRegressionBinaryTrainer.Options
        {
            LabelColumnName = LabelColumn,
            FeatureColumnName = FeaturesColumn,
            L1Regularization = (float)s["l1_regularization"],
            L2Regularization = (float)s["l2_regularization"],
            MaximumNumberOfIterations = s.GetInt32("max_iterations"),
            NumberOfThreads = 1,
        }),
        (BuiltInTrainers.LogisticRegression, TrainingTasks.Multiclass) => ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(new LbfgsMaximumEntropyMulticlassTrainer.Options
        {
            LabelColumnName = LabelColumn,
            FeatureColumnName = FeaturesColumn,
            L1Regularization = (float)s["l1_regularization"],
            L2Regularization = (float)s["l2_regularization"],
            MaximumNumberOfIterations = s.GetInt32("max_iterations"),
            NumberOfThreads = 1,
        }),
        (BuiltInTrainers.LinearRegression, TrainingTasks.Regression) => ml.Regression.Trainers.Sdca(new SdcaRegressionTrainer.Options
        {
            LabelColumnName = LabelColumn,
            FeatureColumnName = FeaturesColumn,
            L1Regularization = (float)s["l1_regularization"],
            L2Regularization = (float)s["l2_regularization"],
            MaximumNumberOfIterations = s.GetInt32("max_iterations"),
            // One thread makes SDCA deterministic for a given seed.
            NumberOfThreads = 1,
        }),
        _ => throw new TrainingDataException(
            $"{s.Trainer.Name} does not learn {task} tasks (it learns {string.Join(", ", s.Trainer.Tasks)}); " +
            "choose another model, or give the task if the label was taken for the wrong one"),
    };

    // LightGBM's three option classes share their fields through a generic base that cannot be named
    // without each trainer's model types, hence three initializers.
    private static LightGbmBinaryTrainer.Options LightGbmBinary(TrainerSettings s) => new()
    {
        LabelColumnName = LabelColumn, FeatureColumnName = FeaturesColumn,
        NumberOfLeaves = s.GetInt32("num_leaves"), LearningRate = s["learning_rate"], NumberOfIterations = s.GetInt32("num_iterations"),
        MinimumExampleCountPerLeaf = s.GetInt32("min_data_in_leaf"), MaximumBinCountPerFeature = s.GetInt32("max_bin"),
        Seed = s.Seed, Deterministic = true, Silent = true, Booster = Booster(s),
    };

    private static LightGbmMulticlassTrainer.Options LightGbmMulticlass(TrainerSettings s) => new()
    {
        LabelColumnName = LabelColumn, FeatureColumnName = FeaturesColumn,
        NumberOfLeaves = s.GetInt32("num_leaves"), LearningRate = s["learning_rate"], NumberOfIterations = s.GetInt32("num_iterations"),
        MinimumExampleCountPerLeaf = s.GetInt32("min_data_in_leaf"), MaximumBinCountPerFeature = s.GetInt32("max_bin"),
        Seed = s.Seed, Deterministic = true, Silent = true, Booster = Booster(s),
    };

    private static LightGbmRegressionTrainer.Options LightGbmRegression(TrainerSettings s) => new()
    {
        LabelColumnName = LabelColumn, FeatureColumnName = FeaturesColumn,
        NumberOfLeaves = s.GetInt32("num_leaves"), LearningRate = s["learning_rate"], NumberOfIterations = s.GetInt32("num_iterations"),
        MinimumExampleCountPerLeaf = s.GetInt32("min_data_in_leaf"), MaximumBinCountPerFeature = s.GetInt32("max_bin"),
        Seed = s.Seed, Deterministic = true, Silent = true, Booster = Booster(s),
    };

    private static GradientBooster.Options Booster(TrainerSettings s) => new()
    {
        L1Regularization = s["l1_regularization"],
        L2Regularization = s["l2_regularization"],
    };

    private static TOptions FastTree<TOptions>(TrainerSettings s)
        where TOptions : BoostedTreeOptions, new() => new()
    {
        LabelColumnName = LabelColumn,
        FeatureColumnName = FeaturesColumn,
        NumberOfLeaves = s.GetInt32("num_leaves"),
        LearningRate = s["learning_rate"],
        NumberOfTrees = s.GetInt32("num_trees"),
        MinimumExampleCountPerLeaf = s.GetInt32("min_data_in_leaf"),
        Seed = s.Seed,
    };

    /// <summary>
    /// scikit-learn's <c>log_loss</c>: the mean over rows of -ln(p), p the probability given to the true class,
    /// clipped to [1e-15, 1 - 1e-15]; in nats. ML.NET's own binary log-loss is in bits, which users would compare
    /// with scikit-learn's figure and find 44% worse. Rows without a label (NaN) are left out.
    /// </summary>
    private static double LogLoss(IEnumerable<float> trueClassProbabilities)
    {
        const double Epsilon = 1e-15;
        var (sum, rows) = (0.0, 0);
        foreach (var p in trueClassProbabilities)
        {
            if (float.IsNaN(p)) continue;
            sum -= Math.Log(Math.Clamp(p, Epsilon, 1 - Epsilon));
            rows++;
        }
        return rows == 0 ? double.NaN : sum / rows;
    }

    private static Dictionary<string, double> Evaluate(MLContext ml, IDataView predictions, string task)
    {
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        switch (task)
        {
            case TrainingTasks.Binary:
                var binary = ml.BinaryClassification.Evaluate(predictions, LabelColumn);
                metrics["accuracy"] = binary.Accuracy;
                metrics["auc"] = binary.AreaUnderRocCurve;
                metrics["f1"] = binary.F1Score;
                metrics["log_loss"] = LogLoss(predictions.GetColumn<bool>(LabelColumn).Zip(predictions.GetColumn<float>("Probability"), (label, p) => label ? p : 1 - p));
                break;
            case TrainingTasks.Multiclass:
                var multiclass = ml.MulticlassClassification.Evaluate(predictions, LabelColumn);
                metrics["micro_accuracy"] = multiclass.MicroAccuracy;
                metrics["macro_accuracy"] = multiclass.MacroAccuracy;
                // A class key is 1-based (0: missing); its score is the class's probability.
                metrics["log_loss"] = LogLoss(predictions.GetColumn<uint>(LabelColumn).Zip(predictions.GetColumn<VBuffer<float>>("Score"),
                    (key, scores) => key == 0 ? float.NaN : scores.GetItemOrDefault((int)key - 1)));
                break;
            default:
                var regression = ml.Regression.Evaluate(predictions, LabelColumn);
                metrics["rmse"] = regression.RootMeanSquaredError;
                metrics["mae"] = regression.MeanAbsoluteError;
                metrics["r2"] = regression.RSquared;
                break;
        }
        // An undefined metric (F1 when nothing was predicted positive) is left out rather than written as NaN.
        foreach (var name in metrics.Where(m => !double.IsFinite(m.Value)).Select(m => m.Key).ToList())
        {
            metrics.Remove(name);
        }
        return metrics;
    }

    private static int CountRows(IDataView data)
    {
        using var cursor = data.GetRowCursor([]);
        var rows = 0;
        while (cursor.MoveNext()) rows++;
        return rows;
    }
}
