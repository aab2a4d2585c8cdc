using System.Globalization;
using Strata.Contracts;
using Strata.Core.Jobs;
using Strata.Core.Runtime;

namespace Strata.Core.Recommendations;

/// <summary>
/// One of the tenant's succeeded jobs, as the advisor compares it with a request: the shape it ran in and what
/// its attempts measured.
/// </summary>
public sealed record PastJob
{
    public required string Id { get; init; }
    /// <summary><c>cpu</c> or <c>gpu</c>.</summary>
    public required string ComputeType { get; init; }
    public int GpusPerWorker { get; init; }
    public double? GpuFraction { get; init; }
    public int Workers { get; init; } = 1;
    /// <summary>Its training data's size, where that was an uploaded artifact; null when not known.</summary>
    public double? DatasetSizeGb { get; init; }
    /// <summary>The largest peak memory of its measured attempts.</summary>
    public long? PeakMemoryBytes { get; init; }
    /// <summary>GPU-seconds used over GPU-seconds reserved, across its attempts; null when it held no GPU.</summary>
    public double? GpuBusyFraction { get; init; }
}

/// <summary>
/// Which compute a training workload should ask for (docs/recommendations.md): the lecture's SmartGPUScheduler
/// thresholds choose shared, dedicated or distributed; the runtime's capacity and the framework bound the
/// answer; the tenant's similar jobs correct its memory and, where their GPUs idled, its GPU share.
/// </summary>
public static class ComputeAdvisor
{
    public const double SmallDatasetGb = 10, MediumDatasetGb = 100;
    public const double SmallModelParams = 1e8, MediumModelParams = 1e9;
    public const double SharedGpuFraction = 0.25;
    /// <summary>The lecture's bounds on a large model's GPUs: one per billion parameters, 2 to 8.</summary>
    public const int MinLargeGpus = 2, MaxLargeGpus = 8;

    /// <summary>Host memory a worker needs besides its share of the model and data: the interpreter, the framework, CUDA's context.</summary>
    public const double BaseMemoryGb = 2;
    /// <summary>fp32 weights, their gradients and Adam's two moments.</summary>
    public const double BytesPerParam = 16;
    /// <summary>Data loaders hold part of a dataset at a time: a quarter of it, and at most this much.</summary>
    public const double MaxDatasetInMemoryGb = 16;

    /// <summary>A past job is similar when its dataset (where known) is within this factor of the request's.</summary>
    public const double SimilarDatasetFactor = 2;
    /// <summary>The newest similar jobs that count; older ones ran older code.</summary>
    public const int MaxSimilarJobs = 10;
    /// <summary>Memory asked for above the largest peak of similar jobs.</summary>
    public const double MemoryHeadroom = 1.25;
    /// <summary>Similar dedicated jobs that kept their GPU busier than this never share one.</summary>
    public const double IdleGpuBusyFraction = 0.25;

    private const int SharedCores = 2, GpuWorkerCores = 4, CpuWorkerCores = 8, LargeCpuWorkerCores = 16;

    /// <param name="history">The tenant's succeeded jobs, newest first; the advisor picks the similar ones.</param>
    public static ComputeRecommendation Recommend(
        double datasetSizeGb, long modelParams, string? framework, RuntimeCapacity capacity, IReadOnlyList<PastJob> history)
    {
        var reasons = new List<string>();
        var shape = Baseline(datasetSizeGb, modelParams, reasons);
        shape = Fit(shape, framework, capacity, reasons);
        shape = shape with { MemoryGb = EstimateMemoryGb(datasetSizeGb, modelParams, shape.Workers) };
        reasons.Add($"memory estimate {shape.MemoryGb} GB per worker: {BaseMemoryGb:0} GB for the runtime, {BytesPerParam:0} bytes per parameter " +
                    $"(weights, gradients, Adam's moments){(shape.Workers > 1 ? " split across the workers" : "")}, and a quarter of the dataset (at most {MaxDatasetInMemoryGb:0} GB)");

        var similar = history.Where(job => SameShape(job, shape) && SimilarDataset(job.DatasetSizeGb, datasetSizeGb)).Take(MaxSimilarJobs).ToList();
        var used = new HashSet<string>(StringComparer.Ordinal);
        shape = FromPeakMemory(shape, similar, reasons, used);
        shape = FromGpuUse(shape, similar, reasons, used);
        shape = Cap(shape, capacity, reasons);

        return new ComputeRecommendation
        {
            Kind = shape.Kind,
            Compute = new ComputeSpec
            {
                Type = shape.Type,
                CpuCores = shape.CpuCores,
                MemoryGb = shape.MemoryGb,
                GpuCount = shape.GpuCount > 0 ? shape.GpuCount : null,
                GpuFraction = shape.GpuFraction,
            },
            Distributed = shape.Kind == RecommendationKinds.Distributed ? new DistributedSpec { NumWorkers = shape.Workers } : null,
            Reasons = reasons,
            SimilarJobs = similar.Where(job => used.Contains(job.Id)).Select(job => job.Id).ToList(),
        };
    }

    /// <summary>The compute of each worker, while the answer is worked out.</summary>
    private sealed record Shape(string Kind, string Type, int CpuCores, int GpuCount, double? GpuFraction, int Workers, int MemoryGb = 0);

    /// <summary>The lecture's three rows, as GPUs: a quarter of one, one, or one per billion parameters (2 to 8).</summary>
    private static Shape Baseline(double datasetSizeGb, long modelParams, List<string> reasons)
    {
        var data = $"dataset {Number(datasetSizeGb)} GB";
        var model = $"{Number(modelParams)} parameters";
        if (datasetSizeGb < SmallDatasetGb && modelParams < SmallModelParams)
        {
            reasons.Add($"{data} < {SmallDatasetGb:0} GB and {model} < {Number(SmallModelParams)}: a small workload, which shares a GPU ({SharedGpuFraction} of one)");
            return new Shape(RecommendationKinds.Shared, ComputeTypes.Gpu, SharedCores, 0, SharedGpuFraction, 1);
        }
        if (datasetSizeGb < MediumDatasetGb && modelParams < MediumModelParams)
        {
            reasons.Add($"{data} < {MediumDatasetGb:0} GB and {model} < {Number(MediumModelParams)}: a medium workload, which gets a GPU of its own");
            return new Shape(RecommendationKinds.Dedicated, ComputeTypes.Gpu, GpuWorkerCores, 1, null, 1);
        }
        var gpus = (int)Math.Min(MaxLargeGpus, Math.Max(MinLargeGpus, Math.Floor(modelParams / MediumModelParams)));
        reasons.Add($"{data} and {model}: a large workload (≥ {MediumDatasetGb:0} GB or ≥ {Number(MediumModelParams)} parameters), " +
                    $"trained on {gpus} GPUs (one per billion parameters, {MinLargeGpus} to {MaxLargeGpus}), one worker each");
        return new Shape(RecommendationKinds.Distributed, ComputeTypes.Gpu, GpuWorkerCores, 1, null, gpus);
    }

    /// <summary>What the framework and the runtime allow of the baseline: CPUs where there are no GPUs, fewer or no gang.</summary>
    private static Shape Fit(Shape shape, string? framework, RuntimeCapacity capacity, List<string> reasons)
    {
        var gpus = capacity.Total.Gpus;
        if (framework is Frameworks.ScikitLearn or Frameworks.MlNet)
        {
            reasons.Add($"{framework} trains on CPUs only: CPU compute");
            gpus = 0;
        }
        else if (gpus == 0)
        {
            reasons.Add("the runtime has no GPUs: CPU compute, sized from the dataset and the model");
        }

        // Strata's gangs set torchrun's variables (MASTER_ADDR, RANK, WORLD_SIZE); other frameworks find their peers otherwise.
        var gangs = framework is null or Frameworks.PyTorch;
        var wanted = shape.Kind == RecommendationKinds.Distributed ? shape.Workers : 1;
        var workers = wanted;
        if (wanted > 1 && !gangs)
        {
            reasons.Add($"{framework} does not read torchrun's variables that Strata's gangs set: one worker instead of {wanted}");
            workers = 1;
        }
        if (workers > capacity.MaxWorkersPerJob)
        {
            reasons.Add($"the runtime runs at most {capacity.MaxWorkersPerJob} worker{(capacity.MaxWorkersPerJob == 1 ? "" : "s")} per job: {capacity.MaxWorkersPerJob} instead of {workers}");
            workers = Math.Max(1, capacity.MaxWorkersPerJob);
        }

        if (gpus == 0)
        {
            return shape.Kind switch
            {
                RecommendationKinds.Shared => new Shape(RecommendationKinds.Shared, ComputeTypes.Cpu, SharedCores, 0, null, 1),
                RecommendationKinds.Dedicated => new Shape(RecommendationKinds.Dedicated, ComputeTypes.Cpu, CpuWorkerCores, 0, null, 1),
                _ when workers > 1 => new Shape(RecommendationKinds.Distributed, ComputeTypes.Cpu, CpuWorkerCores, 0, null, workers),
                _ => new Shape(RecommendationKinds.Dedicated, ComputeTypes.Cpu, LargeCpuWorkerCores, 0, null, 1),
            };
        }
        if (shape.Kind != RecommendationKinds.Distributed)
        {
            return shape;
        }

        if (wanted > gpus)
        {
            reasons.Add($"the runtime has {gpus} GPU{(gpus == 1 ? "" : "s")}: {Math.Min(wanted, gpus)} instead of {wanted}");
        }
        var devices = Math.Min(wanted, gpus);
        workers = Math.Min(workers, devices);
        if (workers > 1)
        {
            return shape with { Workers = workers };
        }
        // No gang: one worker holds the devices and may use them itself (DataParallel, a mesh, a multi-GPU booster).
        return new Shape(RecommendationKinds.Dedicated, ComputeTypes.Gpu, GpuWorkerCores * devices, devices, null, 1);
    }

    private static int EstimateMemoryGb(double datasetSizeGb, long modelParams, int workers)
    {
        var modelGb = modelParams * BytesPerParam / ResourceRequest.BytesPerGb / workers;
        var dataGb = Math.Min(datasetSizeGb / 4, MaxDatasetInMemoryGb);
        return (int)Math.Ceiling(BaseMemoryGb + modelGb + dataGb);
    }

    private static bool SameShape(PastJob job, Shape shape) =>
        job.ComputeType == shape.Type && job.Workers == shape.Workers
        && (shape.GpuFraction is { } fraction ? job.GpuFraction == fraction : job.GpuFraction is null && job.GpusPerWorker == shape.GpuCount);

    /// <summary>Within <see cref="SimilarDatasetFactor"/> either way, sizes under 1 GB counting as 1 GB; an unknown size does not rule a job out.</summary>
    private static bool SimilarDataset(double? pastGb, double requestGb)
    {
        if (pastGb is not { } past) return true;
        var a = Math.Max(past, 1);
        var b = Math.Max(requestGb, 1);
        return Math.Max(a, b) / Math.Min(a, b) <= SimilarDatasetFactor;
    }

    /// <summary>Memory is what similar jobs really used plus headroom, up or down: a measurement beats the estimate.</summary>
    private static Shape FromPeakMemory(Shape shape, List<PastJob> similar, List<string> reasons, HashSet<string> used)
    {
        var measured = similar.Where(job => job.PeakMemoryBytes > 0).ToList();
        if (measured.Count == 0) return shape;
        var peakGb = measured.Max(job => job.PeakMemoryBytes!.Value) / (double)ResourceRequest.BytesPerGb;
        var memoryGb = Math.Max(JobLimits.MinMemoryGb, (int)Math.Ceiling(peakGb * MemoryHeadroom));
        used.UnionWith(measured.Select(job => job.Id));
        reasons.Add($"{Count(measured.Count, "similar job")} of yours peaked at {peakGb:0.##} GB: memory_gb {memoryGb} " +
                    $"(the peak plus {(MemoryHeadroom - 1) * 100:0}% headroom) instead of the estimate {shape.MemoryGb}");
        return shape with { MemoryGb = memoryGb };
    }

    /// <summary>A dedicated GPU that similar jobs kept mostly idle is better shared.</summary>
    private static Shape FromGpuUse(Shape shape, List<PastJob> similar, List<string> reasons, HashSet<string> used)
    {
        if (shape is not { Kind: RecommendationKinds.Dedicated, Type: ComputeTypes.Gpu, GpuCount: 1 }) return shape;
        var measured = similar.Where(job => job.GpuBusyFraction is not null).ToList();
        if (measured.Count == 0 || measured.Any(job => job.GpuBusyFraction >= IdleGpuBusyFraction)) return shape;
        used.UnionWith(measured.Select(job => job.Id));
        var busiest = measured.Max(job => job.GpuBusyFraction!.Value);
        reasons.Add($"{Count(measured.Count, "similar job")} of yours kept the GPU busy at most {busiest * 100:0}% of the time " +
                    $"(under {IdleGpuBusyFraction * 100:0}%): a shared GPU ({SharedGpuFraction} of one) instead of a whole one");
        return shape with { Kind = RecommendationKinds.Shared, CpuCores = SharedCores, GpuCount = 0, GpuFraction = SharedGpuFraction };
    }

    /// <summary>Each worker's cores and memory within its share of the runtime and within a job spec's bounds.</summary>
    private static Shape Cap(Shape shape, RuntimeCapacity capacity, List<string> reasons)
    {
        var coresEach = (int)Math.Clamp(Math.Floor(capacity.Total.CpuCores / shape.Workers + 1e-9), JobLimits.MinCpuCores, JobLimits.MaxCpuCores);
        var memoryEach = (int)Math.Clamp(capacity.Total.MemoryBytes / ResourceRequest.BytesPerGb / shape.Workers, JobLimits.MinMemoryGb, JobLimits.MaxMemoryGb);
        var per = shape.Workers > 1 ? " per worker" : "";
        if (shape.CpuCores > coresEach)
        {
            reasons.Add($"cpu_cores {coresEach} instead of {shape.CpuCores}: what the runtime's {Number(capacity.Total.CpuCores)} cores allow{per}");
            shape = shape with { CpuCores = coresEach };
        }
        if (shape.MemoryGb > memoryEach)
        {
            reasons.Add($"memory_gb {memoryEach} instead of {shape.MemoryGb}: what the runtime's memory allows{per}");
            shape = shape with { MemoryGb = memoryEach };
        }
        return shape;
    }

    private static string Count(int count, string what) => count == 1 ? $"1 {what}" : $"{count} {what}s";

    /// <summary>Parameters as people write them (5e+07 → 5e7), sizes as plain numbers.</summary>
    private static string Number(double value) =>
        value >= 1e6 ? value.ToString("0.##e0", CultureInfo.InvariantCulture) : value.ToString("0.##", CultureInfo.InvariantCulture);
}
