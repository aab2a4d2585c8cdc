using System.CommandLine;
using Spectre.Console;
using Strata.Client;
using Strata.Contracts;

namespace Strata.Cli.Commands;

/// <summary>
/// <c>strata jobs submit</c>: a job from flags, a spec file (<c>-f spec.yaml</c>), or both (flags win). With
/// <c>--compute auto</c> the server's recommendation (<c>strata recommend compute</c>) chooses the compute.
/// </summary>
public static class SubmitCommand
{
    public static Command Create(CliContext cli)
    {
        var file = new Option<string?>("--file", "-f") { Description = "A spec file, JSON or YAML, with the API's snake_case keys" };
        var name = new Option<string?>("--name", "-n") { Description = "The job's name, a DNS-1123 label (required unless in the file)" };
        var entrypoint = new Option<string?>("--entrypoint") { Description = "The shell command to run (default: python train.py)" };
        var image = new Option<string?>("--image") { Description = "The container image (Kubernetes runtime)" };
        var data = new Option<string?>("--data") { Description = "The data: a local file or folder (uploaded), an artifact:// URI, or a path or URI the job reads" };
        var noUpload = new Option<bool>("--no-upload") { Description = "Send a local --data path as it is (for a path the server's machine shares) instead of uploading it" };
        var outputPath = new Option<string?>("--output-path") { Description = "Where the model is written (default: the tenant's artifact area)" };
        var cpu = new Option<int?>("--cpu") { Description = "CPU cores per worker", CustomParser = CliOptions.ParseInt };
        var memory = new Option<int?>("--memory") { Description = "Memory per worker, GB", CustomParser = CliOptions.ParseInt };
        var gpus = new Option<int?>("--gpus") { Description = "GPUs per worker", CustomParser = CliOptions.ParseInt };
        var gpuType = new Option<string?>("--gpu-type") { Description = "GPU model, such as nvidia-a100" };
        var priority = new Option<int?>("--priority") { Description = "Higher runs first within the tenant (-1000 to 1000)", CustomParser = CliOptions.ParseInt };
        var timeout = new Option<string?>("--timeout") { Description = "Limit of one attempt: 3600, 90s, 30m, 2h" };
        var maxAttempts = new Option<int?>("--max-attempts") { Description = "Attempts in all when the infrastructure fails (1 to 10)", CustomParser = CliOptions.ParseInt };
        var workers = new Option<int?>("--workers") { Description = "Distributed workers (DDP), admitted all or none", CustomParser = CliOptions.ParseInt };
        var hyperparameters = new Option<string[]>("--hyperparameter", "-p")
        {
            Description = "key=value, repeatable; numbers and booleans keep their type",
            AllowMultipleArgumentsPerToken = false,
            DefaultValueFactory = _ => [],
        };
        var env = new Option<string[]>("--env", "-e") { Description = "KEY=VALUE, repeatable", DefaultValueFactory = _ => [] };
        var model = new Option<string?>("--model") { Description = "A built-in trainer, such as lightgbm" };
        var label = new Option<string?>("--label") { Description = "The label column for a built-in trainer" };
        var code = new Option<string?>("--code") { Description = "A local project folder: packed as strata run packs it, uploaded, and the job runs in a copy of it" };
        var computeMode = new Option<string?>("--compute") { Description = "auto: the server recommends the compute (--cpu, --memory, --gpus, --workers) from the workload and your similar jobs" };
        var datasetSize = new Option<double?>("--dataset-size-gb") { Description = "With --compute auto: the data's size in GB, where --data is not a local file or folder", CustomParser = CliOptions.ParseDouble };
        var modelParams = new Option<double?>("--model-params") { Description = "With --compute auto: the model's parameters, e.g. 50000000 or 7e9", CustomParser = CliOptions.ParseDouble };
        var framework = new Option<string?>("--framework") { Description = $"With --compute auto: one of {string.Join(", ", Frameworks.All)}" };
        var command = new Command("submit", "Submit a training job")
        {
            file, name, entrypoint, image, data, outputPath, cpu, memory, gpus, gpuType, priority, timeout, maxAttempts, workers,
            hyperparameters, env, model, label, noUpload, code, computeMode, datasetSize, modelParams, framework,
        };
        command.SetAction((parse, ct) => cli.RunAsync(async token =>
        {
            // The spec is checked before any connection is made, so a usage error never needs a server.
            var spec = SpecBuilder.Build(
                new SubmitArguments
                {
                    File = parse.GetValue(file),
                    Name = parse.GetValue(name),
                    Entrypoint = parse.GetValue(entrypoint),
                    Image = parse.GetValue(image),
                    Data = parse.GetValue(data),
                    OutputPath = parse.GetValue(outputPath),
                    Cpu = parse.GetValue(cpu),
                    Memory = parse.GetValue(memory),
                    Gpus = parse.GetValue(gpus),
                    GpuType = parse.GetValue(gpuType),
                    Priority = parse.GetValue(priority),
                    Timeout = parse.GetValue(timeout),
                    MaxAttempts = parse.GetValue(maxAttempts),
                    Workers = parse.GetValue(workers),
                    Hyperparameters = parse.GetValue(hyperparameters) ?? [],
                    Env = parse.GetValue(env) ?? [],
                    Model = parse.GetValue(model),
                    Label = parse.GetValue(label),
                },
                cli.WorkingDirectory);
            var workload = AutoWorkload(parse.GetValue(computeMode), spec, parse.GetValue(datasetSize), parse.GetValue(modelParams), parse.GetValue(framework),
                explicitCompute: parse.GetValue(cpu) is not null || parse.GetValue(memory) is not null || parse.GetValue(gpus) is not null || parse.GetValue(workers) is not null);
            var codeFolder = parse.GetValue(code) is { } folder ? Path.GetFullPath(folder, cli.WorkingDirectory) : null;
            if (codeFolder is not null && !Directory.Exists(codeFolder)) throw new UsageException($"--code: there is no folder {codeFolder}");
            using var client = cli.Clients.Create(cli.ResolveConnection(parse));
            if (codeFolder is not null)
            {
                spec = spec with { CodeArtifact = await RunCommand.PackAndUploadAsync(cli.Error, client, codeFolder, spec.Name!, token) };
            }
            if (!parse.GetValue(noUpload))
            {
                spec = spec with { DataPath = await Uploads.Uploader.UploadIfLocalAsync(cli.Error, client, spec.DataPath, cli.WorkingDirectory, token) };
            }
            if (workload is not null)
            {
                var recommendation = await client.RecommendComputeAsync(workload, token);
                spec = AutoCompute.Apply(spec, recommendation);
                // Stdout stays the job alone with -o json, yaml or name.
                var console = cli.Format(parse).ForPeople() ? cli.Out : cli.Error;
                console.Markup("--compute auto chose ");
                RecommendCommand.Print(console, recommendation);
            }
            return await ExecuteAsync(cli.Out, client, spec, cli.Format(parse), token);
        }, ct));
        return command;
    }

    /// <summary>
    /// What to ask the server for <c>--compute auto</c>, or null without it; checked before any connection is made.
    /// The dataset's size is the local <c>--data</c> file's or folder's unless <c>--dataset-size-gb</c> says otherwise.
    /// </summary>
    /// <exception cref="UsageException">The flags of <c>--compute auto</c> are missing, or given without it.</exception>
    public static ComputeRecommendationRequest? AutoWorkload(
        string? mode, TrainingJobSpec spec, double? datasetSizeGb, double? modelParams, string? framework, bool explicitCompute)
    {
        if (mode is null)
        {
            if (datasetSizeGb is not null || modelParams is not null || framework is not null)
            {
                throw new UsageException("--dataset-size-gb, --model-params and --framework describe the workload for --compute auto; add --compute auto");
            }
            return null;
        }
        if (mode != AutoCompute.Auto)
        {
            throw new UsageException($"--compute takes only \"auto\", not \"{mode}\"; give --cpu, --memory and --gpus to choose the compute yourself");
        }
        if (explicitCompute)
        {
            throw new UsageException("--compute auto chooses --cpu, --memory, --gpus and --workers; leave them out");
        }
        if (modelParams is null)
        {
            throw new UsageException("--compute auto needs --model-params (the model's parameters, e.g. 50000000)");
        }
        var size = datasetSizeGb ?? AutoCompute.LocalDatasetSizeGb(spec.DataPath)
            ?? throw new UsageException("--compute auto needs the data's size: --data naming a local file or folder, or --dataset-size-gb");
        return new ComputeRecommendationRequest { DatasetSizeGb = size, ModelParams = modelParams, Framework = framework };
    }

    public static async Task<int> ExecuteAsync(IAnsiConsole console, StrataClient client, TrainingJobSpec spec, OutputFormat format, CancellationToken cancellationToken)
    {
        var handle = await client.Jobs.SubmitAsync(spec, cancellationToken);
        var job = handle.Job!;
        if (Output.WriteData(console, format, job, [job.Id]))
        {
            return ExitCodes.Success;
        }

        console.MarkupLine($"Submitted job [bold]{Output.Esc(job.Id)}[/] ({Output.Esc(job.Spec.Name)}): {Output.Esc(Output.Describe(job))}.");
        console.MarkupLine($"[grey]Follow it with: strata jobs logs -f {Output.Esc(job.Id)}   or: strata jobs wait {Output.Esc(job.Id)}[/]");
        return ExitCodes.Success;
    }
}
