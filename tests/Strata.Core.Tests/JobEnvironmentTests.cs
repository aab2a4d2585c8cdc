using System.Text.Json;
using Strata.Contracts;
using Strata.Core.Jobs;
using Strata.Core.Runtime;

namespace Strata.Core.Tests;

public sealed class JobEnvironmentTests
{
    private const string Checkpoints = "/srv/strata/checkpoints/job-1";

    private static TrainingJobSpec Normalized(string json)
    {
        var spec = JsonSerializer.Deserialize<TrainingJobSpec>(json, StrataJson.Options)!;
        var capacity = new RuntimeCapacity(ResourceRequest.FromGb(1000, 1000, 0), MaxWorkersPerJob: 64);
        Assert.True(JobSpecValidator.TryValidate(spec, "team-a", new JobDefaults { CpuCores = 1, MemoryGb = 1 },
            new PathPolicy("/srv/strata/artifacts/team-a", ["/data"]), "/srv/strata/artifacts/team-a/jobs/job-1/output",
            capacity, out var result, out _));
        return result!.Spec;
    }

    private static Dictionary<string, string> Build(TrainingJobSpec spec) =>
        JobEnvironment.Build(spec, "job-1", 2, "http://127.0.0.1:8080", "job-token", Checkpoints);

    [Fact]
    public void A_job_sees_exactly_the_contracts_variables()
    {
        var env = Build(Normalized("""
            {"name":"train","data_path":"/data/iris","env_vars":{"MY_FLAG":"on"},
             "hyperparameters":{"learning-rate":0.001,"optimizer":"adam"}}
            """));

        var expected = new Dictionary<string, string>
        {
            ["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            ["LANG"] = "C.UTF-8",
            ["HOME"] = Checkpoints,
            ["PYTHONUNBUFFERED"] = "1",
            ["MY_FLAG"] = "on",
            ["HYPERPARAM_LEARNING_RATE"] = "0.001",
            ["HYPERPARAM_OPTIMIZER"] = "adam",
            ["DATA_PATH"] = "/data/iris",
            ["MODEL_OUTPUT_PATH"] = "/srv/strata/artifacts/team-a/jobs/job-1/output",
            ["STRATA_JOB_ID"] = "job-1",
            ["STRATA_JOB_NAME"] = "train",
            ["STRATA_TENANT_ID"] = "team-a",
            ["STRATA_ATTEMPT"] = "2",
            ["STRATA_API_URL"] = "http://127.0.0.1:8080",
            ["STRATA_JOB_TOKEN"] = "job-token",
            ["STRATA_CHECKPOINT_DIR"] = Checkpoints,
        };
        Assert.Equal(expected.OrderBy(e => e.Key, StringComparer.Ordinal), env.OrderBy(e => e.Key, StringComparer.Ordinal));
    }

    [Fact]
    public void Nothing_of_the_servers_own_environment_leaks_in()
    {
        Environment.SetEnvironmentVariable("STRATA_TEST_SECRET", "leaked");
        try
        {
            var env = Build(Normalized("""{"name":"train"}"""));
            Assert.DoesNotContain("STRATA_TEST_SECRET", env.Keys);
            Assert.DoesNotContain("leaked", env.Values);
        }
        finally
        {
            Environment.SetEnvironmentVariable("STRATA_TEST_SECRET", null);
        }
    }

    [Fact]
    public void Without_a_data_path_there_is_no_DATA_PATH()
    {
        var env = Build(Normalized("""{"name":"train"}"""));

        Assert.DoesNotContain("DATA_PATH", env.Keys);
        Assert.Equal("/srv/strata/artifacts/team-a/jobs/job-1/output", env["MODEL_OUTPUT_PATH"]);
    }

    [Theory]
    [InlineData("\"adam\"", "adam")]
    [InlineData("\"\"", "")]
    [InlineData("\"with \\\"quotes\\\"\"", "with \"quotes\"")]
    [InlineData("0.001", "0.001")]
    [InlineData("1e-3", "1e-3")]
    [InlineData("100", "100")]
    [InlineData("-2", "-2")]
    [InlineData("true", "true")]
    [InlineData("false", "false")]
    [InlineData("null", "")]
    public void A_string_hyperparameter_is_passed_as_it_is_and_others_as_json(string json, string expected)
    {
        using var document = JsonDocument.Parse(json);

        Assert.Equal(expected, JobEnvironment.FormatHyperparameter(document.RootElement));
        var env = Build(Normalized($$$"""{"name":"train","hyperparameters":{"value":{{{json}}}}}"""));
        Assert.Equal(expected, env["HYPERPARAM_VALUE"]);
    }

    [Fact]
    public void The_gang_variables_are_the_runtimes_to_add_under_torchruns_names()
    {
        var env = Build(Normalized("""{"name":"train","distributed":{"num_workers":4}}"""));
        Assert.All(GangEnvironment.Names, name => Assert.DoesNotContain(name, env.Keys));

        GangEnvironment.Add(env, new GangPlace(WorldSize: 4, Rank: 2, LocalRank: 2, LocalWorldSize: 4, NodeRank: 0), "127.0.0.1", 1234);
        Assert.Equal("4", env["WORLD_SIZE"]);
        Assert.Equal("2", env["RANK"]);
        Assert.Equal("2", env["LOCAL_RANK"]);
        Assert.Equal("4", env["LOCAL_WORLD_SIZE"]);
        Assert.Equal("0", env["NODE_RANK"]);
        Assert.Equal("127.0.0.1", env["MASTER_ADDR"]);
        Assert.Equal("1234", env["MASTER_PORT"]);
    }

    [Theory]
    [InlineData("STRATA_JOB_ID")]
    [InlineData("STRATA_JOB_TOKEN")]
    [InlineData("STRATA_API_URL")]
    [InlineData("STRATA_CHECKPOINT_DIR")]
    [InlineData("DATA_PATH")]
    [InlineData("MODEL_OUTPUT_PATH")]
    [InlineData("HYPERPARAM_LR")]
    [InlineData("RANK")]
    [InlineData("WORLD_SIZE")]
    [InlineData("LOCAL_WORLD_SIZE")]
    [InlineData("NODE_RANK")]
    public void Env_vars_cannot_override_a_platform_variable_because_the_validator_refuses_them(string name)
    {
        var spec = new TrainingJobSpec { Name = "train", EnvVars = new() { [name] = "evil" } };

        Assert.False(JobSpecValidator.TryValidate(spec, "team-a", new JobDefaults { CpuCores = 1, MemoryGb = 1 },
            new PathPolicy("/srv/strata/artifacts/team-a", []), "/srv/strata/artifacts/team-a/out",
            new RuntimeCapacity(ResourceRequest.FromGb(8, 8, 0), 1), out _, out var errors));
        Assert.Equal([$"env_vars.{name}"], errors.ToDictionary().Keys);
    }

    [Fact]
    public void Even_unvalidated_env_vars_lose_to_the_platforms_own_values()
    {
        var spec = Normalized("""{"name":"train","data_path":"/data/x","hyperparameters":{"lr":0.1}}""") with
        {
            EnvVars = new() { ["STRATA_JOB_ID"] = "evil", ["STRATA_JOB_TOKEN"] = "evil", ["DATA_PATH"] = "evil", ["HYPERPARAM_LR"] = "evil" },
        };

        var env = Build(spec);

        Assert.Equal("job-1", env["STRATA_JOB_ID"]);
        Assert.Equal("job-token", env["STRATA_JOB_TOKEN"]);
        Assert.Equal("/data/x", env["DATA_PATH"]);
        Assert.Equal("0.1", env["HYPERPARAM_LR"]);
    }
}
