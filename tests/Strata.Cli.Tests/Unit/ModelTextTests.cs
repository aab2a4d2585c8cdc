using Strata.Cli.Commands;
using Strata.Contracts;

namespace Strata.Cli.Tests.Unit;

/// <summary>How the model commands read a model reference and print the numbers a model carries.</summary>
public sealed class ModelTextTests
{
    [Theory]
    // A float32 widened to double prints as the float was written.
    [InlineData(-3.4718000888824463, "-3.4718")]
    [InlineData(0.949999988079071, "0.95")]
    // A double that no float equals prints whole: it was computed in double.
    [InlineData(0.8571428571428571, "0.8571428571428571")]
    [InlineData(0.1, "0.1")]
    [InlineData(15.0, "15")]
    [InlineData(0.0, "0")]
    public void A_number_prints_in_the_shortest_form_of_what_it_was(double value, string expected) =>
        Assert.Equal(expected, NumberText.Format(value));

    [Fact]
    public void A_float_becomes_the_double_it_was_written_as() =>
        Assert.Equal(-3.4718, NumberText.FromFloat(-3.4718f));

    [Theory]
    [InlineData("churn", "churn", null)]
    [InlineData("churn@production", "churn", "production")]
    [InlineData("churn@3", "churn", "3")]
    [InlineData("churn:3", "churn", "3")]
    public void A_model_reference_names_the_model_and_maybe_a_version(string reference, string name, string? version) =>
        Assert.Equal((name, version), ModelCommands.ParseReference(reference));

    [Theory]
    [InlineData("@3")]
    [InlineData("churn@")]
    [InlineData("churn:")]
    [InlineData("churn@production:3")]
    public void A_malformed_model_reference_is_a_usage_error(string reference) =>
        Assert.Throws<UsageException>(() => ModelCommands.ParseReference(reference));
}
