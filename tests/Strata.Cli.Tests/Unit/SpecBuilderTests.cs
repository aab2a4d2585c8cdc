using System.Text.Json;
using Strata.Cli.Tests.Support;
using Strata.Contracts;

namespace Strata.Cli.Tests.Unit;

public sealed class SpecBuilderTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private TrainingJobSpec Build(SubmitArguments args) => SpecBuilder.Build(args, _dir.Path);

    [Fact]
    public void Flags_fill_every_field_of_the_spec()
    {
        var spec = Build(new SubmitArguments
        {
            Name = "churn",
            Entrypoint = "python train.py --fast",
            Image = "python:3.12",
            Data = "s3://bucket/churn.csv",
            OutputPath = "models/churn",
            Cpu = 2,
            Memory = 4,
            Gpus = 1,
            GpuType = "nvidia-a100",
            Priority = 10,
            Timeout = "2h",
            MaxAttempts = 2,
            Workers = 4,
            Model = "lightgbm",
            Label = "churned",
        });

        Assert.Equal("churn", spec.Name);
        Assert.Equal("python train.py --fast", spec.Entrypoint);
        Assert.Equal("python:3.12", spec.DockerImage);
        Assert.Equal("s3://bucket/churn.csv", spec.DataPath);
        Assert.Equal("models/churn", spec.ModelOutputPath);
        Assert.Equal(new ComputeSpec { Type = "gpu", CpuCores = 2, MemoryGb = 4, GpuCount = 1, GpuType = "nvidia-a100" }, spec.Compute);
        Assert.Equal(10, spec.Priority);
        Assert.Equal(7200, spec.TimeoutSeconds);
        Assert.Equal(2, spec.Retry?.MaxAttempts);
        Assert.Equal(4, spec.Distributed?.NumWorkers);
        Assert.Equal("lightgbm", spec.Model);
        Assert.Equal("churned", spec.Label);
    }

    [Fact]
    public void Omitted_flags_leave_fields_null_so_the_server_applies_its_defaults()
    {
        var spec = Build(new SubmitArguments { Name = "minimal" });

        Assert.Null(spec.Compute);
        Assert.Null(spec.Entrypoint);
        Assert.Null(spec.Hyperparameters);
        Assert.Null(spec.EnvVars);
        Assert.Null(spec.Retry);
        Assert.Null(spec.TimeoutSeconds);
    }

    [Theory]
    [InlineData("lr=0.01", "lr", JsonValueKind.Number, "0.01")]
    [InlineData("epochs=10", "epochs", JsonValueKind.Number, "10")]
    [InlineData("neg=-3", "neg", JsonValueKind.Number, "-3")]
    [InlineData("big=1e-5", "big", JsonValueKind.Number, "1e-5")]
    [InlineData("shuffle=true", "shuffle", JsonValueKind.True, "true")]
    [InlineData("shuffle=false", "shuffle", JsonValueKind.False, "false")]
    [InlineData("optimizer=adam", "optimizer", JsonValueKind.String, "\"adam\"")]
    [InlineData("version=01", "version", JsonValueKind.String, "\"01\"")]
    [InlineData("flag=True", "flag", JsonValueKind.String, "\"True\"")]
    [InlineData("empty=", "empty", JsonValueKind.String, "\"\"")]
    [InlineData("expr=a=b", "expr", JsonValueKind.String, "\"a=b\"")]
    [InlineData("nan=NaN", "nan", JsonValueKind.String, "\"NaN\"")]
    public void Hyperparameters_that_parse_as_JSON_numbers_or_booleans_keep_their_type(string flag, string key, JsonValueKind kind, string json)
    {
        var spec = Build(new SubmitArguments { Name = "hp", Hyperparameters = [flag] });

        var value = spec.Hyperparameters![key];
        Assert.Equal(kind, value.ValueKind);
        Assert.Equal(json, value.GetRawText());
    }

    [Fact]
    public void Environment_variables_split_at_the_first_equals_sign()
    {
        var spec = Build(new SubmitArguments { Name = "env", Env = ["A=1", "URL=http://x/?a=b", "EMPTY="] });

        Assert.Equal(new Dictionary<string, string> { ["A"] = "1", ["URL"] = "http://x/?a=b", ["EMPTY"] = "" }, spec.EnvVars);
    }

    [Theory]
    [InlineData("NOEQUALS")]
    [InlineData("=value")]
    [InlineData("1BAD=x")]
    [InlineData("BAD-NAME=x")]
    public void A_malformed_env_entry_is_a_usage_error(string entry)
    {
        var e = Assert.Throws<UsageException>(() => Build(new SubmitArguments { Name = "env", Env = [entry] }));
        Assert.Contains("--env", e.Message);
    }

    [Theory]
    [InlineData("novalue")]
    [InlineData("=1")]
    public void A_malformed_hyperparameter_is_a_usage_error(string entry)
    {
        var e = Assert.Throws<UsageException>(() => Build(new SubmitArguments { Name = "hp", Hyperparameters = [entry] }));
        Assert.Contains("--hyperparameter", e.Message);
    }

    [Fact]
    public void A_job_without_a_name_in_flags_or_file_is_a_usage_error()
    {
        var e = Assert.Throws<UsageException>(() => Build(new SubmitArguments { Entrypoint = "echo hi" }));
        Assert.Contains("--name", e.Message);
    }

    [Fact]
    public void A_JSON_spec_file_is_read_with_the_APIs_snake_case_names()
    {
        var file = _dir.File("spec.json", """
            {
              "name": "from-json",
              "entrypoint": "python train.py",
              "compute": { "cpu_cores": 2, "memory_gb": 3 },
              "hyperparameters": { "lr": 0.1, "optimizer": "sgd" },
              "env_vars": { "MODE": "fast" },
              "retry": { "max_attempts": 2, "backoff": 5 },
              "timeout_seconds": 60
            }
            """);

        var spec = Build(new SubmitArguments { File = file });

        Assert.Equal("from-json", spec.Name);
        Assert.Equal(2, spec.Compute?.CpuCores);
        Assert.Equal(3, spec.Compute?.MemoryGb);
        Assert.Equal(JsonValueKind.Number, spec.Hyperparameters!["lr"].ValueKind);
        Assert.Equal("fast", spec.EnvVars!["MODE"]);
        Assert.Equal(new RetrySpec { MaxAttempts = 2, Backoff = 5 }, spec.Retry);
        Assert.Equal(60, spec.TimeoutSeconds);
    }

    [Fact]
    public void A_YAML_spec_file_reads_like_the_JSON_one()
    {
        var file = _dir.File("spec.yaml", """
            name: from-yaml
            entrypoint: python train.py --epochs 3
            compute:
              cpu_cores: 2
              memory_gb: 3
            hyperparameters:
              lr: 0.1
              epochs: 3
              shuffle: true
              optimizer: adam
              quoted: "42"
            env_vars:
              MODE: fast
              PORT: "8080"
            priority: -5
            """);

        var spec = Build(new SubmitArguments { File = file });

        Assert.Equal("from-yaml", spec.Name);
        Assert.Equal("python train.py --epochs 3", spec.Entrypoint);
        Assert.Equal(2, spec.Compute?.CpuCores);
        Assert.Equal(-5, spec.Priority);
        Assert.Equal("0.1", spec.Hyperparameters!["lr"].GetRawText());
        Assert.Equal(JsonValueKind.True, spec.Hyperparameters["shuffle"].ValueKind);
        Assert.Equal("adam", spec.Hyperparameters["optimizer"].GetString());
        Assert.Equal("42", spec.Hyperparameters["quoted"].GetString());
        Assert.Equal("8080", spec.EnvVars!["PORT"]);
    }

    [Fact]
    public void Flags_override_the_files_values_and_merge_into_its_maps()
    {
        var file = _dir.File("spec.yml", """
            name: from-file
            entrypoint: python a.py
            compute: { cpu_cores: 8, memory_gb: 16 }
            hyperparameters: { lr: 0.1, epochs: 3 }
            env_vars: { A: file, B: file }
            retry: { max_attempts: 3, backoff: 7 }
            """);

        var spec = Build(new SubmitArguments
        {
            File = file,
            Name = "from-flag",
            Cpu = 2,
            MaxAttempts = 1,
            Hyperparameters = ["lr=0.5"],
            Env = ["B=flag", "C=flag"],
        });

        Assert.Equal("from-flag", spec.Name);
        Assert.Equal("python a.py", spec.Entrypoint);
        Assert.Equal(2, spec.Compute?.CpuCores);
        Assert.Equal(16, spec.Compute?.MemoryGb);
        Assert.Equal(new RetrySpec { MaxAttempts = 1, Backoff = 7 }, spec.Retry);
        Assert.Equal("0.5", spec.Hyperparameters!["lr"].GetRawText());
        Assert.Equal("3", spec.Hyperparameters["epochs"].GetRawText());
        Assert.Equal(new Dictionary<string, string> { ["A"] = "file", ["B"] = "flag", ["C"] = "flag" }, spec.EnvVars);
    }

    [Fact]
    public void A_yaml_spec_names_its_python_environment_as_a_file_or_a_list()
    {
        var file = _dir.File("env.yaml", """
            name: with-env
            environment:
              requirements: [pandas==2.2.2, scikit-learn]
              system_site_packages: true
            """);

        var environment = Build(new SubmitArguments { File = file }).Environment!;

        Assert.Equal("""["pandas==2.2.2","scikit-learn"]""", environment.Requirements!.Value.GetRawText());
        Assert.True(environment.SystemSitePackages);
    }

    [Theory]
    [InlineData("spec.json", """{"name": "x", "cpu": 4}""")]
    [InlineData("spec.yaml", "name: x\ncpu: 4\n")]
    public void An_unknown_key_in_a_spec_file_is_a_usage_error(string fileName, string content)
    {
        var file = _dir.File(fileName, content);

        var e = Assert.Throws<UsageException>(() => Build(new SubmitArguments { File = file }));
        Assert.Contains("cpu", e.Message);
    }

    [Fact]
    public void Every_error_of_a_yaml_spec_is_reported_at_once_with_its_line_and_field_and_no_dotnet_type()
    {
        var file = _dir.File("job.yaml", """
            name: train
            compute:
              memroy_gb: 2
              cpu_cores: lots
            distributed:
              num_workers: 2.5
            env_vars:
              A: [1]
            retry:
              backofff_seconds: 2
            """);

        var e = Assert.Throws<UsageException>(() => Build(new SubmitArguments { File = file }));

        Assert.Equal(
            [
                "line 3, column 3: compute.memroy_gb: unknown field; did you mean memory_gb?",
                "line 4, column 3: compute.cpu_cores: must be a whole number",
                "line 6, column 3: distributed.num_workers: must be a whole number",
                "line 8, column 3: env_vars.A: must be text",
                "line 10, column 3: retry.backofff_seconds: unknown field; did you mean backoff_seconds?",
            ],
            e.Message.Split('\n').Skip(1).Select(l => l.Trim()));
        Assert.DoesNotContain("System.", e.Message);
        Assert.DoesNotContain(".NET", e.Message);
    }

    [Fact]
    public void A_json_spec_names_the_field_and_what_it_must_be()
    {
        var file = _dir.File("spec.json", """{"name": "x", "priority": "high", "compute": {"gpu_count": 1.5}}""");

        var e = Assert.Throws<UsageException>(() => Build(new SubmitArguments { File = file }));

        Assert.Contains("priority: must be a whole number", e.Message);
        Assert.Contains("compute.gpu_count: must be a whole number", e.Message);
        Assert.DoesNotContain("System.", e.Message);
    }

    [Theory]
    [InlineData("spec.json", "{ not json")]
    [InlineData("spec.yaml", "name: [unclosed\n")]
    [InlineData("spec.json", """{"name": "x", "priority": "high"}""")]
    public void A_malformed_spec_file_is_a_usage_error_naming_the_file(string fileName, string content)
    {
        var file = _dir.File(fileName, content);

        var e = Assert.Throws<UsageException>(() => Build(new SubmitArguments { File = file }));
        Assert.Contains(file, e.Message);
    }

    [Fact]
    public void A_missing_spec_file_is_a_usage_error()
    {
        var e = Assert.Throws<UsageException>(() => Build(new SubmitArguments { File = "nope.yaml" }));
        Assert.Contains("nope.yaml", e.Message);
    }

    [Fact]
    public void A_local_data_path_that_exists_is_made_absolute()
    {
        _dir.File("churn.csv", "a,b\n1,2\n");

        var spec = Build(new SubmitArguments { Name = "d", Data = "churn.csv" });

        Assert.Equal(Path.Combine(_dir.Path, "churn.csv"), spec.DataPath);
    }

    [Theory]
    [InlineData("missing.csv")]
    [InlineData("s3://bucket/data.csv")]
    public void A_data_path_that_is_not_local_is_sent_as_written(string data)
    {
        var spec = Build(new SubmitArguments { Name = "d", Data = data });

        Assert.Equal(data, spec.DataPath);
    }

    [Fact]
    public void A_relative_data_path_in_a_spec_file_is_resolved_against_the_files_folder()
    {
        var sub = Directory.CreateDirectory(Path.Combine(_dir.Path, "project")).FullName;
        File.WriteAllText(Path.Combine(sub, "train.csv"), "x\n");
        File.WriteAllText(Path.Combine(sub, "spec.yaml"), "name: d\ndata_path: train.csv\n");

        var spec = Build(new SubmitArguments { File = "project/spec.yaml" });

        Assert.Equal(Path.Combine(sub, "train.csv"), spec.DataPath);
    }

    [Theory]
    [InlineData("3600", 3600)]
    [InlineData("90s", 90)]
    [InlineData("30m", 1800)]
    [InlineData("2h", 7200)]
    [InlineData("1d", 86400)]
    [InlineData("1h30m", 5400)]
    public void Durations_accept_seconds_and_units(string text, int seconds) =>
        Assert.Equal(seconds, SpecBuilder.ParseDurationSeconds(text, "--timeout"));

    [Theory]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("ten")]
    [InlineData("5w")]
    [InlineData("-1")]
    [InlineData("99999999999")]
    public void Bad_durations_are_usage_errors(string text) =>
        Assert.Throws<UsageException>(() => SpecBuilder.ParseDurationSeconds(text, "--timeout"));
}
