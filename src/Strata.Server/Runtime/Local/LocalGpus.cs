using System.Diagnostics;
using Strata.Contracts;
using Strata.Core.Runtime;

namespace Strata.Server.Runtime.Local;

/// <summary>
/// The machine's GPUs and which attempt holds each. Every attempt that asks for GPUs gets devices of its own
/// (exclusive, by uuid), recorded in its folder (<see cref="AssignmentFile"/>) so that a restarted server
/// rebuilds who holds what from the folders, and given back when the attempt ends.
/// </summary>
public sealed class LocalGpus
{
    /// <summary>The attempt folder's file naming its devices' uuids, one a line; written before launch.json.</summary>
    public const string AssignmentFile = "gpus";
    private static readonly TimeSpan NvidiaSmiTimeout = TimeSpan.FromSeconds(20);

    private readonly Lock _lock = new();
    /// <summary>Device uuid → the attempt folder that holds it.</summary>
    private readonly Dictionary<string, string> _holders = new(StringComparer.Ordinal);

    public LocalGpus(IReadOnlyList<GpuDevice> devices) => Devices = devices;

    public IReadOnlyList<GpuDevice> Devices { get; }

    /// <summary>The inventory the options give, else what <c>nvidia-smi</c> says; none where neither has any.</summary>
    public static LocalGpus Discover(LocalRuntimeOptions options, ILogger logger)
    {
        if (options.GpuInventory.Count > 0)
        {
            var devices = options.GpuInventory.Select((e, i) => new GpuDevice(e.Index ?? i, e.Uuid.Trim(), e.Name.Trim(), e.MemoryMb)).ToList();
            if (devices.Any(d => d.Uuid.Length == 0 || d.Name.Length == 0))
            {
                throw new InvalidOperationException($"{LocalRuntimeOptions.Section}:GpuInventory has an entry without a Uuid or a Name");
            }
            if (devices.DistinctBy(d => d.Uuid).Count() != devices.Count || devices.DistinctBy(d => d.Index).Count() != devices.Count)
            {
                throw new InvalidOperationException($"{LocalRuntimeOptions.Section}:GpuInventory lists a uuid or an index twice");
            }
            return new LocalGpus(devices);
        }
        if (Resolve(options.NvidiaSmiPath) is not { } smi)
        {
            if (options.NvidiaSmiPath != LocalRuntimeOptions.DefaultNvidiaSmiPath)
            {
                logger.LogWarning("{Section}:NvidiaSmiPath {Path} was not found: no GPUs", LocalRuntimeOptions.Section, options.NvidiaSmiPath);
            }
            return new LocalGpus([]);
        }
        try
        {
            var start = new ProcessStartInfo(smi) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var argument in GpuDevices.NvidiaSmiArguments) start.ArgumentList.Add(argument);
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(NvidiaSmiTimeout))
            {
                process.Kill(entireProcessTree: true);
                logger.LogWarning("{Smi} did not answer within {Seconds} s: no GPUs", smi, NvidiaSmiTimeout.TotalSeconds);
                return new LocalGpus([]);
            }
            if (process.ExitCode != 0)
            {
                logger.LogWarning("{Smi} failed (exit {Code}): {Error}; no GPUs", smi, process.ExitCode, error.Result.Trim());
                return new LocalGpus([]);
            }
            return new LocalGpus(GpuDevices.ParseNvidiaSmi(output.Result));
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or FormatException or IOException)
        {
            logger.LogWarning(e, "Could not read the GPUs from {Smi}: no GPUs", smi);
            return new LocalGpus([]);
        }
    }

    /// <summary>
    /// Gives the attempt in <paramref name="folder"/> <paramref name="count"/> free devices that match
    /// <paramref name="gpuType"/> (any, when null), or the ones it already holds.
    /// </summary>
    /// <exception cref="RuntimeStartException">Not enough free devices of that type.</exception>
    public IReadOnlyList<GpuDevice> Assign(string folder, int count, string? gpuType)
    {
        lock (_lock)
        {
            var held = Devices.Where(d => _holders.GetValueOrDefault(d.Uuid) == folder).ToList();
            if (held.Count > 0) return held;
            var free = Devices.Where(d => !_holders.ContainsKey(d.Uuid) && (gpuType is null || GpuDevices.Matches(gpuType, d.Name))).Take(count).ToList();
            if (free.Count < count)
            {
                throw new RuntimeStartException(gpuType is null
                    ? $"{count} GPUs were asked for and {free.Count} are free"
                    : $"{count} GPUs of type {gpuType} were asked for and {free.Count} are free");
            }
            foreach (var device in free) _holders[device.Uuid] = folder;
            return free;
        }
    }

    /// <summary>Records the assignment in the attempt's folder (before its launch file, so a restart finds it).</summary>
    public static void Write(string folder, IReadOnlyList<GpuDevice> devices) =>
        File.WriteAllLines(Path.Combine(folder, AssignmentFile), devices.Select(d => d.Uuid));

    /// <summary>A restarted server: the attempt in <paramref name="folder"/> holds the devices its file names.</summary>
    public void Restore(string folder)
    {
        string[] uuids;
        try
        {
            uuids = File.ReadAllLines(Path.Combine(folder, AssignmentFile));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return;
        }
        lock (_lock)
        {
            foreach (var uuid in uuids.Select(u => u.Trim()).Where(u => Devices.Any(d => d.Uuid == u))) _holders[uuid] = folder;
        }
    }

    /// <summary>The attempt has ended: its devices are free.</summary>
    public void Release(string folder)
    {
        lock (_lock)
        {
            foreach (var uuid in _holders.Where(h => h.Value == folder).Select(h => h.Key).ToList()) _holders.Remove(uuid);
        }
    }

    public IReadOnlyList<GpuDeviceStatus> Status()
    {
        lock (_lock)
        {
            return Devices.Select(d => new GpuDeviceStatus { Index = d.Index, Uuid = d.Uuid, Name = d.Name, MemoryMb = d.MemoryMb, InUse = _holders.ContainsKey(d.Uuid) }).ToList();
        }
    }

    /// <summary>The device nodes a job with these devices needs: its own <c>/dev/nvidia&lt;index&gt;</c> and the shared control nodes.</summary>
    public static List<string> DeviceNodes(IReadOnlyList<GpuDevice> devices) =>
        [.. devices.Select(d => $"/dev/nvidia{d.Index}"), "/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools"];

    private static string? Resolve(string path)
    {
        if (path.Contains('/')) return File.Exists(path) ? Path.GetFullPath(path) : null;
        foreach (var folder in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(folder, path);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}
