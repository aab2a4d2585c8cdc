using System.Text.Json;
using Strata.Contracts;
using Strata.Server.Problems;

namespace Strata.Server.Tests.Problems;

/// <summary>A body that is JSON but not the request's shape is refused in the user's words: the field, and what it must be.</summary>
public sealed class JsonErrorsTests
{
    [Theory]
    [InlineData("""{"name":"x","compute":{"memroy_gb":2}}""", "compute.memroy_gb: unknown field; did you mean memory_gb?")]
    [InlineData("""{"name":"x","compute":{"cpu_cores":"lots"}}""", "compute.cpu_cores: must be a whole number (in range).")]
    [InlineData("""{"name":"x","distributed":{"num_workers":99999999999}}""", "distributed.num_workers: must be a whole number (in range).")]
    [InlineData("""{"name":"x","compute":{"gpu_fraction":"half"}}""", "compute.gpu_fraction: must be a number.")]
    [InlineData("""{"name":"x","hyperparameters":[1]}""", "hyperparameters: must be an object.")]
    [InlineData("""{"name":"x","env_vars":{"A":1}}""", "env_vars.A: must be a string.")]
    [InlineData("""{"name":"x","retry":[]}""", "retry: must be an object.")]
    public void A_field_of_the_wrong_shape_is_named_with_what_it_must_be(string body, string expected)
    {
        var error = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<TrainingJobSpec>(body, StrataJson.Options));

        var (field, message) = JsonErrors.Describe(error, StrataJson.Options)!.Value;

        Assert.Equal(expected, $"{field}: {message}");
    }

    [Fact]
    public void An_unknown_field_far_from_every_name_lists_the_fields_there()
    {
        var error = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<TrainingJobSpec>("""{"name":"x","retry":{"zzzzzzzz":1}}""", StrataJson.Options));

        var (field, message) = JsonErrors.Describe(error, StrataJson.Options)!.Value;

        Assert.Equal("retry.zzzzzzzz", field);
        Assert.StartsWith("unknown field; the fields here are ", message, StringComparison.Ordinal);
        Assert.Contains("max_attempts", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Broken_json_says_where_and_names_no_reader_option()
    {
        var error = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<TrainingJobSpec>("{\"name\":\"x\",\n}", StrataJson.Options));

        Assert.Null(JsonErrors.Describe(error, StrataJson.Options));
        var text = JsonErrors.Syntax(error);
        Assert.StartsWith("The body is not valid JSON (line 2, byte ", text, StringComparison.Ordinal);
        Assert.DoesNotContain("mode", text, StringComparison.Ordinal);
        Assert.DoesNotContain("reader options", text, StringComparison.Ordinal);
    }
}
