using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Strata.Contracts;
using Strata.Core.Jobs;
using Strata.Core.Runtime;
using Strata.Core.Runtime.Local;
using Strata.Server.Artifacts;
using Strata.Server.Hosting;
using Strata.Server.Runtime.Local.Sandbox;

namespace Strata.Server.Runtime.Local;

/// <summary>
/// Runs each attempt as a <c>strata-worker run</c> process on this machine. Everything about an attempt
/// lives in its folder (<c>attempts/&lt;tenant&gt;/&lt;job&gt;-&lt;n&gt;</c>, see <see cref="AttemptFiles"/>), so
/// the worker outlives a server restart and the next server re-adopts it from the files.
/// </summary>
public sealed class LocalJobRuntime : IJobRuntime, IRuntimeProfile, IDisposable
{
    /// <summary>Marks an attempt whose outcome the store has recorded: no longer listed, its log kept.</summary>
    private const string CollectedMarker = "collected";
    /// <summary>Names the standby worker an attempt was handed to, until that worker writes supervisor.json.</summary>
    private const string AssignedFile = "assigned";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan AdoptedPollInterval = TimeSpan.FromMilliseconds(250);
    /// <summary>How soon a failed rank's gang is stopped (and so restarted): the gang is polled, not awaited.</summary>
    private static readonly TimeSpan GangPollInterval = TimeSpan.FromMilliseconds(50);
    private const int MaxCheckpointEntriesLooked = 10_000;
    private const int MaxCheckpointPathLength = 1024;
    /// <summary>The folder in an attempt's folder that holds the folders of ranks 1 and up of a distributed job.</summary>
    internal const string RanksFolder = "ranks";

    private readonly DataFolder _data;
    private readonly LocalRuntimeOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<LocalJobRuntime> _logger;
    private readonly Channel<AttemptObservation> _changes = Channel.CreateUnbounded<AttemptObservation>();
    private readonly Dictionary<string, Task> _watched = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly (string FileName, string[] Prefix) _worker;
    private readonly StandbyWorkers? _standby;
    private readonly AttemptInputs _inputs;
    private readonly LocalSandbox _sandbox;
    private readonly LocalGpus _gpus;
    private readonly JobPython _python;
    private readonly JobEnvironments _environments;

    public LocalJobRuntime(
        DataFolder data, IOptions<LocalRuntimeOptions> options, WorkerBinary worker, AttemptInputs inputs, LocalSandbox sandbox, JobEnvironments environments,
        TimeProvider time, ILogger<LocalJobRuntime> logger)
    {
        _environments = environments;
        _data = data;
        _inputs = inputs;
        _sandbox = sandbox;
        _options = options.Value;
        _time = time;
        _logger = logger;
        var supervisor = worker.Supervisor;
        _worker = (supervisor.FileName, supervisor.Prefix);
        _standby = _options.StandbyWorkers > 0 ? new StandbyWorkers(data.Standby, _worker, _options, logger) : null;
        _gpus = LocalGpus.Discover(_options, logger);
        _python = JobPython.Resolve(_options, Path.Combine(data.Root, "python"), logger);
        RestoreGpuAssignments();
        Capacity = new RuntimeCapacity(
            ResourceRequest.FromGb(_options.CpuCores ?? Environment.ProcessorCount, _options.MemoryGb ?? MachineMemoryGb(), _gpus.Devices.Count > 0 ? _gpus.Devices.Count : _options.Gpus),
            MaxWorkersPerJob: GangsAllowed(_options, _sandbox, logger) ? _options.MaxWorkersPerJob : 1,
            SharesGpus: true,
            Environments: environments.Rules);
    }

    /// <summary>
    /// A gang's ranks meet on this machine's loopback: a sandbox with a network of its own per job (no network)
    /// would keep them apart, so distributed jobs need the host's network there.
    /// </summary>
    private static bool GangsAllowed(LocalRuntimeOptions options, LocalSandbox sandbox, ILogger logger)
    {
        if (!sandbox.Enabled || sandbox.Network == SandboxOptions.NetworkHost || options.MaxWorkersPerJob <= 1) return true;
        logger.LogWarning("Distributed jobs are refused: the job sandbox has no network (Runtime:Local:Sandbox:Network=none), and a gang's ranks meet on loopback");
        return false;
    }

    public string Kind => "local";

    public RuntimeCapacity Capacity { get; }

    public string Description => $"local runtime, worker: {string.Join(' ', [_worker.FileName, .. _worker.Prefix])}; python: {_python.Description}";

    public IReadOnlyList<GpuDeviceStatus> GpuDevices => _gpus.Status();

    public GpuOccupancy? GpuOccupancy => _gpus.Devices.Count > 0 ? _gpus.Occupancy() : null;

    public int DefaultCpuCores => _options.DefaultCpuCores;

    public int DefaultMemoryGb => _options.DefaultMemoryGb;

    public SandboxStatus Isolation => new()
    {
        Enabled = _sandbox.Enabled,
        Mode = _sandbox.Enabled ? SandboxOptions.Bwrap : SandboxOptions.None,
        Reason = _sandbox.Why,
        Network = _sandbox.Enabled ? _sandbox.Network : null,
        SeparateUsers = _sandbox.SeparateUsers,
    };

    public string IsolationDescription => _sandbox.Description;

    /// <summary>Starts the attempt and returns once its job's process exists (or the start has failed).</summary>
    public async Task<RuntimeInfo> StartAsync(JobLaunch launch, CancellationToken cancellationToken)
    {
        try
        {
            return await StartOrAdoptAsync(launch, cancellationToken);
        }
        catch (RuntimeStartException)
        {
            // No job runs: its GPUs are free again.
            ReleaseGpus(AttemptFolder(launch.Attempt));
            throw;
        }
    }

    private async Task<RuntimeInfo> StartOrAdoptAsync(JobLaunch launch, CancellationToken cancellationToken)
    {
        var attempt = launch.Attempt;
        var folder = AttemptFolder(attempt);
        var info = Describe(attempt);
        var ranks = Enumerable.Range(0, launch.NumWorkers).Select(rank => RankFolder(folder, rank)).ToList();
        // Idempotent: a rank whose folder says it started (or finished) is not started again. A gang whose start
        // was cut short (the server died) starts only the ranks that are missing.
        // (A fresh attempt has no folder yet: the checks, one of which scans /proc, are for restarts.)
        var missing = Directory.Exists(folder) ? ranks.Where(rank => !Started(rank)).ToList() : ranks;
        if (missing.Count == 0)
        {
            foreach (var rank in ranks) _gpus.Restore(rank);
            _ = Watch(attempt, folder, launch.NumWorkers, []);
            return info;
        }
        // Every rank of a gang meets rank 0 on this machine, on a port chosen once per attempt.
        var masterPort = launch.NumWorkers > 1 ? MasterPort(folder) : 0;
        var workers = new List<Process>();
        try
        {
            foreach (var rank in missing)
            {
                var number = ranks.IndexOf(rank);
                var gang = launch.NumWorkers > 1 ? new GangPlace(launch.NumWorkers, number, number, launch.NumWorkers, NodeRank: 0) : (GangPlace?)null;
                if (await StartRankAsync(launch, rank, gang, masterPort, cancellationToken) is { } process) workers.Add(process);
            }
        }
        catch when (launch.NumWorkers > 1)
        {
            // A gang runs whole or not at all: the ranks already started would wait for the missing one forever.
            await StopAsync(attempt, CancellationToken.None);
            foreach (var rank in ranks) _gpus.Release(rank);
            foreach (var process in workers) process.Dispose();
            throw;
        }
        _ = Watch(attempt, folder, launch.NumWorkers, workers);
        return info;
    }

    /// <summary>Whether a rank's worker has started its job (and runs), or the job has ended.</summary>
    private static bool Started(string rankFolder) =>
        Directory.Exists(rankFolder) && (WorkerAlive(rankFolder) || File.Exists(Path.Combine(rankFolder, AttemptFiles.Result)));

    /// <summary>
    /// Starts one worker (a single-worker attempt, or one rank of a gang) in its folder and returns once its job's
    /// process exists, with the worker's process when this server started it (null when a standby worker took it).
    /// </summary>
    private async Task<Process?> StartRankAsync(JobLaunch launch, string folder, GangPlace? gang, int masterPort, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(folder);
        // Code and data are put in place before the launch file exists: until then a restarted server
        // sees an attempt that never started, and starts it again from scratch.
        var inputs = AttemptInputs.AnyFor(launch)
            ? await _inputs.PrepareAsync(launch, folder, Path.Combine(folder, AttemptFiles.WorkDirectory), cancellationToken)
            : new PreparedInputs(new Dictionary<string, string>(launch.Environment, StringComparer.Ordinal), []);
        var environment = inputs.Environment;
        if (launch.PythonEnvironment?.InheritPath is true)
        {
            // The operator allowed it (Runtime:Local:AllowInheritPath): the server's own PATH, as its user has it.
            environment["PATH"] = System.Environment.GetEnvironmentVariable("PATH") is { Length: > 0 } serverPath ? serverPath : JobEnvironment.SystemPath;
        }
        if (_python.LinkFolder is { } pythonFolder)
        {
            // `python` is the configured interpreter (JobPython): its link comes first, and the sandbox shows it.
            environment["PATH"] = $"{pythonFolder}:{environment.GetValueOrDefault("PATH", JobEnvironment.SystemPath)}";
            launch = launch with { ToolPaths = [.. launch.ToolPaths, pythonFolder] };
        }
        if (JobPython.SdkFolder is { } sdk)
        {
            // `import strata` (the SDK's in-job helpers) works without packing the SDK with the job's code.
            environment["PYTHONPATH"] = environment.GetValueOrDefault("PYTHONPATH") is { Length: > 0 } own ? $"{own}:{sdk}" : sdk;
            launch = launch with { ToolPaths = [.. launch.ToolPaths, sdk] };
        }
        if (gang is { } place)
        {
            GangEnvironment.Add(environment, place, "127.0.0.1", masterPort);
            // Every rank is on this machine: gloo talks over loopback (rather than guessing an interface from the
            // host name, which a sandbox cannot resolve).
            environment.TryAdd("GLOO_SOCKET_IFNAME", "lo");
            // Each rank's sandbox has its own /dev/shm: NCCL must not try to share memory between ranks through it.
            if (_sandbox.Enabled) environment.TryAdd("NCCL_SHM_DISABLE", "1");
        }
        var devices = AssignGpus(launch, folder, environment);
        SandboxLaunch? sandbox;
        try
        {
            // The cached inputs are shared by attempts (DATA_PATH names one): the sandbox shows them read-only at
            // the same paths; without it, only file modes guard them.
            sandbox = _sandbox.For(launch, environment, inputs.ReadOnlyPaths);
        }
        catch
        {
            _gpus.Release(folder);
            throw;
        }
        // Only its own devices' nodes (and the driver's shared ones) exist in the job's /dev.
        if (sandbox is not null && devices.Count > 0) sandbox.Devices = LocalGpus.DeviceNodes(devices);
        var launchFile = new LaunchFile
        {
            // Names the attempt's cgroup: each rank has its own.
            AttemptName = gang is { Rank: > 0 } ranked ? $"{launch.Attempt.Name}-rank{ranked.Rank}" : launch.Attempt.Name,
            Entrypoint = launch.Entrypoint,
            Environment = environment,
            CpuCores = launch.Resources.CpuCores,
            MemoryBytes = launch.Resources.MemoryBytes,
            TimeoutSeconds = launch.TimeoutSeconds,
            StopGraceSeconds = _options.StopGraceSeconds,
            CgroupParent = _options.CgroupParent,
            EnforceLimits = _options.EnforceLimits,
            Sandbox = sandbox,
            MaxProcesses = launch.MaxProcesses,
            DiskBytes = launch.DiskBytes,
            DiskPaths = DiskPaths(folder, environment),
            MaxLogBytes = launch.MaxLogBytes,
            PythonEnvironment = _environments.For(launch, Path.Combine(folder, AttemptFiles.WorkDirectory), _python.Interpreter),
        };
        AttemptFiles.WriteAtomically(Path.Combine(folder, AttemptFiles.Launch), launchFile, AttemptFilesJsonContext.Default.LaunchFile);

        // A worker waiting in standby starts the job at once; else start one (tens of milliseconds more).
        if (_standby?.TryTake() is { } standby)
        {
            var assigned = Path.Combine(folder, AssignedFile);
            File.WriteAllText(assigned, $"{standby.Pid} {standby.StartTime}");
            if (Native.WriteLineToFifo(standby.Fifo, folder))
            {
                await WaitUntilStartedAsync(folder, standby.Pid, standby.Process, cancellationToken);
                EnsureRankStarted(folder, gang);
                return standby.Process;
            }
            File.Delete(assigned);
            _logger.LogWarning("The standby worker {Pid} did not take attempt {Attempt}; starting one", standby.Pid, launch.Attempt);
        }
        var start = new ProcessStartInfo(_worker.FileName) { UseShellExecute = false, WorkingDirectory = folder };
        foreach (var argument in _worker.Prefix) start.ArgumentList.Add(argument);
        start.ArgumentList.Add("run");
        start.ArgumentList.Add(folder);
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new RuntimeStartException("the worker did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new RuntimeStartException($"could not run the worker '{_worker.FileName}': {e.Message}", e);
        }
        await WaitUntilStartedAsync(folder, process.Id, process, cancellationToken);
        EnsureRankStarted(folder, gang);
        return process;
    }

    /// <summary>
    /// A rank whose worker ended before starting its job fails the gang's start: the other ranks would wait for it.
    /// (A single worker that did so is reported by its watch, with what worker.log says.)
    /// </summary>
    private static void EnsureRankStarted(string folder, GangPlace? gang)
    {
        if (gang is not { } place || File.Exists(Path.Combine(folder, AttemptFiles.Supervisor)) || File.Exists(Path.Combine(folder, AttemptFiles.Result))) return;
        throw new RuntimeStartException($"the worker of rank {place.Rank} exited before starting the job (see worker.log in its folder)");
    }

    /// <summary>
    /// The port rank 0 listens on for the gang's rendezvous: the one a started rank's launch file names (a start
    /// completed after a restart), or a free one of this machine's.
    /// </summary>
    private static int MasterPort(string folder)
    {
        var launch = AttemptFiles.Read(Path.Combine(folder, AttemptFiles.Launch), AttemptFilesJsonContext.Default.LaunchFile);
        if (launch?.Environment.GetValueOrDefault(GangEnvironment.MasterPort) is { } text && int.TryParse(text, out var port)) return port;
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The folder of one worker of an attempt: the attempt's own for rank 0, <c>ranks/&lt;n&gt;</c> in it for the others.</summary>
    private static string RankFolder(string attemptFolder, int rank) =>
        rank == 0 ? attemptFolder : Path.Combine(attemptFolder, RanksFolder, rank.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>The folders of an attempt's workers that exist: its own, and those of its other ranks.</summary>
    private static IEnumerable<string> RankFolders(string attemptFolder)
    {
        yield return attemptFolder;
        var ranks = Path.Combine(attemptFolder, RanksFolder);
        if (!Directory.Exists(ranks)) yield break;
        foreach (var rank in Directory.EnumerateDirectories(ranks)) yield return rank;
    }

    /// <summary>How many workers an attempt has, from its launch file (rank 0's names the gang's size).</summary>
    private static int GangSize(string attemptFolder)
    {
        var launch = AttemptFiles.Read(Path.Combine(attemptFolder, AttemptFiles.Launch), AttemptFilesJsonContext.Default.LaunchFile);
        return launch?.Environment.GetValueOrDefault(GangEnvironment.WorldSize) is { } text && int.TryParse(text, out var size) && size > 1 ? size : 1;
    }

    /// <summary>
    /// Where the machine has a GPU inventory: gives the attempt devices of its own (or a share of one, for
    /// <c>compute.gpu_fraction</c>), records them in its folder and names them by uuid in
    /// <c>CUDA_VISIBLE_DEVICES</c> and <c>NVIDIA_VISIBLE_DEVICES</c>; an attempt that asks for none is shown none.
    /// </summary>
    private IReadOnlyList<GpuDevice> AssignGpus(JobLaunch launch, string folder, Dictionary<string, string> environment)
    {
        if (_gpus.Devices.Count == 0) return [];
        var demand = GpuDemand.Of(launch.Resources, launch.GpuType);
        var devices = demand is { } asked ? _gpus.Assign(folder, asked) : [];
        try
        {
            if (demand is { } held && devices.Count > 0) LocalGpus.Write(folder, devices, held.MilliEach);
        }
        catch
        {
            _gpus.Release(folder);
            throw;
        }
        var visible = devices.Count > 0 ? string.Join(',', devices.Select(d => d.Uuid)) : "";
        environment["CUDA_VISIBLE_DEVICES"] = visible;
        environment["NVIDIA_VISIBLE_DEVICES"] = devices.Count > 0 ? visible : "void";
        return devices;
    }

    /// <summary>A restarted server: the attempts not yet ended hold the devices their folders name.</summary>
    private void RestoreGpuAssignments()
    {
        if (_gpus.Devices.Count == 0 || !Directory.Exists(_data.Attempts)) return;
        foreach (var tenantFolder in Directory.EnumerateDirectories(_data.Attempts))
        {
            foreach (var folder in Directory.EnumerateDirectories(tenantFolder))
            {
                if (File.Exists(Path.Combine(folder, CollectedMarker))) continue;
                foreach (var rank in RankFolders(folder))
                {
                    if (!File.Exists(Path.Combine(rank, AttemptFiles.Result))) _gpus.Restore(rank);
                }
            }
        }
    }

    /// <summary>
    /// Waits until the worker has started the job (supervisor.json) or ended, so that once a start returns,
    /// every later look at the folder finds the attempt: there is no window in which it looks lost.
    /// </summary>
    private async Task WaitUntilStartedAsync(string folder, int workerPid, Process worker, CancellationToken cancellationToken)
    {
        var deadline = _time.GetUtcNow() + StartTimeout;
        while (!File.Exists(Path.Combine(folder, AttemptFiles.Supervisor)) && !File.Exists(Path.Combine(folder, AttemptFiles.Result)) && !worker.HasExited)
        {
            if (_time.GetUtcNow() > deadline)
            {
                // The attempt will be recorded as failed to start: make sure it cannot start after all.
                // The worker leads its own session and process group, which its job would share.
                Native.Signal(-workerPid, Native.SIGKILL);
                Native.Signal(workerPid, Native.SIGKILL);
                throw new RuntimeStartException($"the worker did not start the job within {StartTimeout.TotalSeconds} s");
            }
            await Task.Delay(TimeSpan.FromMilliseconds(1), _time, cancellationToken);
        }
    }

    public Task StopAsync(AttemptRef attempt, CancellationToken cancellationToken)
    {
        foreach (var rank in RankFolders(AttemptFolder(attempt))) StopRank(rank);
        return Task.CompletedTask;
    }

    /// <summary>Stops one worker's job: through its worker, or directly when the worker is gone.</summary>
    private static void StopRank(string folder)
    {
        if (WorkerPid(folder) is { } worker)
        {
            // The worker forwards the stop to the whole tree and records the outcome.
            Native.Signal(worker, Native.SIGTERM);
        }
        else if (AttemptFiles.Read(Path.Combine(folder, AttemptFiles.Supervisor), AttemptFilesJsonContext.Default.SupervisorFile) is { } supervisor
                 && !File.Exists(Path.Combine(folder, AttemptFiles.Result)))
        {
            // The worker is gone but its job may not be: it shares the worker's process group.
            Native.Signal(-supervisor.WorkerPid, Native.SIGKILL);
        }
    }

    public Task<IReadOnlyList<AttemptObservation>> ListAsync(CancellationToken cancellationToken)
    {
        var observations = new List<AttemptObservation>();
        foreach (var tenantFolder in Directory.EnumerateDirectories(_data.Attempts))
        {
            foreach (var folder in Directory.EnumerateDirectories(tenantFolder))
            {
                if (File.Exists(Path.Combine(folder, CollectedMarker)) || !TryParse(folder, out var attempt)) continue;
                // An attempt whose worker never started the job is not reported: the reconciler then
                // (re)starts it, which is idempotent, instead of failing an attempt that never ran.
                var size = GangSize(folder);
                if (Observe(attempt, folder, size).Observation is not { } observation) continue;
                observations.Add(observation);
                if (!observation.IsFinished) _ = Watch(attempt, folder, size, []);
                else ReleaseGpus(folder);
            }
        }
        return Task.FromResult<IReadOnlyList<AttemptObservation>>(observations);
    }

    public async IAsyncEnumerable<AttemptObservation> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var change in _changes.Reader.ReadAllAsync(cancellationToken))
        {
            yield return change;
        }
    }

    public RuntimeInfo Describe(AttemptRef attempt) => new() { Kind = Kind, Name = attempt.Name };

    /// <summary>
    /// A worker's log file, which grows while it runs; the caller seeks and follows it. All ranks of a gang
    /// together (<see cref="LogOptions.AllRanks"/>) are interleaved here, their tail and following applied.
    /// </summary>
    public Task<Stream?> OpenLogAsync(AttemptRef attempt, LogOptions options, CancellationToken cancellationToken)
    {
        var folder = AttemptFolder(attempt);
        if (options.Rank == LogOptions.AllRanks)
        {
            if (!Directory.Exists(folder)) return Task.FromResult<Stream?>(null);
            var size = GangSize(folder);
            var paths = Enumerable.Range(0, size).Select(rank => Path.Combine(RankFolder(folder, rank), AttemptFiles.Log)).ToList();
            bool Ended() => Enumerable.Range(0, size).Select(rank => RankFolder(folder, rank))
                .All(rank => File.Exists(Path.Combine(rank, AttemptFiles.Result)) || !WorkerAlive(rank));
            return Task.FromResult<Stream?>(RankLogs.Interleave(paths, options, Ended, _time, cancellationToken));
        }
        var path = Path.Combine(RankFolder(folder, options.Rank), AttemptFiles.Log);
        try
        {
            return Task.FromResult<Stream?>(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return Task.FromResult<Stream?>(null);
        }
    }

    /// <summary>
    /// The attempt's outcome is recorded: its working folder goes now, its logs (output.log, result.json,
    /// worker.log) stay until <see cref="RemoveEndedAttempts"/> finds them older than the retention.
    /// </summary>
    public Task ForgetAsync(AttemptRef attempt, bool discardLogs, CancellationToken cancellationToken)
    {
        var folder = AttemptFolder(attempt);
        ReleaseGpus(folder);
        if (!Directory.Exists(folder)) return Task.CompletedTask;
        var ranks = RankFolders(folder).ToList();
        foreach (var rank in ranks) _inputs.Release(rank);
        if (discardLogs)
        {
            FileTrees.Delete(folder);
        }
        else
        {
            File.WriteAllText(Path.Combine(folder, CollectedMarker), "");
            foreach (var rank in ranks)
            {
                FileTrees.Delete(Path.Combine(rank, AttemptFiles.WorkDirectory));
                FileTrees.Delete(Path.Combine(rank, AttemptInputs.LegacyInputsFolder));
            }
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// Removes the folders of attempts collected before <paramref name="collectedBefore"/> (logs and all), and
    /// of attempts whose start failed (no worker ever ran the job, none runs now) unchanged since
    /// <paramref name="abandonedBefore"/>: nothing else ever collects those.
    /// </summary>
    public void RemoveEndedAttempts(DateTimeOffset collectedBefore, DateTimeOffset abandonedBefore)
    {
        foreach (var tenantFolder in Directory.EnumerateDirectories(_data.Attempts))
        {
            foreach (var folder in Directory.EnumerateDirectories(tenantFolder))
            {
                if (!TryParse(folder, out _)) continue;
                try
                {
                    // Its cached inputs need no release: a collected attempt gave them up then, and the
                    // entries an attempt that never started took were marked used when it took them.
                    var expired = FileTrees.LastWrite(Path.Combine(folder, CollectedMarker)) is { } collected
                        ? collected < collectedBefore
                        : FileTrees.LastWrite(folder) < abandonedBefore
                          && RankFolders(folder).All(rank => !File.Exists(Path.Combine(rank, AttemptFiles.Supervisor))
                                                             && !File.Exists(Path.Combine(rank, AttemptFiles.Result))
                                                             && !WorkerAlive(rank));
                    if (!expired) continue;
                    FileTrees.Delete(folder);
                    _logger.LogDebug("Removed the folder of ended attempt {Folder}", folder);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    _logger.LogWarning(e, "Could not remove the folder of ended attempt {Folder}; the next sweep retries", folder);
                }
            }
        }
    }

    /// <summary>The input cache entries that attempts not yet collected use (running, starting, or ended but not yet recorded).</summary>
    public IReadOnlySet<string> CachedInputsInUse()
    {
        var entries = new HashSet<string>(StringComparer.Ordinal);
        foreach (var tenantFolder in Directory.EnumerateDirectories(_data.Attempts))
        {
            foreach (var folder in Directory.EnumerateDirectories(tenantFolder))
            {
                if (File.Exists(Path.Combine(folder, CollectedMarker))) continue;
                foreach (var rank in RankFolders(folder)) entries.UnionWith(AttemptInputs.EntriesUsedBy(rank));
            }
        }
        return entries;
    }

    public void Dispose()
    {
        // Registered under two service types, so disposed twice.
        if (_stopping.IsCancellationRequested) return;
        _stopping.Cancel();
        _standby?.Dispose();
        _gpus.Dispose();
    }

    /// <summary>
    /// The folders the disk limit covers: the work folder, and the checkpoint and model output folders
    /// where the job's environment names local ones (a URI such as <c>s3://</c> is not on this disk).
    /// </summary>
    internal static List<string> DiskPaths(string attemptFolder, IReadOnlyDictionary<string, string> environment)
    {
        List<string> paths = [Path.Combine(attemptFolder, AttemptFiles.WorkDirectory)];
        foreach (var name in (string[])["STRATA_CHECKPOINT_DIR", "MODEL_OUTPUT_PATH"])
        {
            if (environment.TryGetValue(name, out var path) && Path.IsPathRooted(path)) paths.Add(path);
        }
        return paths;
    }

    private string AttemptFolder(AttemptRef attempt) => Path.Combine(_data.Attempts, attempt.TenantId, attempt.Name);

    /// <summary>
    /// Reports the attempt's end once its worker exits (awaited when we started it, polled when adopted). A gang is
    /// polled as a whole: when one rank fails, the others are stopped, and the attempt ends once they all have.
    /// </summary>
    private Task Watch(AttemptRef attempt, string folder, int size, List<Process> workers)
    {
        lock (_lock)
        {
            if (_watched.TryGetValue(attempt.Name, out var existing) && !existing.IsCompleted)
            {
                foreach (var worker in workers) _ = ReapAsync(worker);
                return existing;
            }
            return _watched[attempt.Name] = Task.Run(async () =>
            {
                try
                {
                    if (size == 1 && workers.Count == 1)
                    {
                        using (workers[0]) await workers[0].WaitForExitAsync(_stopping.Token);
                    }
                    else if (size == 1)
                    {
                        while (!File.Exists(Path.Combine(folder, AttemptFiles.Result)) && WorkerAlive(folder))
                        {
                            await Task.Delay(AdoptedPollInterval, _time, _stopping.Token);
                        }
                    }
                    else
                    {
                        foreach (var worker in workers) _ = ReapAsync(worker);
                        await WatchGangAsync(attempt, folder, size);
                    }
                    var observation = Observe(attempt, folder, size).Observation ?? new AttemptObservation
                    {
                        Attempt = attempt,
                        Outcome = new AttemptOutcome.StartFailed { Message = "the worker exited before starting the job (see worker.log in the attempt folder)" },
                        FinishedAt = _time.GetUtcNow(),
                    };
                    ReleaseGpus(folder);
                    await _changes.Writer.WriteAsync(observation, _stopping.Token);
                }
                catch (OperationCanceledException)
                {
                }
                catch (Exception e)
                {
                    _logger.LogWarning(e, "Watching attempt {Attempt} failed; the next reconciliation pass picks it up", attempt);
                }
            });
        }
    }

    /// <summary>Returns once every rank of a gang has ended, having stopped the others as soon as one failed.</summary>
    private async Task WatchGangAsync(AttemptRef attempt, string folder, int size)
    {
        var stopping = false;
        while (true)
        {
            var (observation, stopTheRest) = Observe(attempt, folder, size);
            if (stopTheRest && !stopping)
            {
                _logger.LogInformation("A rank of attempt {Attempt} failed; stopping the others", attempt);
                foreach (var rank in RankFolders(folder)) StopRank(rank);
                stopping = true;
            }
            if (observation is { IsFinished: true }) return;
            // No rank started, and no worker left to start one.
            if (observation is null && !RankFolders(folder).Any(WorkerAlive)) return;
            await Task.Delay(GangPollInterval, _time, _stopping.Token);
        }
    }

    /// <summary>Waits for a worker this server started to exit, so that it is reaped, and lets it go.</summary>
    private async Task ReapAsync(Process worker)
    {
        using (worker)
        {
            try
            {
                await worker.WaitForExitAsync(_stopping.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    /// <summary>What an attempt's workers say together (<see cref="GangObservations.Combine"/>); one worker's is its own.</summary>
    private (AttemptObservation? Observation, bool StopTheRest) Observe(AttemptRef attempt, string folder, int size)
    {
        var (observation, stopTheRest) = size == 1
            ? (WithGpuUsage(folder, Observe(attempt, folder)), false)
            : GangObservations.Combine(attempt, Enumerable.Range(0, size).Select(rank => WithGpuUsage(RankFolder(folder, rank), Observe(attempt, RankFolder(folder, rank)))).ToList());
        if (observation is { IsFinished: true }) observation = observation with { Checkpoint = NewestCheckpoint(folder) };
        return (observation, stopTheRest);
    }

    /// <summary>An ended worker's observation with what its GPU samples say (<see cref="LocalGpus.WithUsage"/>).</summary>
    private static AttemptObservation? WithGpuUsage(string folder, AttemptObservation? observation) =>
        observation is { IsFinished: true } ended ? LocalGpus.WithUsage(folder, ended) : observation;

    /// <summary>
    /// The newest file in the attempt's checkpoint folder (the job's, shared by its attempts), which its next attempt
    /// resumes from. Only names and times are read, so a job's FIFOs or links there cannot stall it; a folder with
    /// a huge number of entries (files and folders) is looked at in part.
    /// </summary>
    private static CheckpointFile? NewestCheckpoint(string attemptFolder)
    {
        var launch = AttemptFiles.Read(Path.Combine(attemptFolder, AttemptFiles.Launch), AttemptFilesJsonContext.Default.LaunchFile);
        if (launch?.Environment.GetValueOrDefault("STRATA_CHECKPOINT_DIR") is not { } folder || !Path.IsPathRooted(folder) || !Directory.Exists(folder)) return null;
        var options = new EnumerationOptions
        {
            RecurseSubdirectories = true,
            MaxRecursionDepth = 8,
            IgnoreInaccessible = true,
            AttributesToSkip = FileAttributes.ReparsePoint,
        };
        try
        {
            // Folders count too: a tree of empty folders is as long to walk as one of files.
            var newest = new DirectoryInfo(folder).EnumerateFileSystemInfos("*", options)
                .Take(MaxCheckpointEntriesLooked)
                .OfType<FileInfo>()
                .MaxBy(file => file.LastWriteTimeUtc);
            if (newest is null) return null;
            var path = Path.GetRelativePath(folder, newest.FullName);
            return path.Length > MaxCheckpointPathLength ? null : new CheckpointFile(path, new DateTimeOffset(newest.LastWriteTimeUtc, TimeSpan.Zero));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private void ReleaseGpus(string attemptFolder)
    {
        foreach (var rank in RankFolders(attemptFolder)) _gpus.Release(rank);
    }

    /// <summary>
    /// What the attempt's folder and its processes say about it now; null when its worker has not
    /// started the job (no supervisor.json, no worker process): a start in progress, or one that never happened.
    /// </summary>
    private AttemptObservation? Observe(AttemptRef attempt, string folder)
    {
        // Liveness first, files after: a worker writes its result before it exits, so a worker found dead
        // with no result died without one (read the other way round, a job that ends between the two
        // reads would look lost).
        var alive = WorkerAlive(folder);
        var result = AttemptFiles.Read(Path.Combine(folder, AttemptFiles.Result), AttemptFilesJsonContext.Default.ResultFile);
        var supervisor = AttemptFiles.Read(Path.Combine(folder, AttemptFiles.Supervisor), AttemptFilesJsonContext.Default.SupervisorFile);
        if (result is not null)
        {
            return new AttemptObservation
            {
                Attempt = attempt,
                Outcome = Failed(result.Reason, ReadTailIfFailed(result.Reason, folder)) with
                {
                    ExitCode = result.ExitCode,
                    Signal = result.Signal,
                    Message = result.Message,
                },
                StartedAt = result.StartedAt ?? supervisor?.StartedAt,
                FinishedAt = result.FinishedAt,
                PeakMemoryBytes = result.PeakMemoryBytes,
                CpuSeconds = result.CpuSeconds,
            };
        }
        if (alive)
        {
            return new AttemptObservation { Attempt = attempt, StartedAt = supervisor?.StartedAt };
        }
        if (supervisor is null)
        {
            return null;
        }
        return new AttemptObservation
        {
            Attempt = attempt,
            Outcome = new AttemptOutcome.SupervisorLost { Message = "its supervisor (strata-worker) ended without recording an outcome" },
            StartedAt = supervisor?.StartedAt,
            FinishedAt = _time.GetUtcNow(),
        };
    }

    /// <summary>Whether the attempt's worker runs: the one supervisor.json names, or one still starting.</summary>
    private static bool WorkerAlive(string folder) =>
        WorkerPid(folder) is not null || FindWorkerProcess(folder) is not null
        // supervisor.json may have been written between the two checks (the second then looks no further).
        || WorkerPid(folder) is not null;

    /// <summary>The worker's pid from supervisor.json, if that process is still the attempt's worker.</summary>
    private static int? WorkerPid(string folder)
    {
        var supervisor = AttemptFiles.Read(Path.Combine(folder, AttemptFiles.Supervisor), AttemptFilesJsonContext.Default.SupervisorFile);
        if (supervisor is null) return null;
        var startTime = supervisor.WorkerStartTime ?? AssignedWorker(folder)?.StartTime;
        var alive = startTime is not null
            ? Native.ProcessStartTime(supervisor.WorkerPid) == startTime
            : IsWorkerOf(supervisor.WorkerPid, folder);
        return alive ? supervisor.WorkerPid : null;
    }

    /// <summary>The standby worker an attempt was handed to, from the assigned file.</summary>
    private static (int Pid, long StartTime)? AssignedWorker(string folder)
    {
        try
        {
            var parts = File.ReadAllText(Path.Combine(folder, AssignedFile)).Split(' ');
            return int.TryParse(parts[0], out var pid) && long.TryParse(parts.ElementAtOrDefault(1), out var startTime) ? (pid, startTime) : null;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    /// <summary>A worker of this attempt that has not written supervisor.json yet (a start in progress).</summary>
    private static int? FindWorkerProcess(string folder)
    {
        if (File.Exists(Path.Combine(folder, AttemptFiles.Supervisor))) return null;
        // Handed to a standby worker: the pid and start time are in the assigned file.
        if (AssignedWorker(folder) is { } assigned)
        {
            return Native.ProcessStartTime(assigned.Pid) == assigned.StartTime ? assigned.Pid : null;
        }
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(entry), out var pid) && IsWorkerOf(pid, folder)) return pid;
        }
        return null;
    }

    /// <summary>Guards against pid reuse where no start time was recorded: the command line must name the folder.</summary>
    private static bool IsWorkerOf(int pid, string folder)
    {
        try
        {
            var arguments = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
            return arguments.Contains("run") && arguments.Contains(folder);
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static bool TryParse(string folder, out AttemptRef attempt)
    {
        attempt = default;
        var tenant = Path.GetFileName(Path.GetDirectoryName(folder))!;
        var name = Path.GetFileName(folder);
        var dash = name.LastIndexOf('-');
        if (dash <= 0 || !int.TryParse(name.AsSpan(dash + 1), out var number)) return false;
        attempt = new AttemptRef(tenant, name[..dash], number);
        return true;
    }

    /// <summary>
    /// An outcome of <paramref name="reason"/> with the evidence at the end of the job's output: the last exception
    /// of a Python traceback (the evidence of a code error), and the last <c>STRATA_ERROR</c> line (why, in its words).
    /// </summary>
    private static AttemptOutcome Failed(string reason, string? tail) => AttemptOutcome.FromReason(reason) with
    {
        Exception = Tracebacks.LastException(tail),
        ReportedError = Tracebacks.LastReportedError(tail),
    };

    private static string? ReadTailIfFailed(string reason, string folder) =>
        reason == StatusReasons.Completed ? null : ReadTail(Path.Combine(folder, AttemptFiles.Log));

    /// <summary>The last <see cref="Tracebacks.TailBytes"/> of a job's output, as text; null when it cannot be read.</summary>
    private static string? ReadTail(string path)
    {
        try
        {
            using var stream = new FileStream(path, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.ReadWrite | FileShare.Delete, Options = FileOptions.None });
            var length = stream.Length;
            var take = (int)Math.Min(length, Tracebacks.TailBytes);
            stream.Seek(length - take, SeekOrigin.Begin);
            var buffer = new byte[take];
            stream.ReadExactly(buffer);
            return System.Text.Encoding.UTF8.GetString(buffer);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static double MachineMemoryGb()
    {
        try
        {
            var line = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
            var kb = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
            return kb / 1024.0 / 1024.0;
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or FormatException)
        {
            return GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (double)ResourceRequest.BytesPerGb;
        }
    }
}
