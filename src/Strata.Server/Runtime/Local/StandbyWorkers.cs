using System.Diagnostics;
using System.Globalization;
using Strata.Core.Runtime.Local;

namespace Strata.Server.Runtime.Local;

/// <summary>A worker started in advance, waiting on its FIFO for an attempt.</summary>
internal sealed record StandbyWorker(Process Process, string Folder, int Pid, long? StartTime)
{
    public string Fifo => Path.Combine(Folder, "assign");
}

/// <summary>
/// Keeps <see cref="LocalRuntimeOptions.StandbyWorkers"/> workers started and waiting
/// (<c>strata-worker standby</c>), so that an admitted attempt skips the worker's own start-up — the
/// runtime's initialisation and the kernel's cgroup creation, most of the time between a submission and
/// the job's first instruction. A standby worker exits by itself when the server is gone (<see cref="ParentWatch"/>),
/// and when it is sent SIGTERM, as <see cref="Dispose"/> does when the server stops.
/// </summary>
internal sealed class StandbyWorkers : IDisposable
{
    private const int MaxFailures = 3;
    private readonly string _root;
    private readonly (string FileName, string[] Prefix) _worker;
    private readonly LocalRuntimeOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Queue<StandbyWorker> _ready = new();
    private readonly List<StandbyWorker> _warming = [];
    private int _failures;
    private bool _disposed;

    public StandbyWorkers(string root, (string FileName, string[] Prefix) worker, LocalRuntimeOptions options, ILogger logger)
    {
        _root = root;
        _worker = worker;
        _options = options;
        _logger = logger;
        // Folders of a previous server's standby workers: those workers exit when they see their parent gone,
        // removing their folders, but one may still be writing in its own (warming up) as this runs.
        Directory.CreateDirectory(_root);
        foreach (var leftover in Directory.EnumerateDirectories(_root))
        {
            try { Directory.Delete(leftover, recursive: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                logger.LogDebug(e, "A standby folder of a previous server is still in use: {Folder}", leftover);
            }
        }
        Replenish();
    }

    /// <summary>A worker that is waiting now, or null (the caller then starts one the slow way).</summary>
    public StandbyWorker? TryTake()
    {
        StandbyWorker? taken = null;
        lock (_lock)
        {
            PromoteReady();
            while (_ready.TryDequeue(out var candidate))
            {
                if (!candidate.Process.HasExited)
                {
                    taken = candidate;
                    break;
                }
                candidate.Process.Dispose();
            }
        }
        Replenish();
        return taken;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            foreach (var worker in _ready.Concat(_warming))
            {
                // SIGTERM, not SIGKILL: a waiting worker then removes its cgroups and folder.
                Native.Signal(worker.Pid, Native.SIGTERM);
                worker.Process.Dispose();
            }
            _ready.Clear();
            _warming.Clear();
        }
    }

    /// <summary>Moves workers that have written their <c>ready</c> file to the ready queue.</summary>
    private void PromoteReady()
    {
        for (var i = _warming.Count - 1; i >= 0; i--)
        {
            var worker = _warming[i];
            if (File.Exists(Path.Combine(worker.Folder, "ready")))
            {
                _warming.RemoveAt(i);
                _ready.Enqueue(worker with { StartTime = Native.ProcessStartTime(worker.Pid) });
                _failures = 0;
            }
            else if (worker.Process.HasExited)
            {
                // A worker that cannot wait in standby (an older build, say) is not retried for ever.
                _warming.RemoveAt(i);
                worker.Process.Dispose();
                if (++_failures == MaxFailures)
                {
                    _logger.LogWarning("Standby workers keep exiting before they are ready (see {Folder}/worker.log); attempts start without them", worker.Folder);
                }
            }
        }
    }

    private void Replenish()
    {
        lock (_lock)
        {
            if (_disposed || _failures >= MaxFailures) return;
            while (_ready.Count + _warming.Count < _options.StandbyWorkers)
            {
                var folder = Path.Combine(_root, Guid.NewGuid().ToString("N"));
                Directory.CreateDirectory(folder);
                var start = new ProcessStartInfo(_worker.FileName) { UseShellExecute = false, WorkingDirectory = folder };
                foreach (var argument in _worker.Prefix) start.ArgumentList.Add(argument);
                start.ArgumentList.Add("standby");
                start.ArgumentList.Add(folder);
                // The worker exits once this server is no longer its parent (see ParentWatch), even if it dies before the worker looks.
                start.ArgumentList.Add(ParentWatch.Option);
                start.ArgumentList.Add(Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
                start.ArgumentList.Add("--enforce-limits");
                start.ArgumentList.Add(_options.EnforceLimits ? "true" : "false");
                if (_options.CgroupParent is { } parent)
                {
                    start.ArgumentList.Add("--cgroup-parent");
                    start.ArgumentList.Add(parent);
                }
                try
                {
                    var process = Process.Start(start)!;
                    _warming.Add(new StandbyWorker(process, folder, process.Id, null));
                }
                catch (System.ComponentModel.Win32Exception e)
                {
                    _logger.LogWarning(e, "Could not start a standby worker; attempts start without one");
                    return;
                }
            }
        }
    }
}
