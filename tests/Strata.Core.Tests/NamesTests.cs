using Strata.Core.Jobs;

namespace Strata.Core.Tests;

public sealed class NamesTests
{
    [Theory]
    [InlineData("lr", "HYPERPARAM_LR")]
    [InlineData("learning-rate", "HYPERPARAM_LEARNING_RATE")]
    [InlineData("learning_rate", "HYPERPARAM_LEARNING_RATE")]
    [InlineData("model.max-depth", "HYPERPARAM_MODEL_MAX_DEPTH")]
    [InlineData("Batch_Size", "HYPERPARAM_BATCH_SIZE")]
    [InlineData("_seed", "HYPERPARAM__SEED")]
    [InlineData("n_estimators2", "HYPERPARAM_N_ESTIMATORS2")]
    public void A_hyperparameter_becomes_an_upper_case_variable_with_underscores(string name, string variable)
    {
        Assert.Equal(variable, Names.HyperparameterVariable(name));
    }

    [Theory]
    [InlineData("a", true)]
    [InlineData("train-1", true)]
    [InlineData("0abc", true)]
    [InlineData("", false)]
    [InlineData("-a", false)]
    [InlineData("a-", false)]
    [InlineData("A", false)]
    [InlineData("a_b", false)]
    [InlineData("a.b", false)]
    [InlineData("a b", false)]
    [InlineData("ä", false)]
    public void A_dns_label_is_lower_case_alphanumerics_and_inner_dashes(string value, bool valid)
    {
        Assert.Equal(valid, Names.IsDnsLabel(value));
    }

    [Fact]
    public void A_dns_label_has_at_most_the_given_length()
    {
        Assert.True(Names.IsDnsLabel(new string('a', 63)));
        Assert.False(Names.IsDnsLabel(new string('a', 64)));
        Assert.False(Names.IsDnsLabel("abcd", maxLength: 3));
    }

    [Theory]
    [InlineData("A", true)]
    [InlineData("_", true)]
    [InlineData("my_var_2", true)]
    [InlineData("2var", false)]
    [InlineData("my-var", false)]
    [InlineData("my.var", false)]
    [InlineData("", false)]
    [InlineData("MY VAR", false)]
    public void An_environment_variable_name_is_a_c_identifier(string value, bool valid)
    {
        Assert.Equal(valid, Names.IsEnvironmentName(value));
    }
}
