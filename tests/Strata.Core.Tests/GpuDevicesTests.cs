using Strata.Core.Runtime;

namespace Strata.Core.Tests;

public sealed class GpuDevicesTests
{
    [Fact]
    public void Nvidia_smi_csv_lines_become_devices()
    {
        const string output = """
            0, GPU-5f1c2b7e-0000-1111-2222-333344445555, NVIDIA A100-SXM4-80GB, 81920 MiB
            1, GPU-6a2d3c8f-0000-1111-2222-333344445555, NVIDIA A100-SXM4-80GB, 81920 MiB

            2, MIG-7b3e4d90-0000-1111-2222-333344445555, Tesla T4, 15360 MiB
            """;
        Assert.Equal(
            [
                new GpuDevice(0, "GPU-5f1c2b7e-0000-1111-2222-333344445555", "NVIDIA A100-SXM4-80GB", 81920),
                new GpuDevice(1, "GPU-6a2d3c8f-0000-1111-2222-333344445555", "NVIDIA A100-SXM4-80GB", 81920),
                new GpuDevice(2, "MIG-7b3e4d90-0000-1111-2222-333344445555", "Tesla T4", 15360),
            ],
            GpuDevices.ParseNvidiaSmi(output));
        Assert.Empty(GpuDevices.ParseNvidiaSmi(""));
    }

    [Theory]
    [InlineData("0, GPU-a, NVIDIA A100")] // three fields
    [InlineData("0, GPU-a, NVIDIA A100, 80 GiB, extra")]
    [InlineData("x, GPU-a, NVIDIA A100, 81920 MiB")] // index
    [InlineData("-1, GPU-a, NVIDIA A100, 81920 MiB")]
    [InlineData("0, 5f1c, NVIDIA A100, 81920 MiB")] // uuid
    [InlineData("0, GPU-a, , 81920 MiB")] // name
    [InlineData("0, GPU-a, NVIDIA A100, [N/A]")] // memory
    [InlineData("0, GPU-a, NVIDIA A100, 81920 KiB")]
    [InlineData("0, GPU-a, NVIDIA A100, 1 MiB\n1, GPU-a, NVIDIA A100, 1 MiB")] // the same uuid twice
    public void A_line_that_is_not_a_device_is_refused(string output)
    {
        Assert.Throws<FormatException>(() => GpuDevices.ParseNvidiaSmi(output));
    }

    [Theory]
    [InlineData("81920 MiB", 81920L)]
    [InlineData("80 GiB", 81920L)]
    [InlineData("16384", 16384L)]
    [InlineData("MiB", null)]
    [InlineData("", null)]
    public void Memory_is_read_in_MiB(string text, long? expected)
    {
        Assert.Equal(expected, GpuDevices.ParseMemoryMb(text));
    }

    [Theory]
    [InlineData("nvidia-a100", "NVIDIA A100-SXM4-80GB", true)]
    [InlineData("nvidia-a100-sxm4-80gb", "NVIDIA A100-SXM4-80GB", true)]
    [InlineData("a100", "NVIDIA A100-SXM4-80GB", true)]
    [InlineData("nvidia-a100", "NVIDIA A100 80GB PCIe", true)]
    [InlineData("nvidia-h100", "NVIDIA H100 80GB HBM3", true)]
    [InlineData("tesla-t4", "Tesla T4", true)]
    [InlineData("t4", "Tesla T4", false)] // the vendor is Tesla here, not NVIDIA
    [InlineData("nvidia-a10", "NVIDIA A100-SXM4-80GB", false)] // a prefix of a word is not a match
    [InlineData("nvidia-a100", "NVIDIA A10", false)]
    [InlineData("nvidia-h100", "NVIDIA A100-SXM4-80GB", false)]
    [InlineData("", "NVIDIA A100-SXM4-80GB", false)]
    public void A_gpu_type_matches_a_device_name_lowercased_and_normalised(string gpuType, string name, bool matches)
    {
        Assert.Equal(matches, GpuDevices.Matches(gpuType, name));
    }

    [Theory]
    [InlineData("NVIDIA A100-SXM4-80GB", "nvidia-a100-sxm4-80gb")]
    [InlineData("  NVIDIA  GeForce RTX 4090 ", "nvidia-geforce-rtx-4090")]
    [InlineData("Tesla T4", "tesla-t4")]
    public void Names_normalise_to_dns_labels(string name, string normalised)
    {
        Assert.Equal(normalised, GpuDevices.Normalise(name));
    }
}
