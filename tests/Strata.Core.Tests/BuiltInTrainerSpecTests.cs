using System.Text.Json;
using Strata.Contracts;
using Strata.Core.Jobs;
using Strata.Core.Runtime;
using Strata.Core.Training;

namespace Strata.Core.Tests;

public sealed class BuiltInTrainerSpecTests
{
    private static readonly PathPolicy Paths = new("/srv/strata/artifacts/team-a", ["/data"]);
    private static readonly RuntimeCapacity Capacity = new(ResourceRequest.FromGb(64, 256, 0), MaxWorkersPerJob: 1);

    private static (ValidatedSpec? Result, IReadOnlyDictionary<string, string[]> Errors) Validate(string json)
    {
        var spec = JsonSerializer.Deserialize<TrainingJobSpec>(json, StrataJson.Options)!;
        JobSpecValidator.TryValidate(spec, "team-a", new JobDefaults { CpuCores = 1, MemoryGb = 2 }, Paths, "/srv/strata/artifacts/team-a/out", Capacity, out var result, out var errors);
        return (result, errors.ToDictionary());
    }

    [Fact]
    public void A_built_in_trainer_job_keeps_no_entrypoint_the_server_builds_its_command()
    {
        var (result, errors) = Validate("""{"name":"churn","model":"lightgbm","label":"churned","data_path":"/data/churn.csv","hyperparameters":{"num_leaves":15,"learning-rate":"0.05"}}""");

        Assert.Empty(errors);
        Assert.Null(result!.Spec.Entrypoint);
        Assert.Equal("lightgbm", result.Spec.Model);
    }

    [Theory]
    [InlineData("""{"name":"j","model":"lightgbm","data_path":"/data/c.csv"}""", "label", "is required with model")]
    [InlineData("""{"name":"j","model":"lightgbm","label":"y"}""", "data_path", "is required with model")]
    [InlineData("""{"name":"j","model":"xgboost","label":"y","data_path":"/data/c.csv"}""", "model", "'xgboost' is not a built-in trainer; use one of lightgbm, fasttree, logistic_regression, linear_regression")]
    [InlineData("""{"name":"j","model":"lightgbm","label":"y","data_path":"/data/c.csv","entrypoint":"python x.py"}""", "entrypoint", "must be omitted with model")]
    [InlineData("""{"name":"j","model":"linear_regression","label":"y","data_path":"/data/c.csv","task":"binary"}""", "task", "linear_regression does not learn binary tasks; it learns regression")]
    [InlineData("""{"name":"j","model":"fasttree","label":"y","data_path":"/data/c.csv","task":"multiclass"}""", "task", "fasttree does not learn multiclass tasks")]
    [InlineData("""{"name":"j","model":"lightgbm","label":"y","data_path":"/data/c.csv","task":"clustering"}""", "task", "must be one of binary, multiclass, regression")]
    [InlineData("""{"name":"j","task":"binary"}""", "task", "is only allowed with model")]
    [InlineData("""{"name":"j","model":"lightgbm","label":"y","data_path":"/data/c.csv","hyperparameters":{"num_leaves":1}}""", "hyperparameters.num_leaves", "must be 2 to 131072 (leaves per tree)")]
    [InlineData("""{"name":"j","model":"lightgbm","label":"y","data_path":"/data/c.csv","hyperparameters":{"learning_rate":"fast"}}""", "hyperparameters.learning_rate", "must be a number, not 'fast'")]
    [InlineData("""{"name":"j","model":"lightgbm","label":"y","data_path":"/data/c.csv","hyperparameters":{"num_iterations":10.5}}""", "hyperparameters.num_iterations", "must be a whole number, not 10.5")]
    [InlineData("""{"name":"j","model":"fasttree","label":"y","data_path":"/data/c.csv","hyperparameters":{"max_bin":10}}""", "hyperparameters.max_bin", "fasttree has no hyperparameter 'max_bin'")]
    [InlineData("""{"name":"j","model":"lightgbm","label":"y","data_path":"/data/c.csv","hyperparameters":{"num_trees":10,"num_iterations":20}}""", "hyperparameters.num_iterations", "sets num_iterations, as 'num_trees' does")]
    [InlineData("""{"name":"j","model":"lightgbm","label":"y","data_path":"/data/c.csv","distributed":{"num_workers":2}}""", "distributed", "is not supported by the built-in trainers")]
    public void A_bad_built_in_trainer_job_is_refused_naming_the_field(string json, string field, string message)
    {
        var (_, errors) = Validate(json);

        Assert.True(errors.ContainsKey(field), $"no error for {field}: {string.Join(", ", errors.Keys)}");
        Assert.Contains(errors[field], m => m.Contains(message, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("num_leaves")]
    [InlineData("NUM_LEAVES")]
    [InlineData("num-leaves")]
    public void Hyperparameter_names_match_as_their_environment_variables_do(string name)
    {
        var errors = new ValidationErrors();

        var settings = BuiltInTrainers.Validate("lightgbm", null, new Dictionary<string, string> { [name] = "63" }, errors);

        Assert.True(errors.IsEmpty);
        Assert.Equal(63, settings!.GetInt32("num_leaves"));
        Assert.Equal(0.1, settings["learning_rate"]);
    }

    [Fact]
    public void Aliases_set_the_same_hyperparameter()
    {
        var settings = BuiltInTrainers.Validate("lightgbm", null, new Dictionary<string, string> { ["num_trees"] = "250", ["l2"] = "1.5" }, new ValidationErrors());

        Assert.Equal(250, settings!.GetInt32("num_iterations"));
        Assert.Equal(1.5, settings["l2_regularization"]);
    }

    [Fact]
    public void The_trainer_command_quotes_every_word_for_the_shell()
    {
        var spec = new TrainingJobSpec { Model = "lightgbm", Label = "it's churned", Task = "binary" };

        var command = TrainerCommand.Build(["dotnet", "/opt/strata/strata-worker.dll"], spec);

        Assert.Equal("'dotnet' '/opt/strata/strata-worker.dll' 'train' '--model' 'lightgbm' '--label' 'it'\\''s churned' '--task' 'binary'", command);
    }
}
