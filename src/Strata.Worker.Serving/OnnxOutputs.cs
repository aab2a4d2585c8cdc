using System.Globalization;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Strata.Worker.Serving;

/// <summary>
/// One output of a run, copied out of ONNX Runtime's memory, written per instance: a tensor's row (a
/// scalar when the row is one value — shape <c>[N]</c> or <c>[N,1]</c> —, else nested arrays), or a
/// ZipMap's map (an object of class to probability). Numbers that are not finite are written as null,
/// since JSON has no NaN.
/// </summary>
public abstract class OutputValues
{
    public abstract void Write(Utf8JsonWriter json, int row);

    /// <exception cref="PredictionFailedException">The output does not have one row per instance.</exception>
    public static OutputValues Read(string name, OrtValue value, int rows)
    {
        if (value.OnnxType == OnnxValueType.ONNX_TYPE_SEQUENCE) return ReadMaps(name, value, rows);
        var info = value.GetTensorTypeAndShape();
        var shape = info.Shape;
        if (shape.Length == 0 || shape[0] != rows)
        {
            throw new PredictionFailedException(
                $"The model's output '{name}' has shape [{string.Join(", ", shape)}], not one row for each of the {rows} instances.");
        }
        int[] rowShape = shape is [_] or [_, 1] ? [] : [.. shape[1..].Select(d => (int)d)];
        return info.ElementDataType switch
        {
            TensorElementType.Float => new TensorRows<float>(value.GetTensorDataAsSpan<float>().ToArray(), rowShape, WriteFloat),
            TensorElementType.Double => new TensorRows<double>(value.GetTensorDataAsSpan<double>().ToArray(), rowShape, WriteDouble),
            TensorElementType.Int64 => new TensorRows<long>(value.GetTensorDataAsSpan<long>().ToArray(), rowShape, (json, v) => json.WriteNumberValue(v)),
            TensorElementType.Int32 => new TensorRows<int>(value.GetTensorDataAsSpan<int>().ToArray(), rowShape, (json, v) => json.WriteNumberValue(v)),
            TensorElementType.Bool => new TensorRows<bool>(value.GetTensorDataAsSpan<bool>().ToArray(), rowShape, (json, v) => json.WriteBooleanValue(v)),
            TensorElementType.String => new TensorRows<string>(value.GetStringTensorAsArray(), rowShape, (json, v) => json.WriteStringValue(v)),
            // The model's metadata was checked at load; a run cannot give another type.
            var other => throw new PredictionFailedException($"The model's output '{name}' is a tensor of {OnnxTypes.Name(other)}, which cannot be answered."),
        };
    }

    private static void WriteFloat(Utf8JsonWriter json, float value)
    {
        if (float.IsFinite(value)) json.WriteNumberValue(value);
        else json.WriteNullValue();
    }

    private static void WriteDouble(Utf8JsonWriter json, double value)
    {
        if (double.IsFinite(value)) json.WriteNumberValue(value);
        else json.WriteNullValue();
    }

    private static Maps ReadMaps(string name, OrtValue sequence, int rows)
    {
        var count = sequence.GetValueCount();
        if (count != rows)
        {
            throw new PredictionFailedException($"The model's output '{name}' has {count} maps, not one for each of the {rows} instances.");
        }
        var maps = new (string[] Keys, float[] Values)[count];
        for (var i = 0; i < count; i++)
        {
            using var map = sequence.GetValue(i, OrtAllocator.DefaultInstance);
            using var keys = map.GetValue(0, OrtAllocator.DefaultInstance);
            using var values = map.GetValue(1, OrtAllocator.DefaultInstance);
            maps[i] = (keys.GetTensorTypeAndShape().ElementDataType == TensorElementType.String
                    ? keys.GetStringTensorAsArray()
                    : [.. keys.GetTensorDataAsSpan<long>().ToArray().Select(k => k.ToString(CultureInfo.InvariantCulture))],
                values.GetTensorDataAsSpan<float>().ToArray());
        }
        return new Maps(maps);
    }

    private sealed class TensorRows<T>(T[] elements, int[] rowShape, Action<Utf8JsonWriter, T> write) : OutputValues
    {
        private readonly int _rowSize = rowShape.Aggregate(1, (size, dimension) => size * dimension);

        public override void Write(Utf8JsonWriter json, int row) => WriteNested(json, row * _rowSize, 0);

        private void WriteNested(Utf8JsonWriter json, int offset, int dimension)
        {
            if (dimension == rowShape.Length)
            {
                write(json, elements[offset]);
                return;
            }
            var stride = rowShape.Skip(dimension + 1).Aggregate(1, (size, d) => size * d);
            json.WriteStartArray();
            for (var k = 0; k < rowShape[dimension]; k++) WriteNested(json, offset + k * stride, dimension + 1);
            json.WriteEndArray();
        }
    }

    private sealed class Maps((string[] Keys, float[] Values)[] maps) : OutputValues
    {
        public override void Write(Utf8JsonWriter json, int row)
        {
            var (keys, values) = maps[row];
            json.WriteStartObject();
            for (var i = 0; i < keys.Length; i++)
            {
                json.WritePropertyName(keys[i]);
                WriteFloat(json, values[i]);
            }
            json.WriteEndObject();
        }
    }
}
