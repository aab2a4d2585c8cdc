using Strata.Core.Runtime;

namespace Strata.Core.Tests;

public sealed class ResourceRequestTests
{
    private const long Gb = ResourceRequest.BytesPerGb;

    [Fact]
    public void FromGb_converts_gigabytes_to_bytes()
    {
        Assert.Equal(new ResourceRequest(2, 3 * Gb, 1), ResourceRequest.FromGb(2, 3, 1));
        Assert.Equal(Gb / 2, ResourceRequest.FromGb(1, 0.5, 0).MemoryBytes);
    }

    [Theory]
    [InlineData(4L << 30, "4 GB")]
    [InlineData(3L << 29, "1.5 GB")]
    [InlineData(1643L << 20, "1.6 GB")]
    [InlineData(0, "0 GB")]
    public void FormatGb_gives_sizes_in_the_unit_memory_gb_is_asked_in(long bytes, string expected) =>
        Assert.Equal(expected, ResourceRequest.FormatGb(bytes));

    [Fact]
    public void Adds_subtracts_and_multiplies_in_every_dimension()
    {
        var a = new ResourceRequest(2, 4 * Gb, 1);
        var b = new ResourceRequest(0.5, 1 * Gb, 2);

        Assert.Equal(new ResourceRequest(2.5, 5 * Gb, 3), a + b);
        Assert.Equal(new ResourceRequest(1.5, 3 * Gb, -1), a - b);
        Assert.Equal(new ResourceRequest(6, 12 * Gb, 3), a * 3);
        Assert.Equal(default, a * 0);
        Assert.Equal(a, a + b - b);
    }

    [Theory]
    [InlineData(2, 4, 0, 2, 4, 0, true)] // exactly the same
    [InlineData(1, 1, 0, 2, 4, 0, true)]
    [InlineData(3, 1, 0, 2, 4, 0, false)] // cores
    [InlineData(1, 5, 0, 2, 4, 0, false)] // memory
    [InlineData(1, 1, 1, 2, 4, 0, false)] // gpus
    [InlineData(1, 1, 1, 2, 4, 1, true)]
    [InlineData(0, 0, 0, 0, 0, 0, true)] // nothing fits in nothing
    [InlineData(1, 1, 0, -1, 4, 0, false)] // over-committed capacity fits nothing
    public void FitsIn_holds_only_when_every_dimension_fits(double cpu, double memoryGb, int gpus, double freeCpu, double freeGb, int freeGpus, bool fits)
    {
        Assert.Equal(fits, ResourceRequest.FromGb(cpu, memoryGb, gpus).FitsIn(ResourceRequest.FromGb(freeCpu, freeGb, freeGpus)));
    }

    [Fact]
    public void FitsIn_tolerates_rounding_of_fractional_cores()
    {
        // 0.1 + 0.2 is 0.30000000000000004 in binary floating point.
        var free = new ResourceRequest(0.1 + 0.2, Gb, 0);
        Assert.True(new ResourceRequest(0.3, Gb, 0).FitsIn(free));
        var left = new ResourceRequest(1, Gb, 0) - new ResourceRequest(0.7, 0, 0);
        Assert.True(new ResourceRequest(0.3, Gb, 0).FitsIn(left));
    }

    [Fact]
    public void A_few_bytes_over_the_free_memory_do_not_fit()
    {
        Assert.False(new ResourceRequest(1, Gb + 1, 0).FitsIn(new ResourceRequest(1, Gb, 0)));
    }

    [Fact]
    public void Describes_itself_in_cores_gigabytes_and_gpus()
    {
        Assert.Equal("2.5 cores, 1.5 GB, 1 GPUs", ResourceRequest.FromGb(2.5, 1.5, 1).ToString());
    }

    [Fact]
    public void An_attempt_is_named_by_its_job_and_number()
    {
        var attempt = new AttemptRef("team-a", "0198-abc", 2);
        Assert.Equal("0198-abc-2", attempt.Name);
        Assert.Equal("team-a/0198-abc-2", attempt.ToString());
    }
}
