using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using Strata.Contracts;

namespace Strata.Cli;

/// <summary>
/// Every error of a spec file at once, each with where it is (the YAML line and column) and the field's path as
/// the API names it: <c>line 4, column 3: compute.memroy_gb: unknown field; did you mean memory_gb?</c>. The spec
/// is walked against the contract the server reads it with (the same JSON names and kinds), so what is reported
/// here is what the server would refuse, without naming a .NET type.
/// </summary>
internal static class SpecFileErrors
{
    /// <param name="spec">The file as JSON (a YAML file converted).</param>
    /// <param name="where">Where a field's value starts in the file (<c>line 4, column 3</c>), by its path; empty for JSON.</param>
    public static List<string> Find(JsonNode? spec, IReadOnlyDictionary<string, string> where)
    {
        var errors = new List<string>();
        Check(spec, TypeInfo(typeof(TrainingJobSpec)), "", errors, where);
        return errors;
    }

    private static void Check(JsonNode? node, JsonTypeInfo type, string path, List<string> errors, IReadOnlyDictionary<string, string> where)
    {
        if (node is null) return;
        void Error(string fieldPath, string message) =>
            errors.Add((where.TryGetValue(fieldPath, out var mark) ? mark + ": " : "") + (fieldPath.Length == 0 ? "the spec" : fieldPath) + ": " + message);

        var clr = Nullable.GetUnderlyingType(type.Type) ?? type.Type;
        switch (type.Kind)
        {
            case JsonTypeInfoKind.Object:
                if (node is not JsonObject obj)
                {
                    Error(path, $"must be a mapping of {string.Join(", ", type.Properties.Select(p => p.Name))}");
                    return;
                }
                foreach (var (name, value) in obj)
                {
                    var fieldPath = path.Length == 0 ? name : $"{path}.{name}";
                    var property = type.Properties.FirstOrDefault(p => p.Name == name);
                    if (property is null)
                    {
                        Error(fieldPath, Words.Nearest(name, type.Properties.Select(p => p.Name)) is { } nearest
                            ? $"unknown field; did you mean {nearest}?"
                            : $"unknown field; the fields here are {string.Join(", ", type.Properties.Select(p => p.Name).Order(StringComparer.Ordinal))}");
                        continue;
                    }
                    Check(value, TypeInfo(property.PropertyType), fieldPath, errors, where);
                }
                return;
            case JsonTypeInfoKind.Dictionary:
                if (node is not JsonObject map)
                {
                    Error(path, "must be a mapping");
                    return;
                }
                var valueType = TypeInfo(type.ElementType!);
                foreach (var (name, value) in map) Check(value, valueType, $"{path}.{name}", errors, where);
                return;
            case JsonTypeInfoKind.Enumerable:
                if (node is not JsonArray array)
                {
                    Error(path, "must be a list");
                    return;
                }
                var itemType = TypeInfo(type.ElementType!);
                for (var i = 0; i < array.Count; i++) Check(array[i], itemType, $"{path}[{i}]", errors, where);
                return;
        }
        if (clr == typeof(JsonElement)) return;
        var kind = node.GetValueKind();
        var problem = clr switch
        {
            _ when clr == typeof(string) => kind == JsonValueKind.String ? null : "must be text",
            _ when clr == typeof(bool) => kind is JsonValueKind.True or JsonValueKind.False ? null : "must be true or false",
            _ when clr == typeof(int) || clr == typeof(long) => kind == JsonValueKind.Number && IsWhole(node, clr) ? null : "must be a whole number",
            _ when clr == typeof(double) || clr == typeof(float) || clr == typeof(decimal) => kind == JsonValueKind.Number ? null : "must be a number",
            _ when clr.IsEnum => kind == JsonValueKind.String ? null : "must be one of " + string.Join(", ", Enum.GetValues(clr).Cast<object>().Select(v => JsonSerializer.Serialize(v, clr, StrataJson.Options).Trim('"'))),
            _ => null,
        };
        if (problem is not null) Error(path, problem);
    }

    /// <summary>The contract of <paramref name="type"/> as the serializer reads it (its JSON names, its kinds).</summary>
    private static JsonTypeInfo TypeInfo(Type type)
    {
        // The shared options get their resolver on first use; this may be that use.
        if (!StrataJson.Options.IsReadOnly) StrataJson.Options.MakeReadOnly(populateMissingResolver: true);
        return StrataJson.Options.GetTypeInfo(type);
    }

    private static bool IsWhole(JsonNode node, Type type)
    {
        var element = node.GetValue<JsonElement>();
        return type == typeof(int) ? element.TryGetInt32(out _) : element.TryGetInt64(out _);
    }
}
