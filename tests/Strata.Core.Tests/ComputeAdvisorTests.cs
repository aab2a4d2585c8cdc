using Strata.Contracts;
using Strata.Core.Jobs;
using Strata.Core.Recommendations;
using Strata.Core.Runtime;

namespace Strata.Core.Tests;

public sealed class ComputeAdvisorTests
{
    private const long GiB = ResourceRequest.BytesPerGb;

    /// <summary>A GPU node: 8 GPUs, 64 cores, 512 GB, gangs of up to 16.</summary>
    private static readonly RuntimeCapacity GpuNode = new(ResourceRequest.FromGb(64, 512, 8), MaxWorkersPerJob: 16);

    /// <summary>A laptop: 8 cores, 32 GB, no GPU, one worker per job (a local runtime whose sandbox has no network).</summary>
    private static readonly RuntimeCapacity Laptop = new(ResourceRequest.FromGb(8, 32, 0), MaxWorkersPerJob: 1);

    private static ComputeRecommendation Recommend(double datasetGb, long parameters, RuntimeCapacity capacity, string? framework = null, params PastJob[] history) =>
        ComputeAdvisor.Recommend(datasetGb, parameters, framework, capacity, history);

    // The lecture's SmartGPUScheduler, row by row, on both sides of each threshold.
    [Theory]
    [InlineData(0, 1, "shared", 0, 1)]
    [InlineData(9.99, 99_999_999, "shared", 0, 1)]
    [InlineData(10, 50_000_000, "dedicated", 1, 1)] // dataset at the small threshold
    [InlineData(5, 100_000_000, "dedicated", 1, 1)] // params at the small threshold
    [InlineData(99.9, 999_999_999, "dedicated", 1, 1)]
    [InlineData(100, 50_000_000, "distributed", 1, 2)] // a large dataset: at least 2 GPUs
    [InlineData(5, 1_000_000_000, "distributed", 1, 2)] // 1e9 // 1e9 = 1, raised to 2
    [InlineData(5, 3_500_000_000, "distributed", 1, 3)] // floor(3.5)
    [InlineData(500, 7_000_000_000, "distributed", 1, 7)]
    [InlineData(5, 70_000_000_000, "distributed", 1, 8)] // capped at 8
    public void The_lecture_thresholds_choose_the_kind_and_the_gpus(double datasetGb, long parameters, string kind, int gpusPerWorker, int workers)
    {
        var answer = Recommend(datasetGb, parameters, GpuNode);

        Assert.Equal(kind, answer.Kind);
        Assert.Equal(ComputeTypes.Gpu, answer.Compute.Type);
        if (kind == RecommendationKinds.Shared)
        {
            Assert.Equal(0.25, answer.Compute.GpuFraction);
            Assert.Null(answer.Compute.GpuCount);
        }
        else
        {
            Assert.Equal(gpusPerWorker, answer.Compute.GpuCount);
            Assert.Null(answer.Compute.GpuFraction);
        }
        Assert.Equal(workers > 1 ? workers : null, answer.Distributed?.NumWorkers);
        Assert.Empty(answer.SimilarJobs);
        Assert.Contains(answer.Reasons, r => r.Contains(kind == "distributed" ? "a large workload" : kind == "dedicated" ? "a medium workload" : "a small workload", StringComparison.Ordinal));
    }

    [Fact]
    public void The_reasons_name_the_threshold_and_the_memory_estimate()
    {
        var answer = Recommend(5, 50_000_000, GpuNode);

        Assert.Equal("dataset 5 GB < 10 GB and 5e7 parameters < 1e8: a small workload, which shares a GPU (0.25 of one)", answer.Reasons[0]);
        // 2 GB + 5e7 × 16 bytes (0.75 GB) + 5/4 GB = 4 GB.
        Assert.Equal(4, answer.Compute.MemoryGb);
        Assert.Equal(2, answer.Compute.CpuCores);
        Assert.StartsWith("memory estimate 4 GB per worker", answer.Reasons[1], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(5, 50_000_000, "shared", 2, 1)]
    [InlineData(50, 500_000_000, "dedicated", 8, 1)]
    [InlineData(500, 5_000_000_000, "dedicated", 8, 1)] // large, but no gang on a one-worker runtime: 16 cores capped at the laptop's 8
    public void A_runtime_without_gpus_gets_cpu_compute_sized_from_the_dataset_and_the_model(double datasetGb, long parameters, string kind, int cores, int workers)
    {
        var answer = Recommend(datasetGb, parameters, Laptop);

        Assert.Equal(kind, answer.Kind);
        Assert.Equal(ComputeTypes.Cpu, answer.Compute.Type);
        Assert.Equal(cores, answer.Compute.CpuCores);
        Assert.Null(answer.Compute.GpuCount);
        Assert.Null(answer.Compute.GpuFraction);
        Assert.Equal(workers > 1 ? workers : null, answer.Distributed?.NumWorkers);
        Assert.Contains("the runtime has no GPUs: CPU compute, sized from the dataset and the model", answer.Reasons);
    }

    [Fact]
    public void A_large_model_on_a_runtime_without_gpus_is_capped_to_its_memory_and_says_so()
    {
        // 5e9 × 16 bytes = 74.5 GB of model state: more than the laptop's 32 GB.
        var answer = Recommend(500, 5_000_000_000, Laptop);

        Assert.Equal(32, answer.Compute.MemoryGb);
        Assert.Contains("the runtime runs at most 1 worker per job: 1 instead of 5", answer.Reasons);
        Assert.Contains("memory_gb 32 instead of 93: what the runtime's memory allows", answer.Reasons);
        Assert.Contains("cpu_cores 8 instead of 16: what the runtime's 8 cores allow", answer.Reasons);
    }

    [Fact]
    public void A_large_model_on_a_cpu_runtime_with_gangs_is_distributed_over_cpu_workers()
    {
        var cluster = new RuntimeCapacity(ResourceRequest.FromGb(256, 1024, 0), MaxWorkersPerJob: 64);

        var answer = Recommend(500, 4_000_000_000, cluster);

        Assert.Equal(RecommendationKinds.Distributed, answer.Kind);
        Assert.Equal(ComputeTypes.Cpu, answer.Compute.Type);
        Assert.Equal(4, answer.Distributed!.NumWorkers);
        Assert.Equal(8, answer.Compute.CpuCores);
        // 2 + 4e9 × 16 / 4 workers (14.9) + 16 = 32.9 → 33 GB each.
        Assert.Equal(33, answer.Compute.MemoryGb);
    }

    [Theory]
    [InlineData(4, 16, "distributed", 1, 4)] // 7 GPUs wanted, 4 present
    [InlineData(8, 4, "distributed", 1, 4)] // a gang of at most 4
    [InlineData(8, 1, "dedicated", 7, 1)] // no gangs: one worker holds the GPUs
    [InlineData(1, 16, "dedicated", 1, 1)] // one GPU in all
    public void The_runtime_bounds_a_large_models_gang(int gpus, int maxWorkers, string kind, int gpusPerWorker, int workers)
    {
        var capacity = new RuntimeCapacity(ResourceRequest.FromGb(64, 512, gpus), maxWorkers);

        var answer = Recommend(500, 7_000_000_000, capacity);

        Assert.Equal(kind, answer.Kind);
        Assert.Equal(gpusPerWorker, answer.Compute.GpuCount);
        Assert.Equal(workers > 1 ? workers : null, answer.Distributed?.NumWorkers);
        Assert.True(answer.Reasons.Count >= 3, string.Join(" | ", answer.Reasons));
    }

    [Theory]
    [InlineData(Frameworks.ScikitLearn, "cpu", "dedicated")]
    [InlineData(Frameworks.MlNet, "cpu", "dedicated")]
    [InlineData(Frameworks.TensorFlow, "gpu", "dedicated")]
    [InlineData(Frameworks.Jax, "gpu", "dedicated")]
    [InlineData(Frameworks.XgBoost, "gpu", "dedicated")]
    [InlineData(Frameworks.PyTorch, "gpu", "distributed")]
    [InlineData(null, "gpu", "distributed")]
    public void The_framework_decides_cpus_or_gpus_and_whether_a_gang_can_form(string? framework, string type, string kind)
    {
        var answer = Recommend(500, 4_000_000_000, GpuNode, framework);

        Assert.Equal(type, answer.Compute.Type);
        Assert.Equal(kind, answer.Kind);
        if (framework is Frameworks.TensorFlow or Frameworks.Jax or Frameworks.XgBoost)
        {
            Assert.Equal(4, answer.Compute.GpuCount); // one worker, all four GPUs
            Assert.Contains($"{framework} does not read torchrun's variables that Strata's gangs set: one worker instead of 4", answer.Reasons);
        }
    }

    [Fact]
    public void Similar_jobs_peak_memory_replaces_the_estimate_with_headroom()
    {
        var history = new[]
        {
            Dedicated("newest", datasetGb: 40, peakGb: 6),
            Dedicated("older", datasetGb: null, peakGb: 9.5), // data not an artifact: matched on shape alone
            Dedicated("no-measurement", datasetGb: 50, peakGb: null),
        };

        var answer = Recommend(50, 500_000_000, GpuNode, null, history);

        Assert.Equal(RecommendationKinds.Dedicated, answer.Kind);
        Assert.Equal(12, answer.Compute.MemoryGb); // 9.5 × 1.25 = 11.875 → 12, not the estimate 22
        Assert.Equal(["newest", "older"], answer.SimilarJobs);
        Assert.Contains("2 similar jobs of yours peaked at 9.5 GB: memory_gb 12 (the peak plus 25% headroom) instead of the estimate 22", answer.Reasons);
    }

    [Fact]
    public void History_raises_memory_too_within_the_runtime()
    {
        var answer = Recommend(50, 500_000_000, GpuNode, null, Dedicated("hungry", datasetGb: 60, peakGb: 100));

        Assert.Equal(125, answer.Compute.MemoryGb);
        Assert.Equal(["hungry"], answer.SimilarJobs);

        var small = new RuntimeCapacity(ResourceRequest.FromGb(16, 64, 1), 1);
        var capped = Recommend(50, 500_000_000, small, null, Dedicated("hungry", datasetGb: 60, peakGb: 100));
        Assert.Equal(64, capped.Compute.MemoryGb);
        Assert.Contains("memory_gb 64 instead of 125: what the runtime's memory allows", capped.Reasons);
    }

    [Theory]
    [InlineData(101)] // more than twice the request's 50 GB
    [InlineData(24)] // less than half
    public void Jobs_with_a_dataset_outside_a_factor_of_two_are_not_similar(double pastDatasetGb)
    {
        var answer = Recommend(50, 500_000_000, GpuNode, null, Dedicated("other", pastDatasetGb, peakGb: 100));

        Assert.Empty(answer.SimilarJobs);
        Assert.Equal(22, answer.Compute.MemoryGb);
    }

    [Fact]
    public void Jobs_of_another_shape_are_not_similar()
    {
        var history = new[]
        {
            Dedicated("two-gpus", 50, 100) with { GpusPerWorker = 2 },
            Dedicated("shared", 50, 100) with { GpusPerWorker = 0, GpuFraction = 0.25 },
            Dedicated("cpu", 50, 100) with { ComputeType = ComputeTypes.Cpu, GpusPerWorker = 0 },
            Dedicated("gang", 50, 100) with { Workers = 2 },
        };

        var answer = Recommend(50, 500_000_000, GpuNode, null, history);

        Assert.Empty(answer.SimilarJobs);
        Assert.Equal(22, answer.Compute.MemoryGb);
    }

    [Fact]
    public void Only_the_newest_ten_similar_jobs_count()
    {
        var history = Enumerable.Range(0, 10).Select(i => Dedicated($"recent-{i}", 50, 4))
            .Append(Dedicated("eleventh", 50, 200)).ToArray();

        var answer = Recommend(50, 500_000_000, GpuNode, null, history);

        Assert.Equal(5, answer.Compute.MemoryGb);
        Assert.DoesNotContain("eleventh", answer.SimilarJobs);
    }

    [Fact]
    public void A_gpu_that_similar_jobs_left_idle_is_shared_instead()
    {
        var history = new[]
        {
            Dedicated("idle-1", 50, 3) with { GpuBusyFraction = 0.12 },
            Dedicated("idle-2", 50, null) with { GpuBusyFraction = 0.2 },
        };

        var answer = Recommend(50, 500_000_000, GpuNode, null, history);

        Assert.Equal(RecommendationKinds.Shared, answer.Kind);
        Assert.Equal(0.25, answer.Compute.GpuFraction);
        Assert.Null(answer.Compute.GpuCount);
        Assert.Equal(["idle-1", "idle-2"], answer.SimilarJobs);
        Assert.Contains("2 similar jobs of yours kept the GPU busy at most 20% of the time (under 25%): a shared GPU (0.25 of one) instead of a whole one", answer.Reasons);
    }

    [Fact]
    public void One_busy_similar_job_keeps_the_gpu_dedicated()
    {
        var history = new[]
        {
            Dedicated("idle", 50, null) with { GpuBusyFraction = 0.1 },
            Dedicated("busy", 50, null) with { GpuBusyFraction = 0.9 },
        };

        var answer = Recommend(50, 500_000_000, GpuNode, null, history);

        Assert.Equal(RecommendationKinds.Dedicated, answer.Kind);
        Assert.Equal(1, answer.Compute.GpuCount);
        Assert.Empty(answer.SimilarJobs);
    }

    [Fact]
    public void Every_answer_is_a_valid_job_spec_compute_on_its_runtime()
    {
        foreach (var capacity in new[] { GpuNode, Laptop, new RuntimeCapacity(ResourceRequest.FromGb(0.5, 0.5, 0), 1) })
        {
            foreach (var (data, parameters) in new[] { (0.0, 1L), (5.0, 50_000_000L), (50.0, 500_000_000L), (1_000_000.0, 10_000_000_000_000L) })
            {
                var answer = Recommend(data, parameters, capacity);
                Assert.InRange(answer.Compute.CpuCores!.Value, JobLimits.MinCpuCores, JobLimits.MaxCpuCores);
                Assert.InRange(answer.Compute.MemoryGb!.Value, JobLimits.MinMemoryGb, JobLimits.MaxMemoryGb);
                var workers = answer.Distributed?.NumWorkers ?? 1;
                Assert.True(answer.Compute.CpuCores * workers <= Math.Max(capacity.Total.CpuCores, 1), $"{capacity}: {answer.Compute}");
                Assert.True((answer.Compute.GpuCount ?? 0) * workers <= capacity.Total.Gpus, $"{capacity}: {answer.Compute}");
            }
        }
    }

    [Theory]
    [InlineData(5.0, 5e7, null, null)]
    [InlineData(0.0, 1.0, "pytorch", null)]
    [InlineData(null, 5e7, null, "dataset_size_gb")]
    [InlineData(-1.0, 5e7, null, "dataset_size_gb")]
    [InlineData(double.NaN, 5e7, null, "dataset_size_gb")]
    [InlineData(double.PositiveInfinity, 5e7, null, "dataset_size_gb")]
    [InlineData(2e6, 5e7, null, "dataset_size_gb")]
    [InlineData(5.0, null, null, "model_params")]
    [InlineData(5.0, 0.0, null, "model_params")]
    [InlineData(5.0, 1.5, null, "model_params")]
    [InlineData(5.0, 1e14, null, "model_params")]
    [InlineData(5.0, double.NaN, null, "model_params")]
    [InlineData(5.0, 5e7, "PyTorch", "framework")]
    [InlineData(5.0, 5e7, "", "framework")]
    [InlineData(5.0, 5e7, "keras", "framework")]
    public void Requests_are_checked_field_by_field(double? datasetGb, double? parameters, string? framework, string? badField)
    {
        var errors = new ValidationErrors();

        ComputeRequestValidator.Validate(new ComputeRecommendationRequest { DatasetSizeGb = datasetGb, ModelParams = parameters, Framework = framework }, errors);

        Assert.Equal(badField is null ? [] : [badField], errors.ToDictionary().Keys);
    }

    private static PastJob Dedicated(string id, double? datasetGb, double? peakGb) => new()
    {
        Id = id,
        ComputeType = ComputeTypes.Gpu,
        GpusPerWorker = 1,
        DatasetSizeGb = datasetGb,
        PeakMemoryBytes = peakGb is { } gb ? (long)(gb * GiB) : null,
    };
}
