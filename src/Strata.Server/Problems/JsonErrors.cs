using System.Text.Json;
using System.Text.RegularExpressions;
using Strata.Contracts;

namespace Strata.Server.Problems;

/// <summary>
/// What a body that is JSON but not the request's shape did wrong, in the user's words: the field's path as the
/// API names it (<c>compute.memroy_gb</c>) and what it must be, never a .NET type
/// (<c>unknown field; did you mean memory_gb?</c>, <c>must be a whole number</c>).
/// </summary>
public static partial class JsonErrors
{
    /// <summary>The field at fault (empty for the body itself) and what is wrong with it; null for an error of JSON syntax.</summary>
    public static (string Field, string Message)? Describe(JsonException error, JsonSerializerOptions options)
    {
        var field = Field(error.Path);
        var message = error.Message;
        if (UnknownMember().Match(message) is { Success: true } unknown)
        {
            var names = MemberNames(unknown.Groups["type"].Value, options);
            var given = field[(field.LastIndexOf('.') + 1)..];
            return (field, Words.Nearest(given, names) is { } nearest
                ? $"unknown field; did you mean {nearest}?"
                : names.Count > 0 ? $"unknown field; the fields here are {string.Join(", ", names)}." : "unknown field.");
        }
        if (NotConvertible().Match(message) is { Success: true } convert)
        {
            return (field, "must be " + Kind(convert.Groups["type"].Value, options) + ".");
        }
        return null;
    }

    /// <summary>
    /// A body that is not JSON: where (line and byte, as the reader counts them from 1) and the reader's first
    /// sentence, without what only makes sense to a .NET programmer.
    /// </summary>
    public static string Syntax(JsonException error)
    {
        var sentence = error.Message;
        var cut = sentence.IndexOf(". ", StringComparison.Ordinal);
        if (cut > 0) sentence = sentence[..cut];
        sentence = sentence.Replace(" which is not supported in this mode", "", StringComparison.Ordinal).TrimEnd('.');
        var where = error.LineNumber is { } line && error.BytePositionInLine is { } position ? $" (line {line + 1}, byte {position + 1})" : "";
        return $"The body is not valid JSON{where}: {sentence}.";
    }

    /// <summary><c>$.compute['gpu type']</c> → <c>compute.gpu type</c>; <c>$</c> → empty.</summary>
    private static string Field(string? path)
    {
        if (string.IsNullOrEmpty(path) || path == "$") return "";
        var field = path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');
        return QuotedName().Replace(field, match => "." + match.Groups["name"].Value).TrimStart('.');
    }

    /// <summary>The JSON names of a contract type's members, as the API spells them.</summary>
    private static List<string> MemberNames(string typeName, JsonSerializerOptions options)
    {
        var type = typeof(TrainingJobSpec).Assembly.GetType(typeName);
        if (type is null) return [];
        return [.. options.GetTypeInfo(type).Properties.Select(p => p.Name).Order(StringComparer.Ordinal)];
    }

    /// <summary>What a value of a .NET type looks like in JSON.</summary>
    private static string Kind(string typeName, JsonSerializerOptions options)
    {
        var name = Nullable().Match(typeName) is { Success: true } nullable ? nullable.Groups["inner"].Value : typeName;
        switch (name)
        {
            case "System.Int32" or "System.Int64" or "System.Int16" or "System.Byte" or "System.UInt32" or "System.UInt64":
                return "a whole number (in range)";
            case "System.Double" or "System.Single" or "System.Decimal":
                return "a number";
            case "System.Boolean":
                return "true or false";
            case "System.String":
                return "a string";
            case "System.DateTimeOffset" or "System.DateTime":
                return "a date and time (ISO 8601, such as 2026-12-07T12:00:00Z)";
        }
        if (name.StartsWith("System.Collections.Generic.Dictionary", StringComparison.Ordinal)) return "an object";
        if (name.StartsWith("System.Collections.Generic.List", StringComparison.Ordinal) || name.EndsWith("[]", StringComparison.Ordinal)
            || name.StartsWith("System.Collections.Generic.IReadOnlyList", StringComparison.Ordinal)) return "an array";
        if (typeof(TrainingJobSpec).Assembly.GetType(name) is { IsEnum: true } enumType)
        {
            var values = Enum.GetNames(enumType).Select(value => JsonSerializer.Serialize(Enum.Parse(enumType, value), enumType, options).Trim('"'));
            return "one of " + string.Join(", ", values);
        }
        return "an object";
    }

    [GeneratedRegex(@"could not be mapped to any \.NET member contained in type '(?<type>[^']+)'")]
    private static partial Regex UnknownMember();

    [GeneratedRegex(@"could not be converted to (?<type>[^\s]+?)\.?(\s|$)")]
    private static partial Regex NotConvertible();

    [GeneratedRegex(@"^System\.Nullable`1\[(?<inner>.+)\]$")]
    private static partial Regex Nullable();

    [GeneratedRegex(@"\['(?<name>[^']*)'\]")]
    private static partial Regex QuotedName();
}
