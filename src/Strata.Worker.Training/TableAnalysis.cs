using System.Globalization;
using Strata.Contracts;
using Strata.Core.Training;

namespace Strata.Worker.Training;

/// <summary>A feature column, typed: numbers (NaN where missing) or text (empty where missing).</summary>
public sealed record FeatureColumn(string Name, string Type, float[]? Numbers, string[]? Texts, bool HasMissing)
{
    public ModelColumn Describe()
    {
        var present = Numbers?.Where(float.IsFinite).ToArray();
        return new ModelColumn
        {
            Name = Name,
            Type = Type,
            HasMissing = HasMissing,
            Levels = Texts?.Where(t => t.Length > 0).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList(),
            // As the CSV wrote them (-3.4718), not as the float widens (-3.4718000888824463).
            Min = present is { Length: > 0 } ? NumberText.FromFloat(present.Min()) : null,
            Max = present is { Length: > 0 } ? NumberText.FromFloat(present.Max()) : null,
        };
    }
}

/// <summary>The label column, converted for its task: booleans (binary), class names (multiclass) or numbers (regression).</summary>
public sealed record LabelColumn(string Name, string Task, string Type, bool[]? Booleans, string[]? Classes, float[]? Numbers, string? PositiveClass, List<string>? ClassNames)
{
    public ModelLabel Describe() => new() { Name = Name, Type = Type, Classes = ClassNames, PositiveClass = PositiveClass };
}

/// <summary>The training data with every column's type inferred, missing values marked and the label's task decided.</summary>
public sealed record AnalyzedTable(IReadOnlyList<FeatureColumn> Features, LabelColumn Label, IReadOnlyList<IgnoredColumn> Ignored, int SkippedRows)
{
    public int Rows => Features.Count > 0 ? (Features[0].Numbers?.Length ?? Features[0].Texts!.Length) : 0;

    public ModelInputSchema Schema() => new()
    {
        Task = Label.Task,
        Label = Label.Describe(),
        Columns = [.. Features.Select(f => f.Describe())],
        IgnoredColumns = [.. Ignored],
    };
}

/// <summary>
/// Infers what each CSV column is, from its values:
/// <list type="bullet">
/// <item>Missing: an empty cell, <c>NA</c>, <c>N/A</c>, <c>NaN</c>, <c>null</c>, <c>None</c> or <c>?</c> (any case).</item>
/// <item>Numeric: every present value is a number (invariant culture: <c>1234.5</c>, <c>1e-3</c>).</item>
/// <item>Boolean: every present value is <c>true</c> or <c>false</c> (any case).</item>
/// <item>Categorical: anything else. A column that is almost all numbers but has a few words is an error
///   naming the first such cell, since it is far more likely a typo than a category.</item>
/// <item>Ignored: a column with no values, or a text column whose every value differs (an identifier).</item>
/// </list>
/// The label decides the task when none is given: two values (or a boolean) are binary, a few text
/// or whole-number values multiclass, other numbers regression. Rows without a label are skipped.
/// </summary>
public static class TableAnalysis
{
    /// <summary>Most classes an inferred multiclass label may have; more is regression (numbers) or an error (text).</summary>
    public const int MaxInferredClasses = 20;
    /// <summary>Most classes a multiclass task may have at all.</summary>
    public const int MaxClasses = 1000;
    /// <summary>Share of numbers above which a column's few non-numbers are taken for mistakes.</summary>
    private const double MostlyNumeric = 0.95;
    /// <summary>Fewest distinct values for a text column to be taken for an identifier.</summary>
    private const int IdentifierMinimum = 50;

    public static bool IsMissing(string cell) => MissingValues.IsMissing(cell);

    public static AnalyzedTable Analyze(CsvTable table, string label, string? task)
    {
        var labelIndex = IndexOf(table, label);
        var kept = new List<int>();
        for (var r = 0; r < table.Rows.Count; r++)
        {
            if (!IsMissing(table.Rows[r][labelIndex])) kept.Add(r);
        }
        if (kept.Count == 0)
        {
            throw new TrainingDataException($"the label column '{label}' has no values");
        }
        var labelColumn = AnalyzeLabel(table, labelIndex, kept, task);

        var features = new List<FeatureColumn>();
        var ignored = new List<IgnoredColumn>();
        for (var c = 0; c < table.Columns.Count; c++)
        {
            if (c == labelIndex) continue;
            var (feature, reason) = AnalyzeFeature(table, c, kept);
            if (feature is not null) features.Add(feature);
            else ignored.Add(new IgnoredColumn { Name = table.Columns[c], Reason = reason! });
        }
        if (features.Count == 0)
        {
            throw new TrainingDataException($"no column besides the label '{label}' can be used as a feature" +
                (ignored.Count > 0 ? $" ({string.Join("; ", ignored.Select(i => $"{i.Name}: {i.Reason}"))})" : ""));
        }
        return new AnalyzedTable(features, labelColumn, ignored, table.Rows.Count - kept.Count);
    }

    private static int IndexOf(CsvTable table, string label)
    {
        for (var c = 0; c < table.Columns.Count; c++)
        {
            if (table.Columns[c] == label) return c;
        }
        var similar = table.Columns.FirstOrDefault(c => string.Equals(c, label, StringComparison.OrdinalIgnoreCase));
        var hint = similar is null ? "" : $" (did you mean '{similar}'? names are case-sensitive)";
        throw new TrainingDataException($"the label column '{label}' is not in the data{hint}; its columns are: {string.Join(", ", table.Columns)}");
    }

    private static (FeatureColumn? Column, string? IgnoredBecause) AnalyzeFeature(CsvTable table, int c, List<int> rows)
    {
        var name = table.Columns[c];
        var cells = rows.Select(r => table.Rows[r][c].Trim()).ToArray();
        var present = cells.Count(cell => !IsMissing(cell));
        if (present == 0)
        {
            return (null, "it has no values");
        }
        var hasMissing = present < cells.Length;
        var numbers = new float[cells.Length];
        var numeric = 0;
        int? firstWord = null;
        for (var i = 0; i < cells.Length; i++)
        {
            if (IsMissing(cells[i]))
            {
                numbers[i] = float.NaN;
            }
            else if (TryNumber(cells[i], out var value))
            {
                numbers[i] = value;
                numeric++;
            }
            else
            {
                firstWord ??= i;
            }
        }
        if (numeric == present)
        {
            return (new FeatureColumn(name, ModelColumnTypes.Numeric, numbers, null, hasMissing), null);
        }
        if (numeric >= MostlyNumeric * present)
        {
            var i = firstWord!.Value;
            throw new TrainingDataException(
                $"column '{name}' holds numbers ({numeric} of {present} values) but line {table.Lines[rows[i]]} has '{Shorten(cells[i])}'; " +
                "fix the value, or leave the cell empty (or NA) to mark it missing");
        }
        if (cells.Where(cell => !IsMissing(cell)).All(IsBoolean))
        {
            var normalized = cells.Select(cell => IsMissing(cell) ? "" : cell.ToLowerInvariant()).ToArray();
            return (new FeatureColumn(name, ModelColumnTypes.Boolean, null, normalized, hasMissing), null);
        }
        var texts = cells.Select(cell => IsMissing(cell) ? "" : cell).ToArray();
        var distinct = texts.Where(t => t.Length > 0).Distinct(StringComparer.Ordinal).Count();
        if (distinct == present && present >= IdentifierMinimum)
        {
            return (null, "every value is different (an identifier?), so it cannot generalize");
        }
        return (new FeatureColumn(name, ModelColumnTypes.Categorical, null, texts, hasMissing), null);
    }

    private static LabelColumn AnalyzeLabel(CsvTable table, int c, List<int> rows, string? task)
    {
        var name = table.Columns[c];
        var cells = rows.Select(r => table.Rows[r][c].Trim()).ToArray();
        var allBoolean = cells.All(IsBoolean);
        if (allBoolean)
        {
            cells = [.. cells.Select(v => v.ToLowerInvariant())];
        }
        var classes = cells.Distinct(StringComparer.Ordinal).ToList();
        var allNumeric = cells.All(cell => TryNumber(cell, out _));
        var wholeNumbers = allNumeric && cells.All(cell => TryNumber(cell, out var v) && v == MathF.Floor(v));
        var type = allBoolean ? ModelColumnTypes.Boolean : allNumeric ? ModelColumnTypes.Numeric : ModelColumnTypes.Categorical;

        task ??= classes.Count <= 2 ? TrainingTasks.Binary
            : wholeNumbers && classes.Count <= MaxInferredClasses ? TrainingTasks.Multiclass
            : allNumeric ? TrainingTasks.Regression
            : classes.Count <= MaxInferredClasses * 5 ? TrainingTasks.Multiclass
            : throw new TrainingDataException(
                $"the label column '{name}' has {classes.Count} distinct text values: too many classes to infer a classification task; " +
                $"give --task multiclass (up to {MaxClasses} classes) or choose another label");

        switch (task)
        {
            case TrainingTasks.Binary:
                if (classes.Count != 2)
                {
                    throw new TrainingDataException(
                        $"a binary task needs exactly two label values, but '{name}' has {classes.Count}: {Sample(classes)}");
                }
                var positive = PositiveClass(classes);
                var ordered = classes.OrderBy(v => v == positive).ToList();
                return new LabelColumn(name, task, type, [.. cells.Select(v => v == positive)], null, null, positive, ordered);
            case TrainingTasks.Multiclass:
                if (classes.Count < 2 || classes.Count > MaxClasses)
                {
                    throw new TrainingDataException($"a multiclass task needs 2 to {MaxClasses} label values, but '{name}' has {classes.Count}");
                }
                return new LabelColumn(name, task, type, null, cells, null, null, [.. classes.Order(StringComparer.Ordinal)]);
            default:
                var numbers = new float[cells.Length];
                for (var i = 0; i < cells.Length; i++)
                {
                    if (!TryNumber(cells[i], out numbers[i]))
                    {
                        throw new TrainingDataException(
                            $"a regression label must be numeric, but '{name}' has '{Shorten(cells[i])}' on line {table.Lines[rows[i]]}");
                    }
                }
                return new LabelColumn(name, task, ModelColumnTypes.Numeric, null, null, numbers, null, null);
        }
    }

    /// <summary>
    /// The class a binary model's probability is for: <c>true</c>, <c>1</c>, <c>yes</c> and the like when
    /// present, else the later of the two values in ordinal order (documented in docs/training.md).
    /// </summary>
    private static string PositiveClass(List<string> classes)
    {
        string[] positives = ["true", "1", "yes", "y", "positive", "pos"];
        return classes.FirstOrDefault(v => positives.Contains(v, StringComparer.OrdinalIgnoreCase))
            ?? classes.Order(StringComparer.Ordinal).Last();
    }

    private static bool IsBoolean(string cell) =>
        cell.Equals("true", StringComparison.OrdinalIgnoreCase) || cell.Equals("false", StringComparison.OrdinalIgnoreCase);

    private static bool TryNumber(string cell, out float value) =>
        float.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && float.IsFinite(value);

    private static string Sample(List<string> values) =>
        string.Join(", ", values.Take(10).Select(v => $"'{Shorten(v)}'")) + (values.Count > 10 ? ", …" : "");

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";
}
