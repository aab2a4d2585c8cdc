using System.Text.Json;
using Strata.Contracts;
using Strata.Core.Jobs;
using Strata.Core.Runtime;

namespace Strata.Core.Tests;

public sealed class JobSpecValidatorTests
{
    private const string Tenant = "team-a";
    private const string TenantArea = "/srv/strata/artifacts/team-a";
    private const string DefaultOutput = TenantArea + "/jobs/job-1/output";

    private static readonly JobDefaults Defaults = new() { CpuCores = 1, MemoryGb = 2 };
    private static readonly PathPolicy Paths = new(TenantArea, ["/data"]);
    /// <summary>So large that only the field rules can refuse a spec.</summary>
    private static readonly RuntimeCapacity Unlimited = new(ResourceRequest.FromGb(10_000, 100_000, 1_000), MaxWorkersPerJob: 64);

    private static TrainingJobSpec Spec(string json) =>
        JsonSerializer.Deserialize<TrainingJobSpec>(json, StrataJson.Options)!;

    private static (ValidatedSpec? Result, IReadOnlyDictionary<string, string[]> Errors) Validate(
        string json, RuntimeCapacity? capacity = null, JobDefaults? defaults = null)
    {
        var ok = JobSpecValidator.TryValidate(Spec(json), Tenant, defaults ?? Defaults, Paths, DefaultOutput, capacity ?? Unlimited, out var result, out var errors);
        var byField = errors.ToDictionary();
        Assert.Equal(ok, result is not null);
        Assert.Equal(ok, byField.Count == 0);
        return (result, byField);
    }

    private static string Text(int length, char c = 'a') => new(c, length);

    [Fact]
    public void Fills_in_every_default_of_a_minimal_spec()
    {
        var (result, _) = Validate("""{"name":"train"}""");

        var spec = result!.Spec;
        Assert.Equal("train", spec.Name);
        Assert.Equal(Tenant, spec.TenantId);
        Assert.Equal(JobDefaults.DefaultEntrypoint, spec.Entrypoint);
        Assert.Equal(new ComputeSpec { Type = ComputeTypes.Cpu, CpuCores = 1, MemoryGb = 2, MaxProcesses = 4096, DiskGb = 20 }, spec.Compute);
        Assert.Equal(new RetrySpec { MaxAttempts = JobDefaults.DefaultMaxAttempts, Backoff = JobDefaults.DefaultBackoffSeconds }, spec.Retry);
        Assert.Equal(0, spec.Priority);
        Assert.Equal(DefaultOutput, spec.ModelOutputPath);
        Assert.Null(spec.DataPath);
        Assert.Null(spec.Distributed);
        Assert.Null(spec.TimeoutSeconds);
        Assert.Empty(spec.Hyperparameters!);
        Assert.Empty(spec.EnvVars!);
        Assert.Equal(ResourceRequest.FromGb(1, 2, 0), result.PerWorker);
        Assert.Equal(1, result.Workers);
        Assert.Equal(result.PerWorker, result.Total);
    }

    [Fact]
    public void Takes_the_configured_defaults_not_the_built_in_ones()
    {
        var defaults = new JobDefaults { CpuCores = 3, MemoryGb = 5, Entrypoint = "python main.py", MaxAttempts = 7, BackoffSeconds = 30 };

        var (result, _) = Validate("""{"name":"train"}""", defaults: defaults);

        Assert.Equal("python main.py", result!.Spec.Entrypoint);
        Assert.Equal(3, result.Spec.Compute!.CpuCores);
        Assert.Equal(5, result.Spec.Compute.MemoryGb);
        Assert.Equal(new RetrySpec { MaxAttempts = 7, Backoff = 30 }, result.Spec.Retry);
    }

    [Fact]
    public void Keeps_what_the_spec_gives_and_fills_only_what_it_omits()
    {
        var (result, _) = Validate("""
            {"name":"train","entrypoint":"python fit.py","compute":{"cpu_cores":4},"priority":7,
             "retry":{"max_attempts":2},"timeout_seconds":60,"tenant_id":"team-a"}
            """);

        var spec = result!.Spec;
        Assert.Equal("python fit.py", spec.Entrypoint);
        Assert.Equal(new ComputeSpec { Type = ComputeTypes.Cpu, CpuCores = 4, MemoryGb = 2, MaxProcesses = JobDefaults.DefaultMaxProcesses, DiskGb = JobDefaults.DefaultDiskGb }, spec.Compute);
        Assert.Equal(7, spec.Priority);
        Assert.Equal(new RetrySpec { MaxAttempts = 2, Backoff = JobDefaults.DefaultBackoffSeconds }, spec.Retry);
        Assert.Equal(60, spec.TimeoutSeconds);
        Assert.Equal(ResourceRequest.FromGb(4, 2, 0), result.PerWorker);
    }

    [Fact]
    public void Keeps_the_process_and_disk_limits_the_spec_gives()
    {
        var (result, _) = Validate("""{"name":"train","compute":{"max_processes":64,"disk_gb":0.5}}""");

        Assert.Equal(64, result!.Spec.Compute!.MaxProcesses);
        Assert.Equal(0.5, result.Spec.Compute.DiskGb);
    }

    [Fact]
    public void The_tenant_is_always_the_callers()
    {
        var (result, _) = Validate("""{"name":"train"}""");
        Assert.Equal(Tenant, result!.Spec.TenantId);
    }

    [Theory]
    [InlineData("""{"compute":{"type":"gpu"}}""", 1)]
    [InlineData("""{"compute":{"gpu_count":2}}""", 2)]
    [InlineData("""{"compute":{"type":"gpu","gpu_count":8,"gpu_type":"nvidia-a100"}}""", 8)]
    public void A_gpu_job_asks_for_one_gpu_unless_it_says_more_and_gpu_count_implies_type_gpu(string compute, int gpus)
    {
        var (result, _) = Validate("""{"name":"train",""" + compute[1..]);

        Assert.Equal(ComputeTypes.Gpu, result!.Spec.Compute!.Type);
        Assert.Equal(gpus, result.Spec.Compute.GpuCount);
        Assert.Equal(gpus, result.PerWorker.Gpus);
    }

    [Fact]
    public void A_relative_output_path_is_resolved_inside_the_tenants_area()
    {
        var (result, _) = Validate("""{"name":"train","model_output_path":"models/v1","data_path":"/data/imagenet"}""");

        Assert.Equal(TenantArea + "/models/v1", result!.Spec.ModelOutputPath);
        Assert.Equal("/data/imagenet", result.Spec.DataPath);
    }

    [Fact]
    public void A_distributed_job_asks_for_its_compute_once_per_worker()
    {
        var (result, _) = Validate("""{"name":"train","compute":{"cpu_cores":2,"memory_gb":3},"distributed":{"num_workers":4}}""");

        Assert.Equal(4, result!.Workers);
        Assert.Equal(new DistributedSpec { NumWorkers = 4 }, result.Spec.Distributed);
        Assert.Equal(ResourceRequest.FromGb(2, 3, 0), result.PerWorker);
        Assert.Equal(ResourceRequest.FromGb(8, 12, 0), result.Total);
    }

    /// <summary>Rows of a spec (merged into <c>{"name":"train"}</c> unless it names itself) and the one field refused.</summary>
    public static TheoryData<string, string> InvalidSpecs => new()
    {
        // name
        { """{"name":null}""", "name" },
        { """{"name":""}""", "name" },
        { """{"name":"Train"}""", "name" },
        { """{"name":"-train"}""", "name" },
        { """{"name":"train-"}""", "name" },
        { """{"name":"tr_ain"}""", "name" },
        { """{"name":"tr.ain"}""", "name" },
        { $$$"""{"name":"{{{Text(64)}}}"}""", "name" },
        // lengths and emptiness of free-text fields
        { """{"entrypoint":""}""", "entrypoint" },
        { """{"entrypoint":"   "}""", "entrypoint" },
        { $$$"""{"entrypoint":"{{{Text(JobLimits.EntrypointLength + 1)}}}"}""", "entrypoint" },
        { """{"entrypoint":"python\u0000train.py"}""", "entrypoint" },
        { $$$"""{"docker_image":"{{{Text(JobLimits.ImageLength + 1)}}}"}""", "docker_image" },
        { """{"docker_image":""}""", "docker_image" },
        { $$$"""{"code_repo":"{{{Text(JobLimits.PathLength + 1)}}}"}""", "code_repo" },
        { $$$"""{"code_repo":"https://git.example/r","code_commit":"{{{Text(JobLimits.CodeCommitLength + 1)}}}"}""", "code_commit" },
        { """{"code_commit":"abc123"}""", "code_commit" },
        { $$$"""{"model":"{{{Text(JobLimits.ModelLength + 1)}}}"}""", "model" },
        { $$$"""{"label":"{{{Text(JobLimits.LabelLength + 1)}}}"}""", "label" },
        { """{"tenant_id":""}""", "tenant_id" },
        // paths
        { """{"data_path":"../team-b/data"}""", "data_path" },
        { """{"data_path":"/etc/shadow"}""", "data_path" },
        { """{"data_path":"file:///etc/shadow"}""", "data_path" },
        { """{"model_output_path":"/srv/strata/artifacts/team-b/out"}""", "model_output_path" },
        { """{"model_output_path":"s3://bucket/../other"}""", "model_output_path" },
        // compute
        { """{"compute":{"type":"fpga"}}""", "compute.type" },
        { """{"compute":{"type":"CPU"}}""", "compute.type" },
        { """{"compute":{"cpu_cores":0}}""", "compute.cpu_cores" },
        { """{"compute":{"cpu_cores":97}}""", "compute.cpu_cores" },
        { """{"compute":{"memory_gb":0}}""", "compute.memory_gb" },
        { """{"compute":{"memory_gb":769}}""", "compute.memory_gb" },
        { """{"compute":{"type":"gpu","gpu_count":0}}""", "compute.gpu_count" },
        { """{"compute":{"type":"gpu","gpu_count":9}}""", "compute.gpu_count" },
        { """{"compute":{"type":"cpu","gpu_count":1}}""", "compute.gpu_count" },
        { """{"compute":{"gpu_count":0}}""", "compute.gpu_count" },
        { """{"compute":{"type":"tpu","gpu_count":1}}""", "compute.gpu_count" },
        { """{"compute":{"gpu_type":"nvidia-a100"}}""", "compute.gpu_type" },
        { """{"compute":{"type":"gpu","gpu_type":"NVIDIA_A100"}}""", "compute.gpu_type" },
        { """{"compute":{"max_processes":0}}""", "compute.max_processes" },
        { """{"compute":{"max_processes":65537}}""", "compute.max_processes" },
        { """{"compute":{"disk_gb":0}}""", "compute.disk_gb" },
        { """{"compute":{"disk_gb":-1}}""", "compute.disk_gb" },
        { """{"compute":{"disk_gb":10240.5}}""", "compute.disk_gb" },
        // distributed
        { """{"distributed":{}}""", "distributed.num_workers" },
        { """{"distributed":{"num_workers":0}}""", "distributed.num_workers" },
        { """{"distributed":{"num_workers":65}}""", "distributed.num_workers" },
        // priority, retry, time-out
        { """{"priority":-1001}""", "priority" },
        { """{"priority":1001}""", "priority" },
        { """{"retry":{"max_attempts":0}}""", "retry.max_attempts" },
        { """{"retry":{"max_attempts":11}}""", "retry.max_attempts" },
        { """{"retry":{"backoff":-1}}""", "retry.backoff" },
        { """{"retry":{"backoff":3601}}""", "retry.backoff" },
        { """{"retry":{"backoff_seconds":-1}}""", "retry.backoff_seconds" },
        { """{"retry":{"retry_on_exit_codes":[0]}}""", "retry.retry_on_exit_codes" },
        { """{"retry":{"retry_on_exit_codes":[256]}}""", "retry.retry_on_exit_codes" },
        { """{"retry":{"fail_on_exit_codes":[-1]}}""", "retry.fail_on_exit_codes" },
        { """{"retry":{"fail_on_exit_codes":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33]}}""", "retry.fail_on_exit_codes" },
        { """{"retry":{"on_timeout":"sometimes"}}""", "retry.on_timeout" },
        { """{"retry":{"memory_growth":0.5}}""", "retry.memory_growth" },
        { """{"retry":{"memory_growth":4.5}}""", "retry.memory_growth" },
        { """{"timeout_seconds":0}""", "timeout_seconds" },
        { """{"timeout_seconds":2592001}""", "timeout_seconds" },
        // environment variables: names, reserved names, values, count
        { """{"env_vars":{"1ABC":"x"}}""", "env_vars.1ABC" },
        { """{"env_vars":{"MY-VAR":"x"}}""", "env_vars.MY-VAR" },
        { """{"env_vars":{"":"x"}}""", "env_vars." },
        { $$$"""{"env_vars":{"{{{Text(JobLimits.EnvNameLength + 1, 'A')}}}":"x"}}""", $"env_vars.{Text(64, 'A')}…" },
        { """{"env_vars":{"STRATA_JOB_ID":"x"}}""", "env_vars.STRATA_JOB_ID" },
        { """{"env_vars":{"STRATA_JOB_TOKEN":"x"}}""", "env_vars.STRATA_JOB_TOKEN" },
        { """{"env_vars":{"STRATA_ANYTHING":"x"}}""", "env_vars.STRATA_ANYTHING" },
        { """{"env_vars":{"HYPERPARAM_LR":"x"}}""", "env_vars.HYPERPARAM_LR" },
        { """{"env_vars":{"DATA_PATH":"x"}}""", "env_vars.DATA_PATH" },
        { """{"env_vars":{"MODEL_OUTPUT_PATH":"x"}}""", "env_vars.MODEL_OUTPUT_PATH" },
        { """{"env_vars":{"MASTER_ADDR":"x"}}""", "env_vars.MASTER_ADDR" },
        { """{"env_vars":{"MASTER_PORT":"x"}}""", "env_vars.MASTER_PORT" },
        { """{"env_vars":{"WORLD_SIZE":"x"}}""", "env_vars.WORLD_SIZE" },
        { """{"env_vars":{"RANK":"x"}}""", "env_vars.RANK" },
        { """{"env_vars":{"LOCAL_RANK":"x"}}""", "env_vars.LOCAL_RANK" },
        { $$$"""{"env_vars":{"BIG":"{{{Text(JobLimits.EnvValueLength + 1)}}}"}}""", "env_vars.BIG" },
        { """{"env_vars":{"NUL":"a\u0000b"}}""", "env_vars.NUL" },
        { """{"env_vars":{"NOTHING":null}}""", "env_vars.NOTHING" },
        { ManyEnvVars(JobLimits.MaxEnvVars + 1), "env_vars" },
        // hyperparameters: names, values, count, collisions of the variables they become
        { """{"hyperparameters":{"1lr":1}}""", "hyperparameters.1lr" },
        { """{"hyperparameters":{"learning rate":1}}""", "hyperparameters.learning rate" },
        { """{"hyperparameters":{"":1}}""", "hyperparameters." },
        { $$$"""{"hyperparameters":{"{{{Text(JobLimits.HyperparameterNameLength + 1)}}}":1}}""", $"hyperparameters.{Text(64)}…" },
        { """{"hyperparameters":{"layers":[1,2]}}""", "hyperparameters.layers" },
        { """{"hyperparameters":{"optimizer":{"name":"adam"}}}""", "hyperparameters.optimizer" },
        { $$$"""{"hyperparameters":{"text":"{{{Text(JobLimits.HyperparameterValueLength + 1)}}}"}}""", "hyperparameters.text" },
        { ManyHyperparameters(JobLimits.MaxHyperparameters + 1), "hyperparameters" },
        { """{"hyperparameters":{"a-b":1,"a_b":2}}""", "hyperparameters.a_b" },
        { """{"hyperparameters":{"a.b":1,"a-b":2}}""", "hyperparameters.a-b" },
        { """{"hyperparameters":{"lr":1,"LR":2}}""", "hyperparameters.LR" },
        // text: no lone surrogate and no NUL anywhere, no control characters in a command line (issue 15)
        { """{"hyperparameters":{"lr":"\ud800"}}""", "hyperparameters.lr" },
        { """{"hyperparameters":{"lr":"a\udc00b"}}""", "hyperparameters.lr" },
        { """{"hyperparameters":{"lr":"a\u0000b"}}""", "hyperparameters.lr" },
        { """{"entrypoint":"python3 train.py\u001b[2J"}""", "entrypoint" },
        { """{"label":"churn\u0000"}""", "label" },
    };

    private static string ManyEnvVars(int count) =>
        """{"env_vars":{""" + string.Join(',', Enumerable.Range(0, count).Select(i => $"\"V{i}\":\"x\"")) + "}}";

    private static string ManyHyperparameters(int count) =>
        """{"hyperparameters":{""" + string.Join(',', Enumerable.Range(0, count).Select(i => $"\"h{i}\":{i}")) + "}}";

    private static string WithName(string json) =>
        json.StartsWith("{\"name\":", StringComparison.Ordinal) ? json : """{"name":"train",""" + json[1..];

    [Theory]
    [MemberData(nameof(InvalidSpecs))]
    public void Refuses_a_spec_that_breaks_a_rule_and_names_the_field(string json, string field)
    {
        var (result, errors) = Validate(WithName(json));

        Assert.Null(result);
        Assert.Equal([field], errors.Keys);
        Assert.All(errors[field], message => Assert.False(string.IsNullOrWhiteSpace(message)));
    }

    public static TheoryData<string> ValidSpecs => new()
    {
        $$$"""{"name":"{{{Text(63)}}}"}""",
        """{"name":"a"}""",
        """{"name":"0-train-9"}""",
        """{"compute":{"cpu_cores":1,"memory_gb":1}}""",
        """{"compute":{"cpu_cores":96,"memory_gb":768}}""",
        """{"compute":{"type":"gpu","gpu_count":1,"gpu_type":"nvidia-a100"}}""",
        """{"compute":{"type":"gpu","gpu_count":8}}""",
        """{"compute":{"type":"tpu"}}""",
        """{"compute":{"max_processes":1,"disk_gb":0.001}}""",
        """{"compute":{"max_processes":65536,"disk_gb":10240}}""",
        """{"priority":-1000}""",
        """{"priority":1000}""",
        """{"retry":{"max_attempts":1,"backoff":0}}""",
        """{"retry":{"max_attempts":10,"backoff":3600}}""",
        """{"retry":{"backoff_seconds":0,"retry_on_exit_codes":[75,255],"fail_on_exit_codes":[1],"on_timeout":"retry","memory_growth":1}}""",
        """{"retry":{"on_timeout":"fail","memory_growth":4}}""",
        """{"timeout_seconds":1}""",
        """{"timeout_seconds":2592000}""",
        """{"distributed":{"num_workers":1}}""",
        """{"distributed":{"num_workers":64}}""",
        """{"code_repo":"https://git.example/r","code_commit":"0123456789abcdef"}""",
        """{"env_vars":{"_PRIVATE":"x","MY_STRATA_FLAG":"1","strata_lower":"1","PATH":"/opt/bin:/usr/bin","EMPTY":""}}""",
        $$$"""{"env_vars":{"{{{Text(JobLimits.EnvNameLength, 'A')}}}":"{{{Text(JobLimits.EnvValueLength)}}}"}}""",
        ManyEnvVars(JobLimits.MaxEnvVars),
        """{"hyperparameters":{"learning-rate":0.001,"model.depth":6,"_seed":42,"use_gpu":true,"name":"resnet","none":null}}""",
        $$$"""{"hyperparameters":{"{{{Text(JobLimits.HyperparameterNameLength)}}}":"{{{Text(JobLimits.HyperparameterValueLength)}}}"}}""",
        ManyHyperparameters(JobLimits.MaxHyperparameters),
        """{"data_path":"s3://bucket/train","model_output_path":"gs://bucket/out"}""",
        """{"data_path":"/data","model_output_path":"/srv/strata/artifacts/team-a"}""",
    };

    [Theory]
    [MemberData(nameof(ValidSpecs))]
    public void Accepts_a_spec_at_the_edges_of_every_rule(string json)
    {
        var (result, errors) = Validate(WithName(json));

        Assert.Empty(errors);
        Assert.NotNull(result);
    }

    private static readonly string[] EveryFieldOfTheBadSpec =
        ["compute.cpu_cores", "compute.memory_gb", "data_path", "env_vars.STRATA_JOB_ID", "hyperparameters.a_b", "name", "priority", "retry.max_attempts", "timeout_seconds"];

    [Fact]
    public void Reports_every_error_at_once()
    {
        var (result, errors) = Validate("""
            {"name":"Bad_Name","compute":{"cpu_cores":0,"memory_gb":1000},"priority":5000,
             "retry":{"max_attempts":0},"timeout_seconds":-5,"data_path":"../x",
             "env_vars":{"STRATA_JOB_ID":"x"},"hyperparameters":{"a-b":1,"a_b":2}}
            """);

        Assert.Null(result);
        Assert.Equal(EveryFieldOfTheBadSpec, errors.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_collision_of_hyperparameters_names_the_other_one()
    {
        var (_, errors) = Validate("""{"name":"train","hyperparameters":{"learning-rate":1,"learning_rate":2}}""");

        var message = Assert.Single(errors["hyperparameters.learning_rate"]);
        Assert.Contains("HYPERPARAM_LEARNING_RATE", message, StringComparison.Ordinal);
        Assert.Contains("learning-rate", message, StringComparison.Ordinal);
    }

    private static readonly RuntimeCapacity Machine = new(ResourceRequest.FromGb(8, 32, 2), MaxWorkersPerJob: 4);

    [Theory]
    [InlineData("""{"name":"train","compute":{"cpu_cores":9}}""")]
    [InlineData("""{"name":"train","compute":{"memory_gb":33}}""")]
    [InlineData("""{"name":"train","compute":{"gpu_count":3}}""")]
    [InlineData("""{"name":"train","compute":{"cpu_cores":3},"distributed":{"num_workers":3}}""")]
    [InlineData("""{"name":"train","compute":{"memory_gb":9},"distributed":{"num_workers":4}}""")]
    public void A_job_bigger_than_the_whole_capacity_is_refused_on_compute(string json)
    {
        var (result, errors) = Validate(json, Machine);

        Assert.Null(result);
        var message = Assert.Single(Assert.Single(errors, e => e.Key == "compute").Value);
        Assert.Contains("could never start", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"name":"train","compute":{"cpu_cores":8,"memory_gb":32,"gpu_count":2}}""")]
    [InlineData("""{"name":"train","compute":{"cpu_cores":2,"memory_gb":8},"distributed":{"num_workers":4}}""")]
    public void A_job_as_big_as_the_whole_capacity_is_accepted(string json)
    {
        var (result, _) = Validate(json, Machine);

        Assert.NotNull(result);
    }

    [Fact]
    public void More_workers_than_the_runtime_runs_per_job_are_refused_on_distributed()
    {
        var (result, errors) = Validate("""{"name":"train","distributed":{"num_workers":5}}""", Machine);

        Assert.Null(result);
        var message = Assert.Single(Assert.Single(errors).Value);
        Assert.Equal("distributed.num_workers", errors.Keys.Single());
        Assert.Contains("at most 4 worker", message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_runtime_of_single_worker_jobs_refuses_a_distributed_job_of_two()
    {
        var local = new RuntimeCapacity(ResourceRequest.FromGb(64, 256, 0), MaxWorkersPerJob: 1);

        Assert.NotNull(Validate("""{"name":"train","distributed":{"num_workers":1}}""", local).Result);
        Assert.Equal(["distributed.num_workers"], Validate("""{"name":"train","distributed":{"num_workers":2}}""", local).Errors.Keys);
    }
}
