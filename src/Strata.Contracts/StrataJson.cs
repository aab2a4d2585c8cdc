using System.Text.Json;
using System.Text.Json.Serialization;

namespace Strata.Contracts;

/// <summary>The JSON conventions of the Strata API: snake_case names and snake_case enum values.</summary>
public static class StrataJson
{
    /// <summary>Options for reading and writing every Strata wire type.</summary>
    public static JsonSerializerOptions Options { get; } = Configure(new JsonSerializerOptions());

    /// <summary>Applies Strata's conventions to <paramref name="options"/> (used by ASP.NET Core's own options too).</summary>
    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.DictionaryKeyPolicy = null;
        options.PropertyNameCaseInsensitive = false;
        // One converter per enum: the generic form keeps the contracts usable from Native AOT code.
        options.Converters.Add(new JsonStringEnumConverter<JobStatus>(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false));
        options.Converters.Add(new JsonStringEnumConverter<AttemptStatus>(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false));
        options.NumberHandling = JsonNumberHandling.Strict;
        // Unknown properties are refused rather than dropped: a misspelt field must not be silently ignored.
        options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        options.MaxDepth = 32;
        return options;
    }
}
