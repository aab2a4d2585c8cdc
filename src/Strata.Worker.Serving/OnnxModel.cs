using System.Globalization;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Strata.Worker.Serving;

/// <summary>
/// An ONNX model (<c>model.onnx</c>) behind one ONNX Runtime <see cref="InferenceSession"/>, which is
/// thread-safe for <c>Run</c> and so shared by every request. What a request must carry comes from the
/// model's own input metadata (<see cref="OnnxInputs"/>); the answer is every output by name, per
/// instance, except that a classifier's label and probabilities are answered as
/// <c>predicted_label</c> and <c>probabilities</c>, like an ML.NET classifier's (docs/serving.md, "ONNX models").
/// </summary>
public sealed class OnnxModel : IServedModel, IDisposable
{
    /// <summary>Output names that converters give a classifier's predicted class (skl2onnx: <c>output_label</c>).</summary>
    private static readonly string[] LabelOutputs = ["label", "output_label", "predicted_label"];
    /// <summary>Output names that converters give a classifier's class probabilities (skl2onnx: <c>output_probability</c>).</summary>
    private static readonly string[] ProbabilityOutputs = ["probabilities", "output_probability", "probability"];

    private readonly InferenceSession _session;
    // Default options, shared: runs only read them.
    private readonly RunOptions _runOptions = new();
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    /// <summary>The outputs' names in answers, in the order of <see cref="_outputNames"/>.</summary>
    private readonly string[] _answerNames;
    /// <summary>Whether every input's batch dimension is dynamic, so that a request's instances run as one batch.</summary>
    private readonly bool _batched;

    private OnnxModel(InferenceSession session, OnnxInputs inputs, string[] outputNames, string[] answerNames, bool batched)
    {
        _session = session;
        Inputs = inputs;
        _inputNames = [.. inputs.Inputs.Select(i => i.Name)];
        _outputNames = outputNames;
        _answerNames = answerNames;
        _batched = batched;
    }

    public OnnxInputs Inputs { get; }

    /// <exception cref="ModelLoadException">Not an ONNX model, or one whose inputs or outputs cannot be served.</exception>
    public static OnnxModel Load(string modelPath)
    {
        // One thread per run: a replica's parallelism is its concurrent requests (and more replicas), and
        // an intra-op pool per run would only compete with them for the cores on small tabular models.
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        InferenceSession session;
        try
        {
            session = new InferenceSession(modelPath, options);
        }
        catch (OnnxRuntimeException e)
        {
            // One line: the replica's supervisor shows the last lines of its error output.
            throw new ModelLoadException($"not an ONNX model that ONNX Runtime can load: {OneLine(e.Message)}", e);
        }
        catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or EntryPointNotFoundException)
        {
            throw new ModelLoadException($"ONNX Runtime's native library cannot be loaded on this machine: {OneLine((e.InnerException ?? e).Message)}", e);
        }
        try
        {
            var inputs = session.InputNames.Select(name => InputOf(name, session.InputMetadata[name])).ToList();
            if (inputs.Count == 0) throw new ModelLoadException("the model has no inputs");
            var outputNames = session.OutputNames.ToArray();
            foreach (var name in outputNames) CheckOutput(name, session.OutputMetadata[name]);
            // A fixed batch dimension (1) runs each instance on its own.
            var batched = session.InputNames.All(name => session.InputMetadata[name].Dimensions[0] < 0);
            return new OnnxModel(session, new OnnxInputs(inputs), outputNames, AnswerNames(outputNames, session.OutputMetadata), batched);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    public IAnswer Predict(JsonElement body)
    {
        var request = Inputs.Read(body);
        if (request.Errors.Count > 0) return new Answer(request, [], _answerNames);
        var runs = _batched
            ? [Run(request, 0, request.Count)]
            : Enumerable.Range(0, request.Count).Select(i => Run(request, i, 1)).ToArray();
        return new Answer(request, runs, _answerNames);
    }

    public void Dispose()
    {
        _session.Dispose();
        _runOptions.Dispose();
    }

    /// <summary>Runs instances <paramref name="first"/> to <paramref name="first"/> + <paramref name="count"/> of a request as one batch.</summary>
    private OutputValues[] Run(OnnxRequest request, int first, int count)
    {
        var tensors = new List<OrtValue>(_inputNames.Length);
        try
        {
            foreach (var (input, tensor) in Inputs.Inputs.Zip(request.Tensors))
            {
                long[] shape = [count, .. input.InstanceShape];
                tensors.Add(tensor.ToTensor(first * input.InstanceSize, count * input.InstanceSize, shape));
            }
            using var outputs = _session.Run(_runOptions, _inputNames, tensors, _outputNames);
            return [.. outputs.Select((output, i) => OutputValues.Read(_outputNames[i], output, count))];
        }
        catch (OnnxRuntimeException e)
        {
            throw new PredictionFailedException($"The model failed on this input: {OneLine(e.Message)}", e);
        }
        finally
        {
            foreach (var tensor in tensors) tensor.Dispose();
        }
    }

    private static OnnxInput InputOf(string name, NodeMetadata metadata)
    {
        if (!metadata.IsTensor || !OnnxTypes.IsSupported(metadata.ElementDataType))
        {
            throw new ModelLoadException(
                $"the model's input '{name}' is {Describe(metadata)}; a served model's inputs must be tensors of float, double, int64, int32, bool or string");
        }
        var dimensions = metadata.Dimensions;
        if (dimensions.Length == 0 || dimensions[0] > 1)
        {
            throw new ModelLoadException(
                $"the model's input '{name}' has shape {Shape(metadata)}; a served model's inputs must have the batch as their first dimension (dynamic, or 1)");
        }
        if (dimensions.Skip(1).Any(d => d <= 0))
        {
            throw new ModelLoadException(
                $"the model's input '{name}' has shape {Shape(metadata)}; every dimension after the batch must be fixed, so that instances can be checked");
        }
        return new OnnxInput(name, metadata.ElementDataType, dimensions[1..]);
    }

    private static void CheckOutput(string name, NodeMetadata metadata)
    {
        if (metadata.IsTensor && OnnxTypes.IsSupported(metadata.ElementDataType)) return;
        if (IsZipMap(metadata)) return;
        throw new ModelLoadException(
            $"the model's output '{name}' is {Describe(metadata)}; a served model's outputs must be tensors of float, double, int64, int32, bool or string, " +
            "or a sequence of maps to float (ZipMap)");
    }

    /// <summary>A classifier's probabilities as ZipMap writes them: one map of class to probability per instance.</summary>
    private static bool IsZipMap(NodeMetadata metadata) =>
        metadata.OnnxValueType == OnnxValueType.ONNX_TYPE_SEQUENCE
        && metadata.AsSequenceMetadata().ElementMeta is { OnnxValueType: OnnxValueType.ONNX_TYPE_MAP } element
        && element.AsMapMetadata() is { KeyDataType: TensorElementType.String or TensorElementType.Int64 } map
        && map.ValueMetadata is { IsTensor: true, ElementDataType: TensorElementType.Float };

    /// <summary>
    /// The outputs' names in answers: a classifier's — exactly two outputs, a label (one value per
    /// instance) and probabilities (a row per instance, or ZipMap), named as converters name them — as
    /// <c>predicted_label</c> and <c>probabilities</c>; any other model's outputs under their own names.
    /// </summary>
    private static string[] AnswerNames(string[] outputs, IReadOnlyDictionary<string, NodeMetadata> metadata)
    {
        if (outputs is [var first, var second])
        {
            var (label, probabilities) = LabelOutputs.Contains(first) ? (first, second) : (second, first);
            var labelMetadata = metadata[label];
            var probabilityMetadata = metadata[probabilities];
            var isLabel = LabelOutputs.Contains(label) && labelMetadata.IsTensor
                && labelMetadata.ElementDataType is TensorElementType.Int64 or TensorElementType.String
                && labelMetadata.Dimensions is [_] or [_, 1];
            var isProbabilities = ProbabilityOutputs.Contains(probabilities) && (IsZipMap(probabilityMetadata)
                || probabilityMetadata is { IsTensor: true, ElementDataType: TensorElementType.Float, Dimensions: [_, _] });
            if (isLabel && isProbabilities)
            {
                return label == first ? ["predicted_label", "probabilities"] : ["probabilities", "predicted_label"];
            }
        }
        return outputs;
    }

    private static string OneLine(string message) => string.Join(' ', message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    private static string Describe(NodeMetadata metadata) => metadata.OnnxValueType switch
    {
        OnnxValueType.ONNX_TYPE_TENSOR => $"a tensor of {OnnxTypes.Name(metadata.ElementDataType)}",
        OnnxValueType.ONNX_TYPE_SEQUENCE => "a sequence",
        OnnxValueType.ONNX_TYPE_MAP => "a map",
        OnnxValueType.ONNX_TYPE_SPARSETENSOR => "a sparse tensor",
        _ => metadata.OnnxValueType.ToString(),
    };

    private static string Shape(NodeMetadata metadata) =>
        "[" + string.Join(", ", metadata.Dimensions.Select((d, i) => d >= 0 ? d.ToString(CultureInfo.InvariantCulture)
            : metadata.SymbolicDimensions[i] is { Length: > 0 } symbol ? symbol : "?")) + "]";

    /// <summary>The predictions of a request: one run (a batch) or one run per instance.</summary>
    private sealed class Answer(OnnxRequest request, OutputValues[][] runs, string[] names) : IAnswer
    {
        public Dictionary<string, string[]> Errors => request.Errors;

        public bool Batch => request.Batch;

        public int Count => request.Count;

        public void Write(Utf8JsonWriter json, int index)
        {
            var (outputs, row) = runs.Length == 1 ? (runs[0], index) : (runs[index], 0);
            json.WriteStartObject();
            for (var i = 0; i < outputs.Length; i++)
            {
                json.WritePropertyName(names[i]);
                outputs[i].Write(json, row);
            }
            json.WriteEndObject();
        }

        // The outputs were copied out of ONNX Runtime's memory; nothing is held.
        public void Dispose()
        {
        }
    }
}
