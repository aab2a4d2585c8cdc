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

    /// <summary>
    /// The path of the first string or property name in <paramref name="value"/> that cannot be read as text
    /// (invalid UTF-8, an escaped lone surrogate, NUL), or null when all can: reading one later would throw.
    /// </summary>
    public static string? FindBadText(JsonElement value, string path)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                return Readable(value) ? null : path;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in value.EnumerateArray())
                {
                    if (FindBadText(item, $"{path}[{i++}]") is { } bad) return bad;
                }
                return null;
            case JsonValueKind.Object:
                foreach (var property in value.EnumerateObject())
                {
                    string name;
                    try
                    {
                        name = property.Name;
                    }
                    catch (InvalidOperationException)
                    {
                        return path.Length == 0 ? "a property name" : path + " (a property name)";
                    }
                    var inner = path.Length == 0 ? name : $"{path}.{name}";
                    if (!Core.Text.TextRules.IsValid(name, Core.Text.TextKind.Value)) return path.Length == 0 ? "a property name" : path + " (a property name)";
                    if (FindBadText(property.Value, inner) is { } bad) return bad;
                }
                return null;
            default:
                return null;
        }
    }

    private static bool Readable(JsonElement value)
    {
        try
        {
            return Core.Text.TextRules.IsValid(value.GetString(), Core.Text.TextKind.Value);
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";
}
