using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Strata.Worker.Serving;

/// <summary>
/// One input tensor of an ONNX model, as a request carries it: its first dimension is the batch (one
/// row per instance), the others (<paramref name="InstanceShape"/>, all fixed) are one instance's.
/// </summary>
public sealed record OnnxInput(string Name, TensorElementType Element, int[] InstanceShape)
{
    /// <summary>Elements per instance.</summary>
    public int InstanceSize { get; } = InstanceShape.Aggregate(1, (size, dimension) => size * dimension);

    /// <summary>One value per instance (<c>[N]</c> or <c>[N,1]</c>, a column): a JSON scalar rather than an array.</summary>
    public bool IsColumn => InstanceShape is [] or [1];

    /// <summary>What an instance's value must be, for messages: "a number", "an array of 4 numbers", "a 2×2 nested array of numbers".</summary>
    public string Expected => IsColumn ? OnnxTypes.Singular(Element)
        : InstanceShape.Length == 1 ? $"an array of {InstanceShape[0]} {OnnxTypes.Plural(Element)}"
        : $"a {string.Join("×", InstanceShape)} nested array of {OnnxTypes.Plural(Element)}";
}

/// <summary>The element types an ONNX model's inputs and outputs may have here, and how requests name them.</summary>
public static class OnnxTypes
{
    public static bool IsSupported(TensorElementType element) => element is TensorElementType.Float or TensorElementType.Double
        or TensorElementType.Int64 or TensorElementType.Int32 or TensorElementType.Bool or TensorElementType.String;

    /// <summary>The ONNX name of the type (<c>float</c>, <c>int64</c>, ...).</summary>
    public static string Name(TensorElementType element) => element switch
    {
        TensorElementType.Float => "float",
        TensorElementType.Double => "double",
        TensorElementType.Int64 => "int64",
        TensorElementType.Int32 => "int32",
        TensorElementType.Bool => "bool",
        TensorElementType.String => "string",
        _ => element.ToString().ToLowerInvariant(),
    };

    public static string Singular(TensorElementType element) => element switch
    {
        TensorElementType.Float or TensorElementType.Double => "a number (or null for a missing value)",
        TensorElementType.Int64 or TensorElementType.Int32 => "a whole number",
        TensorElementType.Bool => "true or false",
        _ => "a string",
    };

    public static string Plural(TensorElementType element) => element switch
    {
        TensorElementType.Float or TensorElementType.Double => "numbers",
        TensorElementType.Int64 or TensorElementType.Int32 => "whole numbers",
        TensorElementType.Bool => "booleans",
        _ => "strings",
    };
}

/// <summary>
/// Reads prediction requests against an ONNX model's inputs into one tensor per input holding every
/// instance's row. An instance is a JSON object with one field per input: a scalar for a column input
/// (<c>[N]</c>, <c>[N,1]</c>), an array (nested for more dimensions) for the others. When the model has
/// a single input that is not a column, an instance may also be that array alone
/// (<c>[5.1, 3.5, 1.4, 0.2]</c>, or <c>{"instances": [[...], [...]]}</c>). Errors are keyed by field like
/// <see cref="ModelInputs"/>'s.
/// </summary>
public sealed class OnnxInputs
{
    private const int MaxErrors = 20;
    private readonly Dictionary<string, int> _index;

    public OnnxInputs(IReadOnlyList<OnnxInput> inputs)
    {
        Inputs = inputs;
        _index = inputs.Select((input, i) => (input.Name, i)).ToDictionary(p => p.Name, p => p.i, StringComparer.Ordinal);
        BareArrays = inputs is [{ IsColumn: false }];
    }

    public IReadOnlyList<OnnxInput> Inputs { get; }

    /// <summary>Whether an instance may be its single input's array alone, rather than an object naming it.</summary>
    public bool BareArrays { get; }

    /// <summary>The tensors of a request's instances, or the errors (keyed by field) that make it unusable.</summary>
    public OnnxRequest Read(JsonElement body)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (body.ValueKind == JsonValueKind.Array && BareArrays)
        {
            return ReadInstances([body], batch: false, errors);
        }
        if (body.ValueKind != JsonValueKind.Object)
        {
            errors[""] = [$"The body must be a JSON object: one instance, or {{\"instances\": [ ... ]}}{(BareArrays ? $", or one instance's {Inputs[0].Name} alone" : "")}."];
            return new OnnxRequest([], 0, Batch: false, errors);
        }
        if (!body.TryGetProperty("instances", out var instances) || _index.ContainsKey("instances"))
        {
            return ReadInstances([body], batch: false, errors);
        }
        if (instances.ValueKind != JsonValueKind.Array || instances.GetArrayLength() == 0)
        {
            errors["instances"] = ["instances must be a non-empty array of instances."];
            return new OnnxRequest([], 0, Batch: true, errors);
        }
        if (instances.GetArrayLength() > ModelInputs.MaxInstances)
        {
            errors["instances"] = [$"At most {ModelInputs.MaxInstances} instances per request; send {instances.GetArrayLength()} in several requests."];
            return new OnnxRequest([], 0, Batch: true, errors);
        }
        return ReadInstances([.. instances.EnumerateArray()], batch: true, errors);
    }

    private OnnxRequest ReadInstances(IReadOnlyList<JsonElement> instances, bool batch, Dictionary<string, string[]> errors)
    {
        var tensors = Inputs.Select(input => InputTensor.For(input.Element, instances.Count * input.InstanceSize)).ToArray();
        for (var i = 0; i < instances.Count && errors.Count < MaxErrors; i++)
        {
            var prefix = batch ? $"instances[{i}]" : "";
            var instance = instances[i];
            if (instance.ValueKind == JsonValueKind.Array && BareArrays)
            {
                ReadInput(0, instance, tensors[0], i, prefix, errors);
            }
            else if (instance.ValueKind == JsonValueKind.Object)
            {
                ReadFields(instance, tensors, i, batch ? prefix + "." : "", errors);
            }
            else
            {
                errors[prefix] = [BareArrays
                    ? $"Each instance must be a JSON object of input values, or its {Inputs[0].Name} alone ({Inputs[0].Expected})."
                    : "Each instance must be a JSON object of input values."];
            }
        }
        return errors.Count == 0 ? new OnnxRequest(tensors, instances.Count, batch, errors) : new OnnxRequest([], 0, batch, errors);
    }

    private void ReadFields(JsonElement instance, InputTensor[] tensors, int row, string prefix, Dictionary<string, string[]> errors)
    {
        var seen = new bool[Inputs.Count];
        foreach (var property in instance.EnumerateObject())
        {
            if (!_index.TryGetValue(property.Name, out var i))
            {
                // The model knows nothing of labels or ignored columns, so any other name is a mistake.
                errors[prefix + property.Name] = [$"'{property.Name}' is not an input of this model; its inputs are: {string.Join(", ", Inputs.Select(x => x.Name))}."];
                continue;
            }
            seen[i] = true;
            ReadInput(i, property.Value, tensors[i], row, prefix + property.Name, errors);
        }
        for (var i = 0; i < Inputs.Count; i++)
        {
            if (!seen[i]) errors[prefix + Inputs[i].Name] = [$"Required: {Inputs[i].Expected}."];
        }
    }

    private void ReadInput(int i, JsonElement value, InputTensor tensor, int row, string field, Dictionary<string, string[]> errors)
    {
        var input = Inputs[i];
        var offset = row * input.InstanceSize;
        var problem = input.IsColumn
            ? tensor.Read(value, offset) is { } wrong ? $"Must be {input.Expected}, not {wrong}." : null
            : ReadArray(input, tensor, value, offset, 0, "");
        if (problem is not null) errors[field] = [problem];
    }

    /// <summary>Reads dimension <paramref name="dimension"/> of an instance's nested arrays; the first problem, or null.</summary>
    private static string? ReadArray(OnnxInput input, InputTensor tensor, JsonElement value, int offset, int dimension, string position)
    {
        if (dimension == input.InstanceShape.Length)
        {
            return tensor.Read(value, offset) is { } wrong
                ? $"Element {position} must be {OnnxTypes.Singular(input.Element)}, not {wrong}."
                : null;
        }
        var length = input.InstanceShape[dimension];
        if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() != length)
        {
            var found = value.ValueKind == JsonValueKind.Array ? $"an array of {value.GetArrayLength()}" : JsonValues.Describe(value);
            return dimension == 0
                ? $"Must be {input.Expected}, not {found}."
                : $"Must be {input.Expected}: {position} must have {length} elements, not {found}.";
        }
        var stride = input.InstanceShape.Skip(dimension + 1).Aggregate(1, (size, d) => size * d);
        var k = 0;
        foreach (var element in value.EnumerateArray())
        {
            if (ReadArray(input, tensor, element, offset + k * stride, dimension + 1, $"{position}[{k}]") is { } problem) return problem;
            k++;
        }
        return null;
    }
}

/// <summary>A request read: one tensor per input (in the model's order) holding <see cref="Count"/> rows, or its errors.</summary>
public sealed record OnnxRequest(InputTensor[] Tensors, int Count, bool Batch, Dictionary<string, string[]> Errors);

/// <summary>One input's elements for every instance of a request, in the row-major layout ONNX Runtime reads.</summary>
public abstract class InputTensor
{
    public static InputTensor For(TensorElementType element, int length) => element switch
    {
        TensorElementType.Float => new Numeric<float>(length, ReadFloat),
        TensorElementType.Double => new Numeric<double>(length, ReadDouble),
        TensorElementType.Int64 => new Numeric<long>(length, ReadInt64),
        TensorElementType.Int32 => new Numeric<int>(length, ReadInt32),
        TensorElementType.Bool => new Numeric<bool>(length, ReadBool),
        TensorElementType.String => new Strings(length),
        _ => throw new ArgumentOutOfRangeException(nameof(element), element, "not a supported input type"),
    };

    /// <summary>Sets element <paramref name="offset"/>; null when the value fits, else what was found instead (<c>the string "ten"</c>).</summary>
    public abstract string? Read(JsonElement value, int offset);

    /// <summary>
    /// Elements <paramref name="start"/> to <paramref name="start"/> + <paramref name="length"/> as a tensor of
    /// <paramref name="shape"/>; numbers are not copied, so this object must outlive the tensor.
    /// </summary>
    public abstract OrtValue ToTensor(int start, int length, long[] shape);

    private delegate bool Reader<T>(JsonElement value, out T result);

    // Missing numbers are NaN, what converted scikit-learn imputers look for.
    private static bool ReadFloat(JsonElement value, out float result)
    {
        result = float.NaN;
        if (value.ValueKind == JsonValueKind.Null) return true;
        if (value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var number) && double.IsFinite(number) && Math.Abs(number) <= float.MaxValue)
        {
            result = (float)number;
            return true;
        }
        return false;
    }

    private static bool ReadDouble(JsonElement value, out double result)
    {
        result = double.NaN;
        if (value.ValueKind == JsonValueKind.Null) return true;
        return value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out result) && double.IsFinite(result);
    }

    private static bool ReadInt64(JsonElement value, out long result)
    {
        result = 0;
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out result);
    }

    private static bool ReadInt32(JsonElement value, out int result)
    {
        result = 0;
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out result);
    }

    private static bool ReadBool(JsonElement value, out bool result)
    {
        result = value.ValueKind == JsonValueKind.True;
        return value.ValueKind is JsonValueKind.True or JsonValueKind.False;
    }

    private sealed class Numeric<T>(int length, Reader<T> read) : InputTensor where T : unmanaged
    {
        private readonly T[] _elements = new T[length];

        public override string? Read(JsonElement value, int offset) =>
            read(value, out _elements[offset]) ? null : JsonValues.Describe(value);

        public override OrtValue ToTensor(int start, int length, long[] shape) =>
            OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, new Memory<T>(_elements, start, length), shape);
    }

    private sealed class Strings(int length) : InputTensor
    {
        private readonly string[] _elements = new string[length];

        // Passed as sent, not trimmed: the categories are whatever the converted model was trained on.
        public override string? Read(JsonElement value, int offset)
        {
            if (value.ValueKind != JsonValueKind.String) return JsonValues.Describe(value);
            _elements[offset] = value.GetString()!;
            return null;
        }

        public override OrtValue ToTensor(int start, int length, long[] shape)
        {
            var tensor = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, shape);
            for (var i = 0; i < length; i++) tensor.StringTensorSetElementAt(_elements[start + i].AsSpan(), i);
            return tensor;
        }
    }
}
