using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Strata.Core.Runtime.Local;
using Strata.Worker.Cgroups;
using Strata.Worker.Sandbox;

namespace Strata.Worker;

/// <summary>The options of <c>strata-worker standby</c>.</summary>
/// <param name="ParentPid">
/// The server that started it (<see cref="ParentWatch.Option"/>): the worker exits once that is no longer its
/// parent. Null (run by hand): whatever its parent is when it starts.
/// </param>
internal sealed record StandbyOptions(string Directory, bool EnforceLimits, string? CgroupParent, TimeSpan IdleTimeout, int? ParentPid = null)
{
    public const string Usage =
        "usage: strata-worker standby <standby-dir> [--enforce-limits true|false] [--cgroup-parent PATH] [--idle-timeout-seconds N] [--parent-pid PID]";

    public static StandbyOptions? Parse(string[] args)
    {
        if (args is not ["standby", var directory, .. var rest] || rest.Length % 2 != 0)
        {
            return null;
        }
        var options = new StandbyOptions(Path.GetFullPath(directory), true, null, TimeSpan.FromSeconds(600));
        for (var i = 0; i < rest.Length; i += 2)
        {
            var value = rest[i + 1];
            switch (rest[i])
            {
                case "--enforce-limits" when bool.TryParse(value, out var enforce):
                    options = options with { EnforceLimits = enforce };
                    break;
                case "--cgroup-parent":
                    options = options with { CgroupParent = value };
                    break;
                case "--idle-timeout-seconds" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds > 0:
                    options = options with { IdleTimeout = TimeSpan.FromSeconds(seconds) };
                    break;
                case ParentWatch.Option when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid > 0:
                    options = options with { ParentPid = pid };
                    break;
                default:
                    return null;
            }
        }
        return options;
    }
}

/// <summary>
/// What a standby worker hands to the <see cref="Supervisor"/> of the attempt it was given: the stop
/// signals it has listened for since it started, its start time, and the cgroup it created in advance.
/// </summary>
internal sealed class StandbyHandoff(StandbyOptions options, IAttemptCgroup prepared, PreSpawnedJob? preSpawned, TaskCompletionSource<PosixSignal> stopRequested, long? workerStartTime)
{
    /// <summary>Whether the attempt's cgroup is the prepared one, which the process started in advance is in.</summary>
    private bool _preparedCgroupUsed;

    public TaskCompletionSource<PosixSignal> StopRequested => stopRequested;
    public long? WorkerStartTime => workerStartTime;

    /// <summary>Whether the prepared cgroup was handed over (else it is still the standby worker's to remove).</summary>
    public bool CgroupTaken { get; private set; }

    /// <summary>
    /// The attempt's cgroup: the prepared one with the attempt's limits, unless the attempt asks for
    /// something the standby worker did not prepare (another parent, or no limits), which is then set
    /// up the way <c>run</c> does.
    /// </summary>
    public IAttemptCgroup CgroupFor(LaunchFile launch, WorkerLog log)
    {
        if (launch.EnforceLimits == options.EnforceLimits && launch.CgroupParent == options.CgroupParent)
        {
            try
            {
                var cgroup = prepared.Assign(launch, log);
                CgroupTaken = true;
                _preparedCgroupUsed = true;
                if (prepared is not NoCgroup)
                {
                    log.Write("the cgroup was created in standby");
                }
                return cgroup;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                log.Write($"cannot set the limits on the cgroup created in standby: {e.Message}");
            }
        }
        DiscardJob();
        prepared.Remove(log);
        CgroupTaken = true;
        return CgroupSetup.Create(launch);
    }

    /// <summary>
    /// The job's process started in advance inside the prepared cgroup, now told to become the
    /// attempt's job; null when there is none or it cannot take this launch (then it is killed and
    /// the caller starts the job the ordinary way, joining the cgroup then).
    /// </summary>
    public Process? StartJob(LaunchFile launch, string workDirectory, string? sandboxCommand, WorkerLog log)
    {
        if (preSpawned is null || !_preparedCgroupUsed)
        {
            DiscardJob();
            return null;
        }
        var job = preSpawned.Become(launch, workDirectory, sandboxCommand, log);
        if (job is null)
        {
            DiscardJob();
        }
        else
        {
            log.Write("the job's process was started in standby");
        }
        return job;
    }

    /// <summary>Kills the process started in advance unless it became the job.</summary>
    public void DiscardJob() => preSpawned?.Discard();

    /// <summary>Called once the job runs and supervisor.json is written: the standby folder has served its purpose.</summary>
    public void Started(WorkerLog log)
    {
        try { Directory.Delete(options.Directory, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { log.Write($"could not remove the standby folder {options.Directory}: {e.Message}"); }
    }
}

/// <summary>
/// <c>strata-worker standby &lt;standby-dir&gt;</c>: a worker started before there is an attempt for it.
/// It does all the preparation that does not depend on the attempt (runtime start, JSON and process
/// code warmed up, the cgroup created without limits and, with a cgroup, the job's process started
/// inside it: see <see cref="PreSpawnedJob"/>), creates the FIFO <c>assign</c>, writes
/// <c>ready</c> (its pid) and waits for one line on the FIFO: the path of an attempt folder holding a
/// launch.json. From then on it is exactly <c>strata-worker run &lt;attempt-dir&gt;</c>. While it waits it
/// exits by itself (removing its cgroup and the standby folder) when its parent dies, after the idle
/// time-out, or on SIGTERM/SIGINT.
/// </summary>
internal static class Standby
{
    public const string Fifo = "assign";
    public const string Ready = "ready";
    private const int CheckIntervalMilliseconds = 200;
    private const string WarmUpLaunch = """{"attempt_name":"warm-up","entrypoint":"true","environment":{"A":"b"},"cpu_cores":1,"memory_bytes":1,"stop_grace_seconds":1,"sandbox":{"bwrap":"bwrap","network":"host"}}""";

    public static async Task<int> RunAsync(StandbyOptions options, string? detachProblem, int parentPid)
    {
        var time = TimeProvider.System;
        Directory.CreateDirectory(options.Directory);
        var log = new WorkerLog(Path.Combine(options.Directory, AttemptFiles.WorkerLog), time);
        var stopSignals = new StopSignals();
        if (detachProblem is not null)
        {
            log.Write(detachProblem);
        }
        if (!Native.BecomeSubreaper())
        {
            log.Write("not a child subreaper");
        }
        WarmUp(log, options.Directory);
        var prepared = CgroupSetup.Create(new LaunchFile
        {
            AttemptName = $"standby-{Environment.ProcessId}",
            Entrypoint = "",
            Environment = [],
            CpuCores = 0,
            MemoryBytes = 0,
            CgroupParent = options.CgroupParent,
            EnforceLimits = options.EnforceLimits,
        });
        log.Open(prepared.Description);
        var preSpawned = PreSpawnedJob.Start(prepared, log);
        var startTime = Native.StartTime();

        string? attempt;
        try
        {
            attempt = Wait(options, log, stopSignals, parentPid);
        }
        catch (Exception e)
        {
            log.Write($"standby failed: {e}");
            attempt = null;
        }
        if (attempt is null)
        {
            preSpawned?.Discard();
            prepared.Remove(log);
            log.Dispose();
            stopSignals.Dispose();
            try { Directory.Delete(options.Directory, recursive: true); }
            catch (IOException) { }
            return ExitCodes.Done;
        }

        log.Write($"assigned {attempt}");
        log.Dispose();
        var handoff = new StandbyHandoff(options, prepared, preSpawned, stopSignals.Requested, startTime);
        try
        {
            return await new Supervisor(attempt, time, handoff).RunAsync(detachProblem);
        }
        finally
        {
            handoff.DiscardJob();
            if (!handoff.CgroupTaken)
            {
                using var late = new WorkerLog(Path.Combine(attempt, AttemptFiles.WorkerLog), time);
                late.Open(prepared.Description);
                prepared.Remove(late);
            }
            try { Directory.Delete(options.Directory, recursive: true); }
            catch (IOException) { }
            stopSignals.Dispose();
        }
    }

    /// <summary>Touches the code the start path runs (source-generated JSON, process start), so it runs warm later.</summary>
    private static void WarmUp(WorkerLog log, string standbyDirectory)
    {
        try
        {
            var launch = JsonSerializer.Deserialize(WarmUpLaunch, AttemptFilesJsonContext.Default.LaunchFile)!;
            // The sandbox's preparation (its files and bwrap's arguments), in a scratch folder of the standby's.
            var scratch = Path.Combine(standbyDirectory, "warm-up");
            var work = Directory.CreateDirectory(Path.Combine(scratch, AttemptFiles.WorkDirectory)).FullName;
            using (JobSandbox.Prepare(launch, launch.Sandbox!, scratch, work)) { }
            Directory.Delete(scratch, recursive: true);
            JsonSerializer.Serialize(Stream.Null, new SupervisorFile { WorkerPid = 1, WorkerStartTime = 1, JobPid = 1, StartedAt = default, LimitMode = launch.AttemptName },
                AttemptFilesJsonContext.Default.SupervisorFile);
            JsonSerializer.Serialize(Stream.Null, new ResultFile { Reason = "warm-up", FinishedAt = default, LimitMode = "" }, AttemptFilesJsonContext.Default.ResultFile);
            // The first process start sets up the runtime's SIGCHLD handling and its pipes' code.
            var start = new ProcessStartInfo(JobProcess.Shell) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add(":");
            start.Environment.Clear();
            using var process = Process.Start(start)!;
            process.StandardOutput.BaseStream.CopyTo(Stream.Null);
            process.WaitForExit();
        }
        catch (Exception e)
        {
            log.Write($"warm-up failed (harmless): {e.Message}");
        }
    }

    /// <summary>
    /// Creates the FIFO, writes <c>ready</c> and waits for an attempt's path on the FIFO. Null when the
    /// worker should exit instead: its parent is gone, it has waited too long, or it was asked to stop.
    /// </summary>
    private static string? Wait(StandbyOptions options, WorkerLog log, StopSignals stopSignals, int parentPid)
    {
        var fifo = Path.Combine(options.Directory, Fifo);
        File.Delete(fifo);
        Native.CreateFifo(fifo);
        // Open before announcing: a writer that opens the FIFO once `ready` exists always finds a reader.
        var fd = Native.OpenFifoForReading(fifo);
        try
        {
            var ready = Path.Combine(options.Directory, Ready);
            File.WriteAllText(ready + ".tmp", Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
            File.Move(ready + ".tmp", ready, overwrite: true);

            var line = new List<byte>();
            var deadline = Environment.TickCount64 + (long)options.IdleTimeout.TotalMilliseconds;
            string? why = null;
            while (true)
            {
                // Wakes the moment the server writes; the time-out only paces the other checks.
                if (Native.WaitReadable(fd, CheckIntervalMilliseconds) && ReadLine(fd, line) is { } path)
                {
                    return path;
                }
                why = stopSignals.Requested.Task.IsCompleted ? $"stopped by {stopSignals.Requested.Task.Result}"
                    : ParentWatch.IsGone(parentPid) ? $"the process that started it ({parentPid}) is gone"
                    // Its folder was removed (the server's data folder was deleted): no attempt can reach it.
                    : !File.Exists(fifo) ? "its standby folder is gone"
                    : Environment.TickCount64 >= deadline ? $"idle for {options.IdleTimeout.TotalSeconds:0} s"
                    : null;
                if (why is not null)
                {
                    break;
                }
            }

            // Nobody can open the FIFO any more; an attempt that was written just before is still taken.
            File.Delete(fifo);
            if (ReadLine(fd, line) is { } late)
            {
                log.Write($"{why}, but an attempt was assigned at the same time");
                return late;
            }
            log.Write($"exiting: {why}");
            return null;
        }
        finally
        {
            Native.CloseFd(fd);
        }
    }

    /// <summary>Reads what the FIFO holds into <paramref name="line"/>; the line once it is complete.</summary>
    private static string? ReadLine(int fd, List<byte> line)
    {
        Span<byte> buffer = stackalloc byte[4096];
        while (true)
        {
            var read = Native.ReadAvailable(fd, buffer);
            if (read <= 0)
            {
                return null;
            }
            var chunk = buffer[..read];
            var end = chunk.IndexOf((byte)'\n');
            if (end >= 0)
            {
                line.AddRange(chunk[..end]);
                var text = Encoding.UTF8.GetString(line.ToArray()).Trim();
                line.Clear();
                if (text.Length > 0)
                {
                    return Path.GetFullPath(text);
                }
                continue;
            }
            line.AddRange(chunk);
        }
    }
}
