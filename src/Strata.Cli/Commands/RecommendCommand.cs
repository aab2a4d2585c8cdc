using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Strata.Client;
using Strata.Contracts;

namespace Strata.Cli.Commands;

/// <summary><c>strata recommend compute --dataset-size-gb N --model-params N [--framework F]</c>: the compute a workload should ask for.</summary>
public static class RecommendCommand
{
    public static Command Create(CliContext cli)
    {
        var command = new Command("recommend", "Recommend resources for a workload");
        command.Subcommands.Add(ComputeCommand(cli));
        return command;
    }

    private static Command ComputeCommand(CliContext cli)
    {
        var datasetSize = new Option<double?>("--dataset-size-gb") { Description = "The training data's size in GB", Required = true, CustomParser = CliOptions.ParseDouble };
        var modelParams = new Option<double?>("--model-params") { Description = "The model's parameters, e.g. 50000000 or 7e9", Required = true, CustomParser = CliOptions.ParseDouble };
        var framework = new Option<string?>("--framework") { Description = $"One of {string.Join(", ", Frameworks.All)}" };
        var command = new Command("compute", "Recommend shared, dedicated or distributed compute, with the reasons (your similar jobs refine it)")
        {
            datasetSize, modelParams, framework,
        };
        command.SetAction((parse, ct) => cli.RunAsync(parse, (client, token) => ExecuteAsync(
            cli.Out, client,
            new ComputeRecommendationRequest { DatasetSizeGb = parse.GetValue(datasetSize), ModelParams = parse.GetValue(modelParams), Framework = parse.GetValue(framework) },
            cli.Format(parse), token), ct));
        return command;
    }

    public static async Task<int> ExecuteAsync(IAnsiConsole console, StrataClient client, ComputeRecommendationRequest request, OutputFormat format, CancellationToken cancellationToken)
    {
        var recommendation = await client.RecommendComputeAsync(request, cancellationToken);
        if (Output.WriteData(console, format, recommendation))
        {
            return ExitCodes.Success;
        }

        Print(console, recommendation);
        return ExitCodes.Success;
    }

    /// <summary>The answer in a line, then its reasons and the similar jobs it drew on.</summary>
    public static void Print(IAnsiConsole console, ComputeRecommendation recommendation)
    {
        console.MarkupLine($"[bold]{Output.Esc(recommendation.Kind)}[/]: {Output.Esc(Describe(recommendation))}");
        foreach (var reason in recommendation.Reasons)
        {
            console.MarkupLine($"  - {Output.Esc(reason)}");
        }
        if (recommendation.SimilarJobs.Count > 0)
        {
            console.MarkupLine($"[grey]Similar jobs: {Output.Esc(string.Join(", ", recommendation.SimilarJobs))}[/]");
        }
    }

    /// <summary>The compute as flags would say it: <c>2 workers × (gpu, 1 GPU, 4 cores, 33 GB)</c>.</summary>
    public static string Describe(ComputeRecommendation recommendation)
    {
        var compute = recommendation.Compute;
        var parts = new List<string> { compute.Type ?? ComputeTypes.Cpu };
        if (compute.GpuFraction is { } fraction) parts.Add($"{fraction.ToString(CultureInfo.InvariantCulture)} of a GPU");
        if (compute.GpuCount is { } gpus) parts.Add(gpus == 1 ? "1 GPU" : $"{gpus} GPUs");
        if (compute.CpuCores is { } cores) parts.Add(cores == 1 ? "1 core" : $"{cores} cores");
        if (compute.MemoryGb is { } memory) parts.Add($"{memory} GB");
        var each = string.Join(", ", parts);
        return recommendation.Distributed?.NumWorkers is { } workers ? $"{workers} workers × ({each})" : each;
    }
}

/// <summary><c>strata jobs submit --compute auto</c>: the workload's size, and the recommended compute put into the spec.</summary>
public static class AutoCompute
{
    public const string Auto = "auto";

    /// <summary>The size in GB of a local data file, or of every file in a local folder; null when the path is not local.</summary>
    public static double? LocalDatasetSizeGb(string? dataPath)
    {
        if (string.IsNullOrEmpty(dataPath) || dataPath.Contains("://", StringComparison.Ordinal)) return null;
        if (File.Exists(dataPath)) return new FileInfo(dataPath).Length / (double)(1L << 30);
        if (!Directory.Exists(dataPath)) return null;
        var files = new DirectoryInfo(dataPath).EnumerateFiles("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 });
        return files.Sum(f => f.Length) / (double)(1L << 30);
    }

    /// <summary>
    /// The spec with the recommendation's compute and gang in place of its own; what the recommendation does not
    /// choose (<c>gpu_type</c> where GPUs remain, <c>max_processes</c>, <c>disk_gb</c>) stays as the spec says.
    /// </summary>
    public static TrainingJobSpec Apply(TrainingJobSpec spec, ComputeRecommendation recommendation)
    {
        var chosen = recommendation.Compute;
        var compute = (spec.Compute ?? new ComputeSpec()) with
        {
            Type = chosen.Type,
            CpuCores = chosen.CpuCores,
            MemoryGb = chosen.MemoryGb,
            GpuCount = chosen.GpuCount,
            GpuFraction = chosen.GpuFraction,
        };
        if (chosen.Type != ComputeTypes.Gpu) compute = compute with { GpuType = null };
        return spec with { Compute = compute, Distributed = recommendation.Distributed };
    }
}
