using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Strata.Contracts;
using Microsoft.Extensions.Options;
using Strata.Core.Deployments;
using Strata.Core.Runtime;
using Strata.Core.Runtime.Local;
using Strata.Core.Usage;
using Strata.Server.Hosting;
using Strata.Server.Usage;

namespace Strata.Server.Runtime.Local;

/// <summary>
/// Deployments on this machine: each replica is a <c>strata-worker serve</c> process on a loopback port.
/// Every deployment has a supervising loop (<see cref="LocalDeployment"/>) that restarts replicas that
/// die, rolls a new version out one replica at a time and scales between the limits on load.
/// Replicas are children of the server: they are stopped when it shuts down, end by themselves when it dies
/// (<see cref="ParentWatch"/>), and are started again by the deployments' resync when it starts.
/// Each deployment measures its replicas' processes and stores their usage (<see cref="ReplicaUsageRecorder"/>).
/// </summary>
public sealed class LocalDeploymentRuntime(
    IOptions<LocalDeploymentOptions> options, WorkerBinary worker, IReplicaLoad load, DataFolder data, ReplicaUsageRecorder usage, IOptions<UsageOptions> usageOptions,
    TimeProvider time, ILoggerFactory loggers) : IDeploymentRuntime, IAsyncDisposable
{
    private readonly ConcurrentDictionary<DeploymentKey, LocalDeployment> _deployments = new();

    /// <summary>Local replicas are sized by the platform's autoscaler alone: there is no HPA to hand CPU scaling to.</summary>
    public IReadOnlyList<string> SupportedScalingModes { get; } = [ScalingModes.InFlight];

    public Task ApplyAsync(DeploymentTarget target, CancellationToken cancellationToken)
    {
        var deployment = _deployments.GetOrAdd(target.Key, key => new LocalDeployment(
            key, options.Value, load, worker.Jit.Argv, Path.Combine(data.Root, "deployments", key.TenantId, key.Name),
            new ReplicaAccounting(usage, TimeSpan.FromSeconds(usageOptions.Value.ReplicaCheckpointSeconds)), time, loggers.CreateLogger<LocalDeployment>()));
        deployment.SetTarget(target);
        return Task.CompletedTask;
    }

    public async Task RemoveAsync(DeploymentKey key, CancellationToken cancellationToken)
    {
        if (_deployments.TryRemove(key, out var deployment)) await deployment.DisposeAsync();
    }

    public DeploymentObservation? Observe(DeploymentKey key) => _deployments.TryGetValue(key, out var deployment) ? deployment.Observe() : null;

    public IReadOnlyList<DeploymentKey> Deployments() => [.. _deployments.Keys];

    public async Task RetainOnlyAsync(IReadOnlySet<DeploymentKey> stored, DateTimeOffset listedAt, CancellationToken cancellationToken)
    {
        foreach (var (key, deployment) in _deployments)
        {
            if (!stored.Contains(key) && deployment.CreatedAt < listedAt) await RemoveAsync(key, cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(_deployments.Values.Select(d => d.DisposeAsync().AsTask()));
        _deployments.Clear();
    }
}

/// <summary>
/// One deployment's replicas and the loop that keeps them as its target says. Each pass (every 200 ms,
/// or at once when the target changes) is level-triggered:
/// <list type="number">
/// <item>replicas whose process ended are forgotten (and so replaced below);</item>
/// <item>a starting replica that answers <c>/health/ready</c> joins the rotation;</item>
/// <item>the autoscaler sets the desired count from the requests in flight, within the limits;</item>
/// <item>one replica of the target version is started while fewer than desired are up (a surge of one:
///   a rollout starts a new replica, waits until it is ready, then retires an old one); the same for
///   a canary's version, with its share of the desired count (at least one);</item>
/// <item>replicas beyond what is needed (old versions once new ones are ready, or extra after a scale-down)
///   leave the rotation, finish their requests in flight and are stopped.</item>
/// </list>
/// Before them, every replica's process is sampled for its usage, which is stored at each checkpoint and
/// when the replica ends (docs/usage.md, "What is measured: serving").
/// </summary>
internal sealed class LocalDeployment : IAsyncDisposable
{
    private const int MaxEvents = 50;
    private static readonly TimeSpan PassInterval = TimeSpan.FromMilliseconds(200);
    private static readonly HttpClient Probe = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(2) };

    private readonly DeploymentKey _key;
    private readonly LocalDeploymentOptions _options;
    private readonly IReplicaLoad _load;
    private readonly string[] _worker;
    private readonly string _folder;
    private readonly ReplicaAccounting _accounting;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly List<Replica> _replicas = [];
    private readonly List<RuntimeEvent> _events = [];
    private readonly StabilizedReplicas _autoscaler;
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly Task _loop;
    private readonly object _gate = new();
    private DeploymentTarget? _target;
    private int _desired;
    private int _sequence;
    private IReadOnlyList<ReplicaEndpoint> _ready = [];
    private IReadOnlyList<ReplicaEndpoint> _starting = [];
    // What Observe returns, rebuilt under _gate whenever a part of it changes: every prediction reads it,
    // so reading must take no lock and copy nothing.
    private volatile DeploymentObservation _observation = new(0, [], [], "");

    public LocalDeployment(
        DeploymentKey key, LocalDeploymentOptions options, IReplicaLoad load, string[] worker, string folder, ReplicaAccounting accounting, TimeProvider time, ILogger logger)
    {
        _key = key;
        _options = options;
        _load = load;
        _worker = worker;
        _folder = folder;
        _accounting = accounting;
        _time = time;
        _logger = logger;
        CreatedAt = time.GetUtcNow();
        _autoscaler = new StabilizedReplicas(TimeSpan.FromSeconds(options.ScaleUpStabilizationSeconds), TimeSpan.FromSeconds(options.ScaleDownStabilizationSeconds));
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>When this server started running the deployment.</summary>
    public DateTimeOffset CreatedAt { get; }

    public void SetTarget(DeploymentTarget target)
    {
        lock (_gate)
        {
            _target = target;
            _desired = Math.Clamp(_desired == 0 ? target.MinReplicas : _desired, target.MinReplicas, target.MaxReplicas);
            PublishObservation();
        }
        _wake.Release();
    }

    public DeploymentObservation Observe() => _observation;

    /// <summary>Called holding <c>_gate</c>, after a change to the target, the desired count, the rotation or the events.</summary>
    private void PublishObservation()
    {
        var canary = _target?.Canary is { } c ? new CanarySplit(c.ModelVersion, c.Weight, CanaryTarget.ReplicasFor(_desired, c.Weight)) : null;
        _observation = new DeploymentObservation(_desired, _ready, [.. _events], _target?.ModelName ?? "", canary) { Starting = _starting };
    }

    private async Task LoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                await PassAsync();
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _logger.LogError(e, "Deployment {Deployment}: a supervision pass failed; trying again", _key);
            }
            try
            {
                await _wake.WaitAsync(PassInterval, _stopping.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private async Task PassAsync()
    {
        DeploymentTarget target;
        lock (_gate)
        {
            if (_target is null) return;
            target = _target;
        }
        var now = _time.GetUtcNow();

        // 0. Usage: the replicas still running are sampled; those that ended have their last interval closed.
        var ended = _replicas.Where(r => r.Process.HasExited).ToList();
        await AccountAsync(target, ended, now, CancellationToken.None);

        // 1. Replicas that ended (crashed, killed, failed to load) are forgotten; step 4 replaces them.
        //    Each step publishes the rotation before its events, so whoever reads an event also sees its effect.
        var exited = ended.Where(r => r.State != ReplicaState.Stopping).ToList();
        _replicas.RemoveAll(exited.Contains);
        _replicas.RemoveAll(r => r.State == ReplicaState.Stopping && ended.Contains(r) && r.DisposeAndTrue());
        PublishRotation();
        foreach (var replica in ended) _load.Forget(replica.Id);
        foreach (var gone in exited)
        {
            Event("replica_exited", $"replica {gone.Id} (version {gone.Version}) exited with status {gone.Process.ExitCode}{gone.LastError()}; it will be replaced");
            gone.Dispose();
        }

        // 2. Starting replicas that are ready join the rotation; one too slow is restarted.
        foreach (var starting in _replicas.Where(r => r.State == ReplicaState.Starting))
        {
            if (starting.Address is not null && await IsReadyAsync(starting.Address))
            {
                starting.State = ReplicaState.Ready;
                PublishRotation();
                Event("replica_ready", $"replica {starting.Id} (version {starting.Version}) is ready at {starting.Address}");
            }
            else if (now - starting.StartedAt > TimeSpan.FromSeconds(_options.ReadyTimeoutSeconds))
            {
                Event("replica_not_ready", $"replica {starting.Id} was not ready after {_options.ReadyTimeoutSeconds} s; restarting it");
                starting.Stop();
            }
        }

        // 3. The desired count, from the load on the ready replicas; a canary gets its share of it, at least one.
        var desired = Autoscale(target, now);
        var canaryDesired = target.Canary is { } canary ? CanaryTarget.ReplicasFor(desired, canary.Weight) : 0;

        // 4. Bring up replicas of the target version (and of the canary's), one at a time each.
        var current = StartIfFewer(target, target.ModelVersion, desired, target.ModelUri, target.InputSchemaJson);
        var currentCanary = target.Canary is { } c ? StartIfFewer(target, c.ModelVersion, canaryDesired, c.ModelUri, c.InputSchemaJson) : [];

        // 5. Retire what is no longer needed: old versions (a removed canary's too) as new replicas are
        //    ready, extras after a scale-down.
        var currentReady = current.Count(r => r.State == ReplicaState.Ready);
        var old = _replicas.Where(r => r.Version != target.ModelVersion && r.Version != target.Canary?.ModelVersion && r.State is ReplicaState.Starting or ReplicaState.Ready)
            .OrderBy(r => r.StartedAt).ToList();
        var oldAllowed = Math.Max(0, desired - currentReady);
        var extras = Extras(current, desired).Concat(Extras(currentCanary, canaryDesired));
        foreach (var replica in old.Skip(oldAllowed).Concat(extras).ToList())
        {
            replica.State = ReplicaState.Draining;
            replica.DrainingSince = now;
            PublishRotation();
            var wanted = replica.Version == target.ModelVersion || replica.Version == target.Canary?.ModelVersion;
            Event("replica_draining", $"replica {replica.Id} (version {replica.Version}) left the rotation" + (wanted ? " (scaled down)" : $" (replaced by version {target.ModelVersion})"));
        }
        foreach (var draining in _replicas.Where(r => r.State == ReplicaState.Draining))
        {
            if (_load.InFlight(draining.Id) == 0 || now - draining.DrainingSince > TimeSpan.FromSeconds(_options.DrainSeconds))
            {
                draining.Stop();
                Event("replica_stopped", $"replica {draining.Id} (version {draining.Version}) was stopped");
            }
        }
    }

    /// <summary>
    /// Samples the running replicas and closes the intervals that are due (a checkpoint passed) or final (the
    /// replica in <paramref name="ended"/>), then stores what was closed. What could not be stored is kept and
    /// stored with the next pass's.
    /// </summary>
    private async Task AccountAsync(DeploymentTarget target, IReadOnlyCollection<Replica> ended, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var perReplica = ResourceRequest.FromGb(target.CpuCores, target.MemoryGb, 0);
        foreach (var replica in _replicas)
        {
            var final = ended.Contains(replica);
            if (!final) replica.SampleUsage(now);
            if (final || _accounting.IsDue(replica.Meter, now)) _accounting.Close(replica.Id, replica.Version, replica.Meter.Cut(now, perReplica));
        }
        try
        {
            await _accounting.StoreAsync(_key, cancellationToken);
        }
        catch (Exception e)
        {
            // Also a server stopping that would not wait longer: what was not stored is lost, as with a crash.
            _logger.LogWarning(e, "Deployment {Deployment}: its replicas' usage could not be stored; trying again with the next pass", _key);
        }
    }

    /// <summary>Routing sees the replicas that are ready now; monitoring also those starting (once they listen).</summary>
    private void PublishRotation()
    {
        lock (_gate)
        {
            _ready = [.. _replicas.Where(r => r.State == ReplicaState.Ready).Select(r => r.Endpoint())];
            _starting = [.. _replicas.Where(r => r.State == ReplicaState.Starting && r.Address is not null).Select(r => r.Endpoint())];
            PublishObservation();
        }
    }

    /// <summary>The replicas of <paramref name="version"/> that are up, after starting one more when fewer than <paramref name="wanted"/> are and none is still starting.</summary>
    private List<Replica> StartIfFewer(DeploymentTarget target, int version, int wanted, string modelUri, string? inputSchemaJson)
    {
        var up = _replicas.Where(r => r.Version == version && r.State is ReplicaState.Starting or ReplicaState.Ready).ToList();
        if (up.Count < wanted && up.All(r => r.State == ReplicaState.Ready)) Start(target.ModelName, version, modelUri, inputSchemaJson);
        return up;
    }

    /// <summary>The ready replicas beyond <paramref name="wanted"/>, newest first.</summary>
    private static IEnumerable<Replica> Extras(List<Replica> up, int wanted)
    {
        var ready = up.Where(r => r.State == ReplicaState.Ready).ToList();
        return ready.OrderByDescending(r => r.StartedAt).Take(Math.Max(0, ready.Count - wanted));
    }

    /// <summary>The desired count from the requests in flight on the ready replicas (<see cref="StabilizedReplicas"/>).</summary>
    private int Autoscale(DeploymentTarget target, DateTimeOffset now)
    {
        var inFlight = _replicas.Where(r => r.State == ReplicaState.Ready).Sum(r => _load.InFlight(r.Id));
        int desired;
        lock (_gate)
        {
            var before = Math.Clamp(_desired, target.MinReplicas, target.MaxReplicas);
            desired = _autoscaler.Next(inFlight, target.TargetInFlight, target.MinReplicas, target.MaxReplicas, before, now);
            _desired = desired;
            PublishObservation();
            if (desired != before) Event("scaled", $"desired replicas {before} → {desired} ({inFlight} requests in flight, target {target.TargetInFlight} per replica)");
        }
        return desired;
    }

    private void Start(string modelName, int version, string modelUri, string? inputSchemaJson)
    {
        var id = $"{_key.Name}-v{version}-{++_sequence}";
        Directory.CreateDirectory(_folder);
        var schema = Path.Combine(_folder, $"schema-v{version}.json");
        if (inputSchemaJson is not null && !File.Exists(schema)) File.WriteAllText(schema, inputSchemaJson);
        var start = new ProcessStartInfo(_worker[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
            WorkingDirectory = _folder,
        };
        foreach (var argument in _worker.Skip(1)) start.ArgumentList.Add(argument);
        // --parent-pid: the replica ends with this server, however it ends (see ParentWatch); a restarted server starts its own.
        string[] arguments = ["serve", "--model", modelUri, "--port", "0", "--model-name", modelName, "--version", version.ToString(CultureInfo.InvariantCulture),
            ParentWatch.Option, Environment.ProcessId.ToString(CultureInfo.InvariantCulture)];
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        // Predictions go over a socket in the deployment's folder; the loopback port stays for health checks and
        // scrapes. A data folder so deep that the path does not fit in a socket address leaves the replica on TCP alone.
        var socket = Path.Combine(_folder, $"{id}.sock");
        if (ReplicaSocket.Fits(socket))
        {
            start.ArgumentList.Add(ReplicaSocket.Option);
            start.ArgumentList.Add(socket);
        }
        else
        {
            socket = null;
        }
        if (inputSchemaJson is not null)
        {
            start.ArgumentList.Add("--schema");
            start.ArgumentList.Add(schema);
        }
        // A replica sees nothing of the server's environment but what .NET needs to run.
        start.Environment.Clear();
        foreach (var name in new[] { "PATH", "HOME", "DOTNET_ROOT", "TMPDIR", "LANG" })
        {
            if (Environment.GetEnvironmentVariable(name) is { } value) start.Environment[name] = value;
        }
        start.Environment["DOTNET_gcServer"] = "0";
        var process = Process.Start(start)!;
        var replica = new Replica(id, version, process, _time.GetUtcNow(), socket);
        replica.SampleUsage(replica.StartedAt);
        process.OutputDataReceived += (_, line) => replica.OnOutput(line.Data);
        process.ErrorDataReceived += (_, line) => replica.OnError(line.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _replicas.Add(replica);
        Event("replica_started", $"replica {id} (version {version}) started as process {process.Id}");
    }

    private static async Task<bool> IsReadyAsync(Uri address)
    {
        try
        {
            using var response = await Probe.GetAsync(new Uri(address, "health/ready"));
            return response.IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    private void Event(string reason, string message)
    {
        _logger.LogInformation("Deployment {Deployment}: {Message}", _key, message);
        lock (_gate)
        {
            _events.Add(new RuntimeEvent(_time.GetUtcNow(), reason, message));
            if (_events.Count > MaxEvents) _events.RemoveAt(0);
            PublishObservation();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _loop;
        foreach (var replica in _replicas) replica.Stop();
        await Task.WhenAll(_replicas.Select(r => r.WaitAsync(TimeSpan.FromSeconds(_options.DrainSeconds + 5))));
        DeploymentTarget? target;
        lock (_gate) target = _target;
        if (target is not null)
        {
            // The replicas' last intervals, up to their end; a server stopping waits a little for the store.
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await AccountAsync(target, _replicas, _time.GetUtcNow(), timeout.Token);
        }
        foreach (var replica in _replicas) replica.Dispose();
        _replicas.Clear();
        lock (_gate)
        {
            _ready = [];
            _starting = [];
            PublishObservation();
        }
        _stopping.Dispose();
        _wake.Dispose();
    }

    private enum ReplicaState
    {
        Starting,
        Ready,
        Draining,
        Stopping,
    }

    private sealed class Replica(string id, int version, Process process, DateTimeOffset startedAt, string? socket) : IDisposable
    {
        private const string Listening = "strata-worker serve: listening on ";
        private readonly Queue<string> _errors = new();

        public string Id { get; } = id;
        public int Version { get; } = version;
        public Process Process { get; } = process;
        public DateTimeOffset StartedAt { get; } = startedAt;
        public ReplicaState State { get; set; } = ReplicaState.Starting;
        public DateTimeOffset DrainingSince { get; set; }
        public Uri? Address { get; private set; }
        public ReplicaMeter Meter { get; } = new(startedAt);

        /// <summary>Where the router reaches it: once it listens, its socket too (bound before it prints its address).</summary>
        public ReplicaEndpoint Endpoint() => new(Id, Address!, Version) { Socket = socket };

        /// <summary>The process's CPU time so far and its resident memory now; nothing once it has exited.</summary>
        public void SampleUsage(DateTimeOffset now)
        {
            try
            {
                Process.Refresh();
                Meter.Sample(now, Process.TotalProcessorTime.TotalSeconds, Process.WorkingSet64);
            }
            catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                // It exited between the look and the read: the next pass closes its last interval.
            }
        }

        public void OnOutput(string? line)
        {
            if (line is not null && line.StartsWith(Listening, StringComparison.Ordinal)) Address = new Uri(line[Listening.Length..].Trim());
        }

        public void OnError(string? line)
        {
            if (line is null) return;
            lock (_errors)
            {
                _errors.Enqueue(line);
                if (_errors.Count > 5) _errors.Dequeue();
            }
        }

        public string LastError()
        {
            lock (_errors) return _errors.Count == 0 ? "" : ": " + string.Join(" ", _errors);
        }

        /// <summary>SIGTERM: the replica finishes its requests in flight and exits.</summary>
        public void Stop()
        {
            State = ReplicaState.Stopping;
            if (!Process.HasExited) Native.Signal(Process.Id, 15);
        }

        public async Task WaitAsync(TimeSpan grace)
        {
            using var timeout = new CancellationTokenSource(grace);
            try
            {
                await Process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                Process.Kill(entireProcessTree: true);
            }
        }

        public bool DisposeAndTrue()
        {
            Dispose();
            return true;
        }

        public void Dispose()
        {
            Process.Dispose();
            // Its socket file outlives the process; a replica started later under the same name would replace it anyway.
            if (socket is not null && File.Exists(socket)) File.Delete(socket);
        }
    }
}

/// <summary>
/// A deployment's side of usage accounting: when a replica's open interval is due, and the closed intervals
/// not stored yet (kept across a failed write, stored with the next).
/// </summary>
internal sealed class ReplicaAccounting(ReplicaUsageRecorder recorder, TimeSpan checkpoint)
{
    private readonly List<ReplicaUsage> _closed = [];

    public bool IsDue(ReplicaMeter meter, DateTimeOffset now) => meter.IsDue(now, checkpoint);

    public void Close(string replicaId, int modelVersion, IReadOnlyList<ReplicaInterval> intervals) =>
        _closed.AddRange(intervals.Select(i => new ReplicaUsage(replicaId, modelVersion, i)));

    public async Task StoreAsync(DeploymentKey deployment, CancellationToken cancellationToken)
    {
        if (_closed.Count == 0) return;
        await recorder.RecordAsync(deployment, _closed, cancellationToken);
        _closed.Clear();
    }
}
