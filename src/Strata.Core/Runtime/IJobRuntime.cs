using Strata.Core.Jobs;
using Strata.Contracts;

namespace Strata.Core.Runtime;

/// <summary>
/// Where attempts of training jobs run: local processes or Kubernetes Jobs. The reconciler drives it
/// with desired state from the store and reads observed state back; nothing above this interface
/// knows which runtime it is.
/// </summary>
public interface IJobRuntime
{
    /// <summary><c>local</c> or <c>kubernetes</c>: shown in the job resource's <c>runtime.kind</c>.</summary>
    string Kind { get; }

    /// <summary>What the runtime can run at once; the scheduler admits within it.</summary>
    RuntimeCapacity Capacity { get; }

    /// <summary>Where an attempt runs (or would run): shown in the job resource's <c>runtime</c>.</summary>
    RuntimeInfo Describe(AttemptRef attempt);

    /// <summary>Starts an attempt. Idempotent per attempt: starting one that exists does nothing.</summary>
    /// <exception cref="RuntimeStartException">The attempt could not be started (a permanent failure).</exception>
    Task<RuntimeInfo> StartAsync(JobLaunch launch, CancellationToken cancellationToken);

    /// <summary>Stops an attempt and everything it started. Stopping one that is gone does nothing.</summary>
    Task StopAsync(AttemptRef attempt, CancellationToken cancellationToken);

    /// <summary>Every attempt the runtime knows of, live or finished but not yet forgotten (a full re-list).</summary>
    Task<IReadOnlyList<AttemptObservation>> ListAsync(CancellationToken cancellationToken);

    /// <summary>Changes as they happen (an attempt finished or vanished). Consumers re-list on start.</summary>
    IAsyncEnumerable<AttemptObservation> WatchAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Opens an attempt's log, or null when there is none (yet). A seekable stream is a file that grows while
    /// the attempt runs (the caller seeks to the tail and polls); a stream that cannot seek was opened with
    /// <paramref name="options"/> applied by the runtime (its tail, and following until the attempt ends).
    /// </summary>
    Task<Stream?> OpenLogAsync(AttemptRef attempt, LogOptions options, CancellationToken cancellationToken);

    /// <summary>
    /// Stops reporting a finished attempt that the store has recorded. Its log stays readable unless
    /// <paramref name="discardLogs"/> (the job itself is gone), in which case everything of it is removed.
    /// </summary>
    Task ForgetAsync(AttemptRef attempt, bool discardLogs, CancellationToken cancellationToken);
}

/// <summary>Identifies one attempt of one job. <see cref="Name"/> is unique and safe as a file or object name.</summary>
public readonly record struct AttemptRef(string TenantId, string JobId, int Number)
{
    public string Name => $"{JobId}-{Number}";

    public override string ToString() => $"{TenantId}/{Name}";
}

/// <summary>
/// How a log is read: from its last <see cref="TailLines"/> lines (all when null), followed or not, and whose: the
/// worker of rank <see cref="Rank"/> of a distributed job, or <see cref="AllRanks"/> interleaved line by line, each
/// line prefixed with <c>[rank N]</c>.
/// </summary>
public readonly record struct LogOptions(bool Follow, int? TailLines, int Rank = 0)
{
    public const int AllRanks = -1;
}

/// <summary>
/// Resources of one worker (or of many together), in the units the runtimes enforce. GPUs are counted in
/// thousandths of a device (<see cref="MilliGpus"/>), so that shares of one (<c>compute.gpu_fraction</c>: four
/// jobs of 0.25 on one device) add up exactly in the capacity book and the quota ledger.
/// </summary>
public readonly record struct ResourceRequest
{
    public const long BytesPerGb = 1L << 30;
    public const long MilliPerGpu = 1000;

    /// <summary>A request of whole GPUs.</summary>
    public ResourceRequest(double cpuCores, long memoryBytes, int gpus)
    {
        CpuCores = cpuCores;
        MemoryBytes = memoryBytes;
        MilliGpus = gpus * MilliPerGpu;
    }

    public double CpuCores { get; init; }
    public long MemoryBytes { get; init; }
    /// <summary>GPUs in thousandths: 1000 is one device, 250 a quarter of one.</summary>
    public long MilliGpus { get; init; }

    /// <summary>Whole devices: what a runtime that hands out only whole GPUs gives a worker (a share of one is 0 of them).</summary>
    public int Gpus => (int)(MilliGpus / MilliPerGpu);

    /// <summary>GPUs as a number, shares included: 0.25 for a quarter of a device.</summary>
    public double GpuCount => MilliGpus / (double)MilliPerGpu;

    /// <summary>A request whose GPUs are <paramref name="milliGpus"/> thousandths of a device.</summary>
    public static ResourceRequest WithMilliGpus(double cpuCores, long memoryBytes, long milliGpus) =>
        new() { CpuCores = cpuCores, MemoryBytes = memoryBytes, MilliGpus = milliGpus };

    public static ResourceRequest FromGb(double cpuCores, double memoryGb, int gpus) =>
        new(cpuCores, (long)(memoryGb * BytesPerGb), gpus);

    /// <summary>
    /// Bytes in the unit <c>compute.memory_gb</c> is given in (GB = 2^30 bytes), for messages: <c>2 GB</c>,
    /// <c>1.53 GB</c>; what a user compares with the figure they asked for.
    /// </summary>
    public static string FormatGb(long bytes) =>
        (bytes / (double)BytesPerGb).ToString("0.##", System.Globalization.CultureInfo.InvariantCulture) + " GB";

    /// <summary>Thousandths of a device for a GPU share such as 0.25, to the nearest.</summary>
    public static long MilliOf(double gpus) => (long)Math.Round(gpus * MilliPerGpu);

    public static ResourceRequest operator +(ResourceRequest a, ResourceRequest b) =>
        WithMilliGpus(a.CpuCores + b.CpuCores, a.MemoryBytes + b.MemoryBytes, a.MilliGpus + b.MilliGpus);

    public static ResourceRequest operator -(ResourceRequest a, ResourceRequest b) =>
        WithMilliGpus(a.CpuCores - b.CpuCores, a.MemoryBytes - b.MemoryBytes, a.MilliGpus - b.MilliGpus);

    public static ResourceRequest operator *(ResourceRequest a, int times) =>
        WithMilliGpus(a.CpuCores * times, a.MemoryBytes * times, a.MilliGpus * times);

    /// <summary>True when this fits inside <paramref name="available"/> in every dimension.</summary>
    public bool FitsIn(ResourceRequest available) =>
        CpuCores <= available.CpuCores + 1e-9 && MemoryBytes <= available.MemoryBytes && MilliGpus <= available.MilliGpus;

    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"{CpuCores:0.##} cores, {MemoryBytes / (double)BytesPerGb:0.##} GB, {GpuCount:0.###} GPUs");
}

/// <summary>What a runtime can run at once, and the largest gang it can run.</summary>
/// <param name="SharesGpus">
/// Whether it can place several jobs on one GPU (<c>compute.gpu_fraction</c>, time-sliced); a job asking for a
/// share is refused at submission where it cannot.
/// </param>
/// <param name="Environments">What a job's <c>environment</c> may ask for here; null: <see cref="EnvironmentRules.Default"/>.</param>
/// <param name="Ceiling">
/// The most <paramref name="Total"/> may grow to (a cluster that autoscales): a job asking for more is refused at
/// submission, a smaller one waits for capacity. Null: <paramref name="Total"/>.
/// </param>
/// <param name="Source">Where <paramref name="Total"/> comes from (<c>CapacitySources</c>); null where the runtime does not say.</param>
public sealed record RuntimeCapacity(
    ResourceRequest Total, int MaxWorkersPerJob, bool SharesGpus = false, EnvironmentRules? Environments = null, ResourceRequest? Ceiling = null, string? Source = null)
{
    /// <summary>The most this runtime could ever run at once: what a job is checked against at submission.</summary>
    public ResourceRequest Largest => Ceiling ?? Total;
}

/// <summary>Everything a runtime needs to start one attempt.</summary>
public sealed record JobLaunch
{
    public required AttemptRef Attempt { get; init; }
    public required string Entrypoint { get; init; }
    public string? DockerImage { get; init; }
    /// <summary>The job contract's environment, complete: nothing else is added.</summary>
    public required IReadOnlyDictionary<string, string> Environment { get; init; }
    /// <summary>Per worker.</summary>
    public required ResourceRequest Resources { get; init; }
    public string? GpuType { get; init; }
    public int NumWorkers { get; init; } = 1;
    public int? TimeoutSeconds { get; init; }
    /// <summary>Where the attempt's code comes from (extracted or cloned into its working folder); null: the image or the machine has it.</summary>
    public CodeSource? Code { get; init; }
    /// <summary>An uploaded artifact that the runtime materialises for the attempt and names in <c>DATA_PATH</c>.</summary>
    public string? DataArtifactId { get; init; }
    /// <summary>
    /// Folders of this machine that <see cref="Entrypoint"/> runs from (a built-in trainer's strata-worker and
    /// its .NET): a local sandbox shows them to the job read-only. Empty for the job's own code.
    /// </summary>
    public IReadOnlyList<string> ToolPaths { get; init; } = [];
    /// <summary>Processes (threads included) one worker may have at once; null: no limit of Strata's.</summary>
    public int? MaxProcesses { get; init; }
    /// <summary>Bytes one worker may fill in its working, checkpoint and local model output folders together; null: no limit.</summary>
    public long? DiskBytes { get; init; }
    /// <summary>The job's Python environment, as its validated spec says (docs/environments.md); null: the runtime's default Python.</summary>
    public EnvironmentSpec? PythonEnvironment { get; init; }
    /// <summary>Bytes of output an attempt's log keeps (its head and its tail); null: all of it.</summary>
    public long? MaxLogBytes { get; init; }
}

/// <summary>A job's code: an uploaded tar.gz (<see cref="ArtifactId"/>) or a git repository at a revision.</summary>
public sealed record CodeSource
{
    public string? ArtifactId { get; init; }
    public string? Repo { get; init; }
    /// <summary>A commit, tag or branch of <see cref="Repo"/>; null for its default branch.</summary>
    public string? Commit { get; init; }
}

/// <summary>What a runtime knows of one attempt: running, or how it ended.</summary>
public sealed record AttemptObservation
{
    public required AttemptRef Attempt { get; init; }
    /// <summary>How it ended; null while it runs.</summary>
    public AttemptOutcome? Outcome { get; init; }
    public bool IsFinished => Outcome is not null;
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? FinishedAt { get; init; }
    public long? PeakMemoryBytes { get; init; }
    public double? CpuSeconds { get; init; }
    /// <summary>The newest file in the job's checkpoint folder when the attempt ended, where the runtime can see it.</summary>
    public CheckpointFile? Checkpoint { get; init; }
    /// <summary>The average utilisation (%) of the attempt's GPUs while it held them, where the runtime sampled them; else null.</summary>
    public double? GpuUtilizationPercent { get; init; }
    /// <summary>The most memory (MiB) in use on the attempt's GPUs in any sample, where the runtime sampled them; else null.</summary>
    public long? GpuPeakMemoryMb { get; init; }
}

/// <summary>A file in a job's checkpoint folder (<c>STRATA_CHECKPOINT_DIR</c>): its path in that folder, and when it was last written.</summary>
public sealed record CheckpointFile(string Path, DateTimeOffset ModifiedAt);

/// <summary>An attempt that cannot be started, and will not start if tried again.</summary>
public sealed class RuntimeStartException(string message, Exception? inner = null) : Exception(message, inner);
