using System.Diagnostics;
using System.Globalization;
using Strata.Contracts;
using Strata.Core.Runtime;

namespace Strata.Server.Runtime.Local;

/// <summary>
/// The machine's GPUs and which attempt holds what of each. An attempt that asks for whole GPUs gets devices
/// nobody uses; one that asks for a share (<c>compute.gpu_fraction</c>) gets a device shared with others, by
/// <see cref="GpuPool"/>'s rule (the scheduler's too). Either is recorded in its folder
/// (<see cref="AssignmentFile"/>) so that a restarted server rebuilds who holds what from the folders, and given
/// back when the attempt ends. Where <c>nvidia-smi</c> found the devices, their utilisation and memory are
/// sampled while attempts hold them, and each attempt's summary kept in its folder (<see cref="UsageFile"/>).
/// </summary>
public sealed class LocalGpus : IDisposable
{
    /// <summary>The attempt folder's file naming its devices' uuids, one a line, each followed by the share held where it is one; written before launch.json.</summary>
    public const string AssignmentFile = "gpus";
    /// <summary>The attempt folder's GPU samples so far: <c>&lt;samples&gt; &lt;sum of utilisation %&gt; &lt;peak memory MiB&gt;</c>.</summary>
    public const string UsageFile = "gpu-usage";
    private static readonly TimeSpan NvidiaSmiTimeout = TimeSpan.FromSeconds(20);

    private readonly Lock _lock = new();
    private readonly GpuPool _pool;
    /// <summary>Attempt folder → the devices it holds and how much of each.</summary>
    private readonly Dictionary<string, Holding> _holders = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();

    public LocalGpus(IReadOnlyList<GpuDevice> devices)
    {
        Devices = devices;
        _pool = new GpuPool(devices);
    }

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
            var gpus = new LocalGpus(GpuDevices.ParseNvidiaSmi(output.Result));
            if (gpus.Devices.Count > 0 && options.GpuSampleSeconds > 0) gpus.StartSampling(smi, TimeSpan.FromSeconds(options.GpuSampleSeconds), logger);
            return gpus;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or FormatException or IOException)
        {
            logger.LogWarning(e, "Could not read the GPUs from {Smi}: no GPUs", smi);
            return new LocalGpus([]);
        }
    }

    /// <summary>
    /// Gives the attempt in <paramref name="folder"/> the devices <paramref name="demand"/> asks for (whole ones
    /// nobody uses, or a share of a device), or the ones it already holds.
    /// </summary>
    /// <exception cref="RuntimeStartException">No devices of that type have room for it.</exception>
    public IReadOnlyList<GpuDevice> Assign(string folder, GpuDemand demand)
    {
        lock (_lock)
        {
            if (_holders.TryGetValue(folder, out var held)) return held.Devices;
            var devices = _pool.TryPlace(demand) ?? throw new RuntimeStartException($"no devices have room for {demand}");
            _holders[folder] = new Holding(devices, demand.MilliEach);
            return devices;
        }
    }

    /// <summary>Records the assignment in the attempt's folder (before its launch file, so a restart finds it): a share as <c>&lt;uuid&gt; 0.25</c>.</summary>
    public static void Write(string folder, IReadOnlyList<GpuDevice> devices, long milliEach = ResourceRequest.MilliPerGpu) =>
        File.WriteAllLines(Path.Combine(folder, AssignmentFile), devices.Select(d => milliEach == ResourceRequest.MilliPerGpu
            ? d.Uuid
            : string.Create(CultureInfo.InvariantCulture, $"{d.Uuid} {milliEach / (double)ResourceRequest.MilliPerGpu:0.###}")));

    /// <summary>A restarted server: the attempt in <paramref name="folder"/> holds the devices (and shares) its file names.</summary>
    public void Restore(string folder)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(Path.Combine(folder, AssignmentFile));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return;
        }
        var entries = lines.Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Where(fields => fields.Length > 0).ToList();
        var devices = entries.Select(fields => Devices.FirstOrDefault(d => d.Uuid == fields[0])).OfType<GpuDevice>().ToList();
        if (devices.Count == 0) return;
        var share = entries[0] is [_, var fraction] && double.TryParse(fraction, NumberStyles.Float, CultureInfo.InvariantCulture, out var f) ? ResourceRequest.MilliOf(f) : ResourceRequest.MilliPerGpu;
        lock (_lock)
        {
            if (_holders.ContainsKey(folder)) return;
            _holders[folder] = new Holding(devices, share);
            foreach (var device in devices) _pool.Take(device.Uuid, share);
            if (ReadUsage(folder) is { } usage) _holders[folder].Usage = usage;
        }
    }

    /// <summary>The attempt has ended: what it held is free.</summary>
    public void Release(string folder)
    {
        lock (_lock)
        {
            if (!_holders.Remove(folder, out var held)) return;
            foreach (var device in held.Devices) _pool.Give(device.Uuid, held.MilliEach);
        }
    }

    public IReadOnlyList<GpuDeviceStatus> Status()
    {
        lock (_lock)
        {
            return Devices.Select(d => new GpuDeviceStatus
            {
                Index = d.Index, Uuid = d.Uuid, Name = d.Name, MemoryMb = d.MemoryMb,
                InUse = _pool.UsedOf(d.Uuid) > 0, Allocated = _pool.UsedOf(d.Uuid) / (double)ResourceRequest.MilliPerGpu,
            }).ToList();
        }
    }

    /// <summary>The devices and what each live attempt holds of them, for the scheduler (an attempt by its folder's name, <see cref="AttemptRef.Name"/>).</summary>
    public GpuOccupancy Occupancy()
    {
        lock (_lock)
        {
            return new GpuOccupancy(Devices, [.. _holders.SelectMany(h => h.Value.Devices.Select(d => new GpuHolding(AttemptName(h.Key), d.Uuid, h.Value.MilliEach)))]);
        }
    }

    /// <summary>The attempt a folder's devices are held by: its own, or for a gang's rank (<c>ranks/&lt;n&gt;</c> in it) its attempt's.</summary>
    private static string AttemptName(string folder) =>
        Path.GetFileName(Path.GetDirectoryName(folder)) == LocalJobRuntime.RanksFolder
            ? Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(folder)))!
            : Path.GetFileName(folder);

    /// <summary>
    /// The observation of an ended worker with what its GPU samples say: the average utilisation of its devices
    /// and the most memory in use on them. Unchanged where none were taken.
    /// </summary>
    public static AttemptObservation WithUsage(string folder, AttemptObservation observation) =>
        ReadUsage(folder) is { Samples: > 0 } usage
            ? observation with { GpuUtilizationPercent = Math.Round(usage.UtilizationSum / usage.Samples, 1), GpuPeakMemoryMb = usage.PeakMemoryMb }
            : observation;

    /// <summary>
    /// Every <paramref name="interval"/> while attempts hold devices: asks <paramref name="smi"/> for each device's
    /// utilisation and memory in use, and adds each device's sample to the attempts holding it (all the attempts
    /// sharing a device see the whole device's sample: <c>nvidia-smi</c> does not split time-sliced use).
    /// </summary>
    private void StartSampling(string smi, TimeSpan interval, ILogger logger) => _ = Task.Run(async () =>
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token))
            {
                lock (_lock)
                {
                    if (_holders.Count == 0) continue;
                }
                try
                {
                    if (await RunAsync(smi, GpuDevices.SampleArguments, _stopping.Token) is { } output) Record(GpuDevices.ParseSamples(output));
                    else logger.LogDebug("{Smi} gave no GPU sample", smi);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // One lost sample: the next round tries again.
                    logger.LogWarning(e, "Could not sample the GPUs with {Smi}", smi);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    });

    /// <summary>Adds one round of samples to the attempts holding the sampled devices, and writes each one's summary to its folder.</summary>
    internal void Record(IReadOnlyList<GpuSample> samples)
    {
        var byUuid = samples.DistinctBy(s => s.Uuid).ToDictionary(s => s.Uuid, StringComparer.Ordinal);
        List<(string Folder, GpuUsage Usage)> changed = [];
        lock (_lock)
        {
            foreach (var (folder, held) in _holders)
            {
                var own = held.Devices.Select(d => byUuid.GetValueOrDefault(d.Uuid)).Where(s => s.Uuid is not null).ToList();
                var utilization = own.Where(s => s.UtilizationPercent is not null).Select(s => s.UtilizationPercent!.Value).ToList();
                if (utilization.Count == 0) continue;
                var memory = own.Sum(s => s.MemoryUsedMb ?? 0);
                held.Usage = new GpuUsage(held.Usage.Samples + 1, held.Usage.UtilizationSum + utilization.Average(), Math.Max(held.Usage.PeakMemoryMb, memory));
                changed.Add((folder, held.Usage));
            }
        }
        foreach (var (folder, usage) in changed) WriteUsage(folder, usage);
    }

    private static void WriteUsage(string folder, GpuUsage usage)
    {
        try
        {
            // Replaced whole, so that a reader (or a restart) never sees half a summary.
            var path = Path.Combine(folder, UsageFile);
            File.WriteAllText(path + ".tmp", string.Create(CultureInfo.InvariantCulture, $"{usage.Samples} {usage.UtilizationSum:R} {usage.PeakMemoryMb}\n"));
            File.Move(path + ".tmp", path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The attempt's folder is gone (it ended and was forgotten): its sample does not matter any more.
        }
    }

    private static GpuUsage? ReadUsage(string folder)
    {
        var path = Path.Combine(folder, UsageFile);
        // Most attempts have no GPU: a look is cheaper than an exception at the end of each.
        if (!File.Exists(path)) return null;
        try
        {
            var fields = File.ReadAllText(path).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            return fields.Length == 3
                   && int.TryParse(fields[0], CultureInfo.InvariantCulture, out var samples)
                   && double.TryParse(fields[1], CultureInfo.InvariantCulture, out var sum)
                   && long.TryParse(fields[2], CultureInfo.InvariantCulture, out var peak)
                ? new GpuUsage(samples, sum, peak)
                : null;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    public void Dispose()
    {
        if (_stopping.IsCancellationRequested) return;
        _stopping.Cancel();
    }

    /// <summary>Runs <c>nvidia-smi</c> with <paramref name="arguments"/>: its output, or null when it failed or did not answer in time.</summary>
    private static async Task<string?> RunAsync(string smi, string[] arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(smi) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        Process? process;
        try
        {
            process = Process.Start(start);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // gone since discovery: no sample this round
        }
        if (process is null) return null;
        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
            _ = process.StandardError.ReadToEndAsync(cancellationToken);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(NvidiaSmiTimeout);
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                cancellationToken.ThrowIfCancellationRequested();
                return null;
            }
            return process.ExitCode == 0 ? await output : null;
        }
    }

    /// <summary>What an attempt holds: its devices, thousandths of each, and its GPU samples so far.</summary>
    private sealed class Holding(IReadOnlyList<GpuDevice> devices, long milliEach)
    {
        public IReadOnlyList<GpuDevice> Devices { get; } = devices;
        public long MilliEach { get; } = milliEach;
        public GpuUsage Usage { get; set; }
    }

    /// <summary>An attempt's samples: how many, their utilisation (%) summed, and the most memory (MiB) in one.</summary>
    private readonly record struct GpuUsage(int Samples, double UtilizationSum, long PeakMemoryMb);

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
