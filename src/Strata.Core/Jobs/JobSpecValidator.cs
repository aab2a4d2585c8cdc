using System.Text.Json;
using Strata.Contracts;
using Strata.Core.Attempts;
using Strata.Core.Runtime;
using Strata.Core.Text;
using Strata.Core.Training;

namespace Strata.Core.Jobs;

/// <summary>The outcome of validating a spec: the spec with every default filled in, or every error.</summary>
public sealed record ValidatedSpec(TrainingJobSpec Spec, ResourceRequest PerWorker, int Workers)
{
    public ResourceRequest Total => PerWorker * Workers;
}

/// <summary>
/// Checks a submitted training job spec and fills in its defaults. Pure: the caller gives the defaults,
/// the path policy and the runtime's whole capacity.
/// </summary>
public static class JobSpecValidator
{
    private static readonly string[] ReservedPrefixes = ["STRATA_", "HYPERPARAM_"];
    private static readonly HashSet<string> ReservedNames = new(["DATA_PATH", "MODEL_OUTPUT_PATH", .. GangEnvironment.Names], StringComparer.Ordinal);

    /// <summary>Validates <paramref name="spec"/>; on success <paramref name="result"/> holds the normalized spec.</summary>
    /// <param name="defaultOutputPath">The model output path when the spec names none.</param>
    public static bool TryValidate(
        TrainingJobSpec spec,
        string tenantId,
        JobDefaults defaults,
        PathPolicy paths,
        string defaultOutputPath,
        RuntimeCapacity capacity,
        out ValidatedSpec? result,
        out ValidationErrors errors)
    {
        errors = new ValidationErrors();
        result = null;

        if (string.IsNullOrEmpty(spec.Name))
        {
            errors.Add("name", "is required");
        }
        else if (!Names.IsDnsLabel(spec.Name, JobLimits.NameLength))
        {
            errors.Add("name", $"must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit, at most {JobLimits.NameLength} characters");
        }

        CheckLength(errors, "entrypoint", spec.Entrypoint, JobLimits.EntrypointLength, allowEmpty: false);
        CheckLength(errors, "docker_image", spec.DockerImage, JobLimits.ImageLength, allowEmpty: false);
        CheckLength(errors, "code_repo", spec.CodeRepo, JobLimits.PathLength, allowEmpty: false);
        CheckLength(errors, "code_commit", spec.CodeCommit, JobLimits.CodeCommitLength, allowEmpty: false);
        CheckLength(errors, "model", spec.Model, JobLimits.ModelLength, allowEmpty: false);
        CheckLength(errors, "label", spec.Label, JobLimits.LabelLength, allowEmpty: false);
        if (spec.CodeCommit is not null && spec.CodeRepo is null)
        {
            errors.Add("code_commit", "requires code_repo");
        }

        var dataPath = ResolvePath(errors, "data_path", spec.DataPath, paths);
        string? outputPath = null;
        if (ArtifactUri.HasScheme(spec.ModelOutputPath))
        {
            errors.Add("model_output_path", "must be a folder, not an artifact; uploaded artifacts cannot be written to");
        }
        else
        {
            outputPath = ResolvePath(errors, "model_output_path", spec.ModelOutputPath ?? defaultOutputPath, paths);
        }
        string? codeArtifact = null;
        if (spec.CodeArtifact is not null)
        {
            if (!ArtifactUri.TryParse(spec.CodeArtifact, out var codeId)) errors.Add("code_artifact", "must be artifact://<artifact id> of an uploaded tar.gz");
            else if (spec.CodeRepo is not null) errors.Add("code_artifact", "cannot be combined with code_repo; give one source of code");
            else codeArtifact = ArtifactUri.Format(codeId);
        }

        var compute = ValidateCompute(errors, spec.Compute, defaults);
        var workers = spec.Distributed?.NumWorkers ?? 1;
        if (spec.Distributed is not null && (spec.Distributed.NumWorkers is null || workers < JobLimits.MinWorkers || workers > JobLimits.MaxWorkers))
        {
            errors.Add("distributed.num_workers", $"must be {JobLimits.MinWorkers} to {JobLimits.MaxWorkers}");
        }

        var priority = spec.Priority ?? 0;
        if (priority is < JobLimits.MinPriority or > JobLimits.MaxPriority)
        {
            errors.Add("priority", $"must be {JobLimits.MinPriority} to {JobLimits.MaxPriority}");
        }

        var retry = ValidateRetry(errors, spec.Retry, defaults);

        if (spec.TimeoutSeconds is { } timeout && (timeout < 1 || timeout > JobLimits.MaxTimeoutSeconds))
        {
            errors.Add("timeout_seconds", $"must be 1 to {JobLimits.MaxTimeoutSeconds}");
        }

        ValidateEnvironment(errors, spec.EnvVars);
        ValidateHyperparameters(errors, spec.Hyperparameters);
        ValidateBuiltInTrainer(errors, spec);
        var environment = PythonEnvironments.Validate(errors, spec.Environment, spec.Model is not null, paths, capacity.Environments ?? EnvironmentRules.Default);

        if (spec.OnQuotaExceeded is not null && !QuotaPolicies.All.Contains(spec.OnQuotaExceeded))
        {
            errors.Add("on_quota_exceeded", $"must be one of {string.Join(", ", QuotaPolicies.All)}");
        }

        if (spec.TenantId is not null && spec.TenantId.Length == 0)
        {
            errors.Add("tenant_id", "must not be empty");
        }

        if (!errors.IsEmpty)
        {
            return false;
        }

        if (compute.GpuFraction is not null && workers > 1)
        {
            errors.Add("compute.gpu_fraction", "is for a job of one worker: not with distributed.num_workers above 1");
            return false;
        }
        if (compute.GpuFraction is not null && !capacity.SharesGpus)
        {
            errors.Add("compute.gpu_fraction", "this runtime cannot share a GPU between jobs: ask for whole GPUs with gpu_count (Kubernetes needs a time-slicing device plugin; not supported yet)");
            return false;
        }
        if (workers > capacity.MaxWorkersPerJob)
        {
            errors.Add("distributed.num_workers", $"this runtime runs at most {capacity.MaxWorkersPerJob} worker(s) per job");
            return false;
        }
        var perWorker = ResourceRequest.WithMilliGpus(compute.CpuCores!.Value, (long)(compute.MemoryGb!.Value * ResourceRequest.BytesPerGb),
            compute.GpuFraction is { } fraction ? ResourceRequest.MilliOf(fraction) : (compute.GpuCount ?? 0) * ResourceRequest.MilliPerGpu);
        var total = perWorker * workers;
        if (!total.FitsIn(capacity.Largest))
        {
            errors.Add("compute", $"the job asks for {total} in all, more than this platform's whole capacity ({capacity.Largest}); it could never start");
            return false;
        }

        var normalized = spec with
        {
            TenantId = tenantId,
            // A built-in trainer's command is the server's to build at launch (LaunchBuilder), not stored.
            Entrypoint = spec.Model is null ? spec.Entrypoint ?? defaults.Entrypoint : null,
            DataPath = dataPath,
            ModelOutputPath = outputPath,
            CodeArtifact = codeArtifact,
            Compute = compute,
            Priority = priority,
            Retry = retry,
            Distributed = spec.Distributed is null ? null : new DistributedSpec { NumWorkers = workers },
            Hyperparameters = spec.Hyperparameters ?? [],
            EnvVars = spec.EnvVars ?? [],
            Environment = environment,
        };
        result = new ValidatedSpec(normalized, perWorker, workers);
        return true;
    }

    private static void CheckLength(ValidationErrors errors, string field, string? value, int max, bool allowEmpty)
    {
        if (value is null)
        {
            return;
        }
        if (!allowEmpty && string.IsNullOrWhiteSpace(value))
        {
            errors.Add(field, "must not be empty");
        }
        else if (value.Length > max)
        {
            errors.Add(field, $"must be at most {max} characters");
        }
        else
        {
            TextRules.Check(errors, field, value, TextKind.Prose);
        }
    }

    private static string? ResolvePath(ValidationErrors errors, string field, string? path, PathPolicy paths)
    {
        if (path is null)
        {
            return null;
        }
        if (paths.TryResolve(path, out var resolved, out var error))
        {
            return resolved;
        }
        errors.Add(field, error!);
        return null;
    }

    private static ComputeSpec ValidateCompute(ValidationErrors errors, ComputeSpec? compute, JobDefaults defaults)
    {
        compute ??= new ComputeSpec();
        var type = compute.Type ?? (compute.GpuCount is > 0 || compute.GpuFraction is not null ? ComputeTypes.Gpu : ComputeTypes.Cpu);
        if (!ComputeTypes.All.Contains(type))
        {
            errors.Add("compute.type", $"must be one of {string.Join(", ", ComputeTypes.All)}");
        }
        var cpu = compute.CpuCores ?? defaults.CpuCores;
        if (cpu is < JobLimits.MinCpuCores or > JobLimits.MaxCpuCores)
        {
            errors.Add("compute.cpu_cores", $"must be {JobLimits.MinCpuCores} to {JobLimits.MaxCpuCores}");
        }
        var memory = compute.MemoryGb ?? defaults.MemoryGb;
        if (memory is < JobLimits.MinMemoryGb or > JobLimits.MaxMemoryGb)
        {
            errors.Add("compute.memory_gb", $"must be {JobLimits.MinMemoryGb} to {JobLimits.MaxMemoryGb}");
        }
        var gpus = compute.GpuCount;
        if (type == ComputeTypes.Gpu)
        {
            gpus ??= 1;
            if (gpus is < JobLimits.MinGpus or > JobLimits.MaxGpus)
            {
                errors.Add("compute.gpu_count", $"must be {JobLimits.MinGpus} to {JobLimits.MaxGpus}");
            }
        }
        else if (gpus is not null)
        {
            errors.Add("compute.gpu_count", "is only allowed with type gpu");
        }
        if (compute.GpuFraction is { } fraction)
        {
            if (type != ComputeTypes.Gpu)
            {
                errors.Add("compute.gpu_fraction", "is only allowed with type gpu");
            }
            else if (!JobLimits.IsGpuFraction(fraction))
            {
                errors.Add("compute.gpu_fraction", $"must be more than 0 and less than 1, in steps of {JobLimits.GpuFractionStep} (0.25, 0.5, ...)");
            }
            else if (gpus is not 1)
            {
                // A share is of one device: two quarters of two devices are not what time-slicing gives.
                errors.Add("compute.gpu_count", "must be 1 (or left out) with gpu_fraction: a share is of one device");
            }
        }
        if (compute.GpuType is not null)
        {
            if (type != ComputeTypes.Gpu)
            {
                errors.Add("compute.gpu_type", "is only allowed with type gpu");
            }
            else if (!Names.IsDnsLabel(compute.GpuType, JobLimits.GpuTypeLength))
            {
                errors.Add("compute.gpu_type", "must be a DNS-1123 label such as nvidia-a100");
            }
        }
        var processes = compute.MaxProcesses ?? JobDefaults.DefaultMaxProcesses;
        if (processes is < JobLimits.MinProcesses or > JobLimits.MaxProcesses)
        {
            errors.Add("compute.max_processes", $"must be {JobLimits.MinProcesses} to {JobLimits.MaxProcesses}");
        }
        var disk = compute.DiskGb ?? JobDefaults.DefaultDiskGb;
        if (!(disk > 0 && disk <= JobLimits.MaxDiskGb))
        {
            errors.Add("compute.disk_gb", $"must be more than 0 and at most {JobLimits.MaxDiskGb:0} (GB)");
        }
        return new ComputeSpec
        {
            Type = type,
            CpuCores = cpu,
            MemoryGb = memory,
            GpuCount = gpus,
            GpuFraction = compute.GpuFraction,
            GpuType = compute.GpuType,
            MaxProcesses = processes,
            DiskGb = disk,
        };
    }

    private static RetrySpec ValidateRetry(ValidationErrors errors, RetrySpec? retry, JobDefaults defaults)
    {
        var attempts = retry?.MaxAttempts ?? defaults.MaxAttempts;
        if (attempts < 1 || attempts > JobLimits.MaxAttempts)
        {
            errors.Add("retry.max_attempts", $"must be 1 to {JobLimits.MaxAttempts}");
        }
        var backoffField = retry?.BackoffSeconds is null ? "retry.backoff" : "retry.backoff_seconds";
        var backoff = retry?.BackoffSeconds ?? retry?.Backoff ?? defaults.BackoffSeconds;
        if (backoff < 0 || backoff > JobLimits.MaxBackoffSeconds)
        {
            errors.Add(backoffField, $"must be 0 to {JobLimits.MaxBackoffSeconds} seconds");
        }
        var retryOn = ValidateExitCodes(errors, "retry.retry_on_exit_codes", retry?.RetryOnExitCodes);
        var failOn = ValidateExitCodes(errors, "retry.fail_on_exit_codes", retry?.FailOnExitCodes);
        var onTimeout = retry?.OnTimeout ?? RetryRules.OnTimeoutFail;
        if (onTimeout is not (RetryRules.OnTimeoutFail or RetryRules.OnTimeoutRetry))
        {
            errors.Add("retry.on_timeout", $"must be '{RetryRules.OnTimeoutFail}' or '{RetryRules.OnTimeoutRetry}'");
        }
        var growth = retry?.MemoryGrowth ?? RetryRules.DefaultMemoryGrowth;
        if (!double.IsFinite(growth) || growth < 1 || growth > RetryRules.MaxMemoryGrowth)
        {
            errors.Add("retry.memory_growth", $"must be 1 to {RetryRules.MaxMemoryGrowth}");
        }
        return new RetrySpec
        {
            MaxAttempts = attempts,
            Backoff = backoff,
            RetryOnExitCodes = retryOn,
            FailOnExitCodes = failOn,
            OnTimeout = retry?.OnTimeout is null ? null : onTimeout,
            MemoryGrowth = retry?.MemoryGrowth,
        };
    }

    private static List<int>? ValidateExitCodes(ValidationErrors errors, string field, List<int>? codes)
    {
        if (codes is null) return null;
        if (codes.Count > RetryRules.MaxExitCodes)
        {
            errors.Add(field, $"may list at most {RetryRules.MaxExitCodes} exit codes");
        }
        if (codes.Any(c => c is < 1 or > 255))
        {
            errors.Add(field, "must list exit codes from 1 to 255 (0 is a success)");
        }
        return codes.Distinct().Order().ToList();
    }

    private static void ValidateEnvironment(ValidationErrors errors, Dictionary<string, string>? env)
    {
        if (env is null)
        {
            return;
        }
        if (env.Count > JobLimits.MaxEnvVars)
        {
            errors.Add("env_vars", $"must have at most {JobLimits.MaxEnvVars} entries");
            return;
        }
        foreach (var (name, value) in env)
        {
            var field = $"env_vars.{Truncate(name)}";
            if (name.Length > JobLimits.EnvNameLength || !Names.IsEnvironmentName(name))
            {
                errors.Add(field, $"the name must match [A-Za-z_][A-Za-z0-9_]* and be at most {JobLimits.EnvNameLength} characters");
            }
            else if (ReservedNames.Contains(name) || ReservedPrefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal)))
            {
                errors.Add(field, "is set by the platform (DATA_PATH, MODEL_OUTPUT_PATH, STRATA_*, HYPERPARAM_*, and the distributed variables) and cannot be overridden");
            }
            if (value is null)
            {
                errors.Add(field, "must be a string");
            }
            else if (value.Length > JobLimits.EnvValueLength)
            {
                errors.Add(field, $"the value must be at most {JobLimits.EnvValueLength} characters");
            }
            else
            {
                TextRules.Check(errors, field, value, TextKind.Value);
            }
        }
    }

    private static void ValidateHyperparameters(ValidationErrors errors, Dictionary<string, JsonElement>? hyperparameters)
    {
        if (hyperparameters is null)
        {
            return;
        }
        if (hyperparameters.Count > JobLimits.MaxHyperparameters)
        {
            errors.Add("hyperparameters", $"must have at most {JobLimits.MaxHyperparameters} entries");
            return;
        }
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in hyperparameters)
        {
            var field = $"hyperparameters.{Truncate(name)}";
            if (name.Length > JobLimits.HyperparameterNameLength || !Names.IsHyperparameterName(name))
            {
                errors.Add(field, $"the name must match [A-Za-z_][A-Za-z0-9_.-]* and be at most {JobLimits.HyperparameterNameLength} characters");
                continue;
            }
            if (value.ValueKind is JsonValueKind.Object or JsonValueKind.Array or JsonValueKind.Undefined)
            {
                errors.Add(field, "must be a string, number, boolean or null");
            }
            else if (JobEnvironment.TryFormatHyperparameter(value) is not { } text)
            {
                errors.Add(field, "must be valid UTF-8 text");
            }
            else if (text.Length > JobLimits.HyperparameterValueLength)
            {
                errors.Add(field, $"must be at most {JobLimits.HyperparameterValueLength} characters");
            }
            else
            {
                TextRules.Check(errors, field, text, TextKind.Value);
            }
            var variable = Names.HyperparameterVariable(name);
            if (variables.TryGetValue(variable, out var other))
            {
                errors.Add(field, $"becomes {variable}, as '{other}' does");
            }
            variables[variable] = name;
        }
    }

    /// <summary>
    /// A job with <c>model</c> runs a built-in trainer: it needs a label and data, takes no entrypoint,
    /// and its task and hyperparameters are checked against the trainer now rather than after it queued.
    /// </summary>
    private static void ValidateBuiltInTrainer(ValidationErrors errors, TrainingJobSpec spec)
    {
        if (spec.Model is null)
        {
            if (spec.Task is not null)
            {
                errors.Add("task", "is only allowed with model (a built-in trainer)");
            }
            return;
        }
        if (string.IsNullOrWhiteSpace(spec.Model) || spec.Model.Length > JobLimits.ModelLength)
        {
            return; // CheckLength has said why.
        }
        if (string.IsNullOrWhiteSpace(spec.Label))
        {
            errors.Add("label", $"is required with model: name the column of data_path that {spec.Model} learns to predict");
        }
        if (spec.DataPath is null)
        {
            errors.Add("data_path", $"is required with model: a CSV file with a header row and the label column");
        }
        if (spec.Entrypoint is not null)
        {
            errors.Add("entrypoint", "must be omitted with model: a built-in trainer's job runs strata-worker train");
        }
        if (spec.Distributed is not null)
        {
            errors.Add("distributed", "is not supported by the built-in trainers; they run in one process");
        }
        var hyperparameters = (spec.Hyperparameters ?? [])
            .Where(h => h.Value.ValueKind is not (JsonValueKind.Object or JsonValueKind.Array or JsonValueKind.Undefined))
            .ToDictionary(h => h.Key, h => JobEnvironment.FormatHyperparameter(h.Value), StringComparer.Ordinal);
        BuiltInTrainers.Validate(spec.Model, spec.Task, hyperparameters, errors);
    }

    private static string Truncate(string name) => name.Length <= 64 ? name : name[..64] + "…";
}
