using System.Globalization;
using System.Text;

namespace Strata.Core.Runtime;

/// <summary>One GPU of the machine, as <c>nvidia-smi</c> or the operator's inventory names it.</summary>
/// <param name="Index">The device's index: <c>/dev/nvidia&lt;index&gt;</c>.</param>
/// <param name="Uuid">What <c>CUDA_VISIBLE_DEVICES</c> names it by (<c>GPU-…</c>): stable across reboots, unlike the index.</param>
/// <param name="Name">The product name, e.g. <c>NVIDIA A100-SXM4-80GB</c>.</param>
/// <param name="MemoryMb">Its memory in MiB.</param>
public sealed record GpuDevice(int Index, string Uuid, string Name, long MemoryMb)
{
    public override string ToString() => $"{Index}: {Name}, {MemoryMb} MiB ({Uuid})";
}

/// <summary>One device's sample: its utilisation (%) and memory in use (MiB), each null where <c>nvidia-smi</c> had none (<c>[N/A]</c>).</summary>
public readonly record struct GpuSample(string Uuid, double? UtilizationPercent, long? MemoryUsedMb);

/// <summary>Reads <c>nvidia-smi</c>'s inventory and samples, and matches a job's <c>compute.gpu_type</c> to device names.</summary>
public static class GpuDevices
{
    /// <summary>The arguments whose output <see cref="ParseNvidiaSmi"/> reads.</summary>
    public static readonly string[] NvidiaSmiArguments = ["--query-gpu=index,uuid,name,memory.total", "--format=csv,noheader"];

    /// <summary>The arguments whose output <see cref="ParseSamples"/> reads.</summary>
    public static readonly string[] SampleArguments = ["--query-gpu=uuid,utilization.gpu,memory.used", "--format=csv,noheader,nounits"];

    /// <summary>
    /// Parses <c>nvidia-smi --query-gpu=uuid,utilization.gpu,memory.used --format=csv,noheader,nounits</c>: one line per
    /// device, e.g. <c>GPU-5f1c…, 12, 2048</c>. A value that is not a number (<c>[N/A]</c>, <c>[Not Supported]</c>) is null;
    /// a line that is not three fields with a uuid is skipped: a sample is worth less than an error.
    /// </summary>
    public static IReadOnlyList<GpuSample> ParseSamples(string output)
    {
        var samples = new List<GpuSample>();
        foreach (var raw in output.Split('\n'))
        {
            var fields = raw.Split(',').Select(f => f.Trim()).ToArray();
            if (fields.Length != 3 || !(fields[0].StartsWith("GPU-", StringComparison.Ordinal) || fields[0].StartsWith("MIG-", StringComparison.Ordinal))) continue;
            double? utilization = double.TryParse(fields[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var u) && u >= 0 ? Math.Min(u, 100) : null;
            long? memory = double.TryParse(fields[2], NumberStyles.Float, CultureInfo.InvariantCulture, out var m) && m >= 0 ? (long)m : null;
            samples.Add(new GpuSample(fields[0], utilization, memory));
        }
        return samples;
    }

    /// <summary>
    /// Parses <c>nvidia-smi --query-gpu=index,uuid,name,memory.total --format=csv,noheader</c>: one line per
    /// device, e.g. <c>0, GPU-5f1c…, NVIDIA A100-SXM4-80GB, 81920 MiB</c>. Blank lines are skipped.
    /// </summary>
    /// <exception cref="FormatException">A line is not four fields, or its index, uuid or memory is not one.</exception>
    public static IReadOnlyList<GpuDevice> ParseNvidiaSmi(string output)
    {
        var devices = new List<GpuDevice>();
        foreach (var raw in output.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0) continue;
            var fields = line.Split(',').Select(f => f.Trim()).ToArray();
            if (fields.Length != 4) throw new FormatException($"expected 4 fields (index, uuid, name, memory.total): '{line}'");
            if (!int.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out var index)) throw new FormatException($"the index is not a number: '{line}'");
            if (!fields[1].StartsWith("GPU-", StringComparison.Ordinal) && !fields[1].StartsWith("MIG-", StringComparison.Ordinal)) throw new FormatException($"the uuid is not a GPU-… or MIG-… uuid: '{line}'");
            if (fields[2].Length == 0) throw new FormatException($"the name is empty: '{line}'");
            devices.Add(new GpuDevice(index, fields[1], fields[2], ParseMemoryMb(fields[3]) ?? throw new FormatException($"the memory is not '<n> MiB': '{line}'")));
        }
        if (devices.DistinctBy(d => d.Uuid).Count() != devices.Count) throw new FormatException("two devices have the same uuid");
        return devices;
    }

    /// <summary><c>81920 MiB</c>, <c>80 GiB</c> or a bare number of MiB.</summary>
    public static long? ParseMemoryMb(string text)
    {
        var parts = text.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length is 0 or > 2 || !double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < 0) return null;
        var unit = parts.Length == 2 ? parts[1] : "MiB";
        return unit switch
        {
            "MiB" or "MB" => (long)value,
            "GiB" or "GB" => (long)(value * 1024),
            _ => null,
        };
    }

    /// <summary>Lowercase, every run of characters other than letters and digits one dash: <c>NVIDIA A100-SXM4-80GB</c> is <c>nvidia-a100-sxm4-80gb</c>.</summary>
    public static string Normalise(string name)
    {
        var text = new StringBuilder(name.Length);
        foreach (var c in name.ToLowerInvariant())
        {
            if (char.IsAsciiLetterOrDigit(c)) text.Append(c);
            else if (text.Length > 0 && text[^1] != '-') text.Append('-');
        }
        return text.ToString().TrimEnd('-');
    }

    /// <summary>
    /// Whether a job's <c>gpu_type</c> names this device: its normalised name is the type, or starts with the
    /// type and a dash (<c>nvidia-a100</c> matches <c>NVIDIA A100-SXM4-80GB</c>, not <c>NVIDIA A10</c>). A type
    /// without the vendor (<c>a100</c>) matches too.
    /// </summary>
    public static bool Matches(string gpuType, string deviceName)
    {
        var type = Normalise(gpuType);
        var name = Normalise(deviceName);
        if (type.Length == 0) return false;
        return PrefixOf(type, name) || PrefixOf("nvidia-" + type, name);

        static bool PrefixOf(string type, string name) =>
            name == type || name.StartsWith(type + "-", StringComparison.Ordinal);
    }
}
