using System.Linq.Expressions;
using System.Reflection;
using System.Reflection.Emit;
using Microsoft.Extensions.ObjectPool;
using Microsoft.ML;
using Microsoft.ML.Data;
using Strata.Contracts;

namespace Strata.Worker.Serving;

/// <summary>The model cannot be served (not a model, unsupported inputs or outputs); the message says why.</summary>
public sealed class ModelLoadException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// An ML.NET model (<c>model.zip</c>) behind a pool of <see cref="PredictionEngine{TSrc,TDst}"/>s. A
/// prediction engine is not thread-safe but is cheap to reuse and costly to create, so each request
/// borrows one with its own input and output objects. The input class is generated at load time with
/// one field per input column of the model, since the columns are the training data's, known only then.
/// </summary>
public static class MlNetPredictor
{
    public static IPredictor Load(string modelPath, ModelInputSchema? schema)
    {
        var ml = new MLContext();
        ITransformer transformer;
        DataViewSchema inputSchema;
        try
        {
            transformer = ml.Model.Load(modelPath, out inputSchema);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or InvalidDataException or ArgumentException)
        {
            throw new ModelLoadException($"{modelPath} is not an ML.NET model that can be loaded: {e.Message}", e);
        }
        var columns = InputColumns(inputSchema, schema);
        var outputSchema = transformer.GetOutputSchema(inputSchema);
        var task = TaskOf(outputSchema);
        var labels = LabelNamesOf(task, outputSchema, schema);
        var tolerated = schema is null ? [] : schema.IgnoredColumns.Select(c => c.Name).Concat(schema.Label is { } label ? [label.Name] : []);
        var inputs = new ModelInputs(columns, tolerated);
        var inputType = InputTypes.Create(columns);
        var outputType = task switch
        {
            PredictionTask.Binary => typeof(BinaryOutput),
            PredictionTask.Multiclass => typeof(MulticlassOutput),
            _ => typeof(RegressionOutput),
        };
        var pool = typeof(EnginePool<,>).MakeGenericType(inputType, outputType);
        try
        {
            return (IPredictor)Activator.CreateInstance(pool, ml, transformer, inputs, task, labels)!;
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            throw new ModelLoadException($"{modelPath}: cannot create a prediction engine: {e.InnerException.Message}", e.InnerException);
        }
    }

    /// <summary>The model's own input columns; <c>schema.json</c>, when given, says which text columns are booleans.</summary>
    private static List<InputColumn> InputColumns(DataViewSchema inputSchema, ModelInputSchema? schema)
    {
        var declared = schema?.Columns.ToDictionary(c => c.Name, StringComparer.Ordinal);
        var columns = new List<InputColumn>();
        foreach (var column in inputSchema)
        {
            if (column.IsHidden) continue;
            var declaredType = declared?.GetValueOrDefault(column.Name)?.Type;
            if (declared is not null && declaredType is null)
            {
                throw new ModelLoadException($"the model's input '{column.Name}' is not in its schema (schema.json); the schema does not belong to this model");
            }
            columns.Add(column.Type switch
            {
                NumberDataViewType { RawType: var t } when t == typeof(float) => new InputColumn(column.Name, InputKind.Number, ModelColumnTypes.Numeric),
                TextDataViewType => new InputColumn(column.Name, InputKind.Text, declaredType ?? ModelColumnTypes.Categorical),
                BooleanDataViewType => new InputColumn(column.Name, InputKind.Boolean, ModelColumnTypes.Boolean),
                _ => throw new ModelLoadException($"the model's input '{column.Name}' is {column.Type}; a served model's inputs must be single floats, text or booleans"),
            });
        }
        if (columns.Count == 0) throw new ModelLoadException("the model has no input columns");
        return columns;
    }

    private static PredictionTask TaskOf(DataViewSchema outputs)
    {
        var label = outputs.GetColumnOrNull("PredictedLabel")?.Type;
        var score = outputs.GetColumnOrNull("Score")?.Type;
        var probability = outputs.GetColumnOrNull("Probability")?.Type;
        if (label is BooleanDataViewType && score == NumberDataViewType.Single && probability == NumberDataViewType.Single) return PredictionTask.Binary;
        if (label is TextDataViewType && score is VectorDataViewType { ItemType: var item } && item == NumberDataViewType.Single) return PredictionTask.Multiclass;
        if (label is null && score == NumberDataViewType.Single) return PredictionTask.Regression;
        throw new ModelLoadException(
            "the model's outputs are not those of a binary classifier (PredictedLabel, Score, Probability), a multiclass classifier " +
            "(PredictedLabel as text, Score vector) or a regression (Score): it has " + string.Join(", ", outputs.Where(c => !c.IsHidden).Select(c => $"{c.Name} ({c.Type})")));
    }

    private static LabelNames LabelNamesOf(PredictionTask task, DataViewSchema outputs, ModelInputSchema? schema)
    {
        var label = schema?.Label;
        if (task == PredictionTask.Binary)
        {
            if (label is { Type: not ModelColumnTypes.Boolean, PositiveClass: { } positive, Classes: [var first, var second] })
            {
                return new LabelNames(positive, positive == first ? second : first, null, IsNumeric(label));
            }
            return new LabelNames(null, null, null);
        }
        if (task == PredictionTask.Multiclass)
        {
            // The scores' slot names are the classes in score order, whatever order the schema lists them in.
            var score = outputs["Score"];
            if (score.HasSlotNames())
            {
                VBuffer<ReadOnlyMemory<char>> names = default;
                score.GetSlotNames(ref names);
                return new LabelNames(null, null, [.. names.DenseValues().Select(n => n.ToString())], IsNumeric(label));
            }
            return new LabelNames(null, null, label?.Classes, IsNumeric(label));
        }
        return new LabelNames(null, null, null);
    }

    /// <summary>
    /// Whether the training data's label was numbers (0/1, or whole-number classes): the model knows its classes only
    /// as text, so the schema's label type is what lets a prediction answer <c>1</c> rather than <c>"1"</c>.
    /// </summary>
    private static bool IsNumeric(ModelLabel? label) =>
        label is { Type: ModelColumnTypes.Numeric, Classes: { } classes } && classes.All(c => LabelNames.TryNumber(c, out _));
}

public sealed class BinaryOutput
{
    public bool PredictedLabel { get; set; }
    public float Score { get; set; }
    public float Probability { get; set; }
}

public sealed class MulticlassOutput
{
    public string PredictedLabel { get; set; } = "";
    public float[] Score { get; set; } = [];
}

public sealed class RegressionOutput
{
    public float Score { get; set; }
}

/// <summary>Generates the input class of a model: one public field per column, of the column's CLR type.</summary>
internal static class InputTypes
{
    private static readonly ModuleBuilder Module = AssemblyBuilder
        .DefineDynamicAssembly(new AssemblyName("Strata.Worker.Serving.Inputs"), AssemblyBuilderAccess.Run)
        .DefineDynamicModule("Inputs");
    private static int _count;

    public static Type Create(IReadOnlyList<InputColumn> columns)
    {
        var type = Module.DefineType($"ModelInput{Interlocked.Increment(ref _count)}", TypeAttributes.Public | TypeAttributes.Sealed | TypeAttributes.Class);
        for (var i = 0; i < columns.Count; i++)
        {
            // Fields are named by position; the schema definition maps them to the columns' real names,
            // which need not be identifiers.
            type.DefineField(FieldName(i), ClrType(columns[i].Kind), FieldAttributes.Public);
        }
        type.DefineDefaultConstructor(MethodAttributes.Public);
        return type.CreateType();
    }

    public static string FieldName(int column) => "c" + column.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static Type ClrType(InputKind kind) => kind switch
    {
        InputKind.Number => typeof(float),
        InputKind.Boolean => typeof(bool),
        _ => typeof(string),
    };
}

/// <summary>The pool of prediction engines for one model, with compiled setters for its generated input class.</summary>
internal sealed class EnginePool<TInput, TOutput> : IPredictor
    where TInput : class, new()
    where TOutput : class, new()
{
    private readonly ObjectPool<Session> _sessions;
    private readonly Action<TInput, InputRow>[] _setters;
    private readonly Func<TOutput, Prediction> _read;

    public EnginePool(MLContext ml, ITransformer transformer, ModelInputs inputs, PredictionTask task, LabelNames labels)
    {
        Inputs = inputs;
        Task = task;
        Labels = labels;
        var definition = SchemaDefinition.Create(typeof(TInput));
        for (var i = 0; i < inputs.Columns.Count; i++)
        {
            definition[InputTypes.FieldName(i)].ColumnName = inputs.Columns[i].Name;
        }
        _setters = [.. inputs.Columns.Select((c, i) => Setter(c.Kind, i))];
        _read = Reader();
        _sessions = new DefaultObjectPool<Session>(new SessionPolicy(ml, transformer, definition), Environment.ProcessorCount * 4);
        // One engine made now: a model that loads but cannot predict fails here, before the replica is ready.
        _sessions.Return(_sessions.Get());
    }

    public ModelInputs Inputs { get; }

    public PredictionTask Task { get; }

    public LabelNames Labels { get; }

    public void Predict(IReadOnlyList<InputRow> rows, Span<Prediction> predictions)
    {
        var session = _sessions.Get();
        try
        {
            for (var r = 0; r < rows.Count; r++)
            {
                foreach (var set in _setters) set(session.Input, rows[r]);
                session.Engine.Predict(session.Input, ref session.Output);
                predictions[r] = _read(session.Output);
            }
        }
        finally
        {
            _sessions.Return(session);
        }
    }

    private static Action<TInput, InputRow> Setter(InputKind kind, int column)
    {
        var input = Expression.Parameter(typeof(TInput), "input");
        var row = Expression.Parameter(typeof(InputRow), "row");
        Expression value = kind switch
        {
            InputKind.Number => Expression.ArrayIndex(Expression.Property(row, nameof(InputRow.Numbers)), Expression.Constant(column)),
            InputKind.Boolean => Expression.NotEqual(Expression.ArrayIndex(Expression.Property(row, nameof(InputRow.Numbers)), Expression.Constant(column)), Expression.Constant(0f)),
            _ => Expression.ArrayIndex(Expression.Property(row, nameof(InputRow.Texts)), Expression.Constant(column)),
        };
        var assign = Expression.Assign(Expression.Field(input, InputTypes.FieldName(column)), value);
        return Expression.Lambda<Action<TInput, InputRow>>(assign, input, row).Compile();
    }

    private static Func<TOutput, Prediction> Reader() => typeof(TOutput) switch
    {
        var t when t == typeof(BinaryOutput) => output => output is BinaryOutput b ? new Prediction(b.PredictedLabel, b.Score, b.Probability, null, null) : default,
        // The engine reuses the score array; a prediction keeps its own copy.
        var t when t == typeof(MulticlassOutput) => output => output is MulticlassOutput m ? new Prediction(false, 0, 0, m.PredictedLabel, [.. m.Score]) : default,
        _ => output => output is RegressionOutput r ? new Prediction(false, r.Score, 0, null, null) : default,
    };

    internal sealed class Session(PredictionEngine<TInput, TOutput> engine)
    {
        public PredictionEngine<TInput, TOutput> Engine { get; } = engine;
        public TInput Input { get; } = new();
        // A field, so that the engine can fill it in place (Predict(input, ref output)).
#pragma warning disable CA1051
        public TOutput Output = new();
#pragma warning restore CA1051
    }

    private sealed class SessionPolicy(MLContext ml, ITransformer transformer, SchemaDefinition definition) : PooledObjectPolicy<Session>
    {
        public override Session Create() => new(ml.Model.CreatePredictionEngine<TInput, TOutput>(transformer, ignoreMissingColumns: false, inputSchemaDefinition: definition));

        public override bool Return(Session obj) => true;
    }
}
