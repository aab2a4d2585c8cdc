using System.Globalization;
using System.Text.Json;

namespace Strata.Worker.Serving;

/// <summary>How a 400's message names the JSON value it refuses, for ML.NET and ONNX inputs alike.</summary>
public static class JsonValues
{
    /// <summary><c>the string "ten"</c>, <c>the number 2.5</c>, <c>true</c>, <c>an object</c>, <c>an array</c>, <c>null</c>.</summary>
    public static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => $"the string \"{Shorten(value.GetString()!)}\"",
        JsonValueKind.Number => $"the number {Shorten(value.GetRawText())}",
        JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        _ => value.ValueKind.ToString().ToLower(CultureInfo.InvariantCulture),
    };

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";
}
