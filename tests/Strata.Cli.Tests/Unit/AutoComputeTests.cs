using Strata.Cli.Commands;
using Strata.Cli.Tests.Support;
using Strata.Contracts;

namespace Strata.Cli.Tests.Unit;

public sealed class AutoComputeTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_local_file_or_folder_is_measured_and_anything_else_is_not()
    {
        var file = _dir.File("a.bin", new string('x', 1024));
        Directory.CreateDirectory(Path.Combine(_dir.Path, "nested"));
        _dir.File(Path.Combine("nested", "b.bin"), new string('y', 2048));

        Assert.Equal(1024 / (double)(1L << 30), AutoCompute.LocalDatasetSizeGb(file));
        Assert.Equal(3072 / (double)(1L << 30), AutoCompute.LocalDatasetSizeGb(_dir.Path));
        Assert.Null(AutoCompute.LocalDatasetSizeGb("s3://bucket/train.csv"));
        Assert.Null(AutoCompute.LocalDatasetSizeGb("artifact://abc"));
        Assert.Null(AutoCompute.LocalDatasetSizeGb(Path.Combine(_dir.Path, "missing")));
        Assert.Null(AutoCompute.LocalDatasetSizeGb(null));
    }

    [Fact]
    public void The_recommendation_replaces_the_specs_compute_and_gang_and_keeps_what_it_does_not_choose()
    {
        var spec = new TrainingJobSpec
        {
            Name = "big",
            Compute = new ComputeSpec { Type = ComputeTypes.Cpu, CpuCores = 1, MemoryGb = 1, GpuType = "nvidia-a100", DiskGb = 50 },
            Distributed = new DistributedSpec { NumWorkers = 8 },
        };
        var recommendation = new ComputeRecommendation
        {
            Kind = RecommendationKinds.Distributed,
            Compute = new ComputeSpec { Type = ComputeTypes.Gpu, CpuCores = 4, MemoryGb = 33, GpuCount = 1 },
            Distributed = new DistributedSpec { NumWorkers = 4 },
            Reasons = ["large"],
            SimilarJobs = [],
        };

        var applied = AutoCompute.Apply(spec, recommendation);

        Assert.Equal(new ComputeSpec { Type = ComputeTypes.Gpu, CpuCores = 4, MemoryGb = 33, GpuCount = 1, GpuType = "nvidia-a100", DiskGb = 50 }, applied.Compute);
        Assert.Equal(4, applied.Distributed!.NumWorkers);
        Assert.Equal("4 workers × (gpu, 1 GPU, 4 cores, 33 GB)", RecommendCommand.Describe(recommendation));

        var shared = recommendation with
        {
            Kind = RecommendationKinds.Shared,
            Compute = new ComputeSpec { Type = ComputeTypes.Cpu, CpuCores = 2, MemoryGb = 4 },
            Distributed = null,
        };
        var onCpus = AutoCompute.Apply(spec, shared);
        Assert.Null(onCpus.Compute!.GpuType); // a GPU model means nothing without GPUs
        Assert.Null(onCpus.Distributed);
        Assert.Equal("cpu, 2 cores, 4 GB", RecommendCommand.Describe(shared));
    }
}
