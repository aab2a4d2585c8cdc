using System.Diagnostics;
using System.Runtime.InteropServices;
using Strata.Core.Runtime;
using Strata.Core.Runtime.Local;
using Strata.Worker.Cgroups;
using Strata.Worker.Disk;
using Strata.Worker.Sandbox;

namespace Strata.Worker;

/// <summary>Why an attempt ended: the <c>reason</c> of result.json.</summary>
internal static class Reasons
{
    public const string Completed = "completed";
    public const string ExitedWithError = "exited_with_error";
    public const string OutOfMemory = "out_of_memory";
    public const string DiskLimitExceeded = "disk_limit_exceeded";
    public const string TimedOut = "timed_out";
    public const string Killed = "killed";
    public const string StartFailed = "start_failed";
    public const string EnvironmentError = "environment_error";
}

/// <summary>
/// Supervises one attempt, in phases: read launch.json; set up the cgroup; start the job (nothing
/// else happens before the spawn); record supervisor.json; wait for the job, its time limit, its disk
/// limit or a stop request (SIGTERM/SIGINT); stop the whole tree and any leftovers; measure; remove
/// the cgroup; finish output.log; write result.json last.
/// </summary>
internal sealed class Supervisor(string attemptDirectory, TimeProvider time, StandbyHandoff? standby = null)
{
    private static readonly TimeSpan OutputDrainTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan ExitAfterKillTimeout = TimeSpan.FromSeconds(30);

    private string PathOf(string file) => Path.Combine(attemptDirectory, file);

    public async Task<int> RunAsync(string? detachProblem)
    {
        if (!Directory.Exists(attemptDirectory))
        {
            return ExitCodes.NoLaunchFile;
        }
        using var log = new WorkerLog(PathOf(AttemptFiles.WorkerLog), time);
        if (detachProblem is not null)
        {
            log.Write(detachProblem);
        }

        // 1. What to run.
        var launch = AttemptFiles.Read(PathOf(AttemptFiles.Launch), AttemptFilesJsonContext.Default.LaunchFile);
        if (launch is null)
        {
            log.Open($"{LimitModes.MeasuredOnly} (no launch file)");
            log.Write($"{AttemptFiles.Launch} is missing or unreadable");
            WriteResult(log, new ResultFile
            {
                Reason = Reasons.StartFailed,
                Message = $"{AttemptFiles.Launch} is missing or unreadable",
                FinishedAt = time.GetUtcNow(),
                LimitMode = LimitModes.MeasuredOnly,
            });
            return ExitCodes.NoLaunchFile;
        }

        // A standby worker has listened for stop signals since it started.
        using var stopSignals = standby is null ? new StopSignals() : null;
        var stopRequested = standby?.StopRequested ?? stopSignals!.Requested;

        // 2. Limits, then the job: only what must precede its first instruction. Orphans of the job
        // must find the worker as their reaper even if the job exits at once, hence before the spawn.
        var subreaper = Native.BecomeSubreaper();
        var cgroup = standby is null ? CgroupSetup.Create(launch) : standby.CgroupFor(launch, log);
        var joinFailedMarker = PathOf(".cgroup-join-failed");
        var startedAt = time.GetUtcNow();
        // 2a. The job's Python environment (docs/environments.md), reused or built before the job starts.
        OutputPump? environmentOutput = null;
        if (launch.PythonEnvironment is { } pythonEnvironment)
        {
            var prepared = await PrepareEnvironmentAsync(launch, pythonEnvironment, cgroup, joinFailedMarker, startedAt, stopRequested.Task, log);
            if (prepared.Launch is null)
            {
                standby?.DiscardJob();
                cgroup.Remove(log);
                WriteResult(log, prepared.Result! with { StartedAt = startedAt, LimitMode = cgroup.Mode });
                return ExitCodes.Done;
            }
            (launch, environmentOutput) = (prepared.Launch, prepared.Output);
        }
        Process job;
        OutputPump output;
        // bwrap binds the job's folders from these descriptors of the worker's: open while the job runs.
        PreparedSandbox? sandbox = null;
        var sandboxPreparedIn = TimeSpan.Zero;
        try
        {
            var work = Directory.CreateDirectory(PathOf(AttemptFiles.WorkDirectory)).FullName;
            var preparing = Stopwatch.GetTimestamp();
            sandbox = launch.Sandbox is { } spec ? JobSandbox.Prepare(launch, spec, attemptDirectory, work) : null;
            sandboxPreparedIn = Stopwatch.GetElapsedTime(preparing);
            var sandboxCommand = sandbox?.Command;
            output = environmentOutput ?? OutputPump.Open(PathOf(AttemptFiles.Log), log, launch.MaxLogBytes);
            try { job = standby?.StartJob(launch, work, sandboxCommand, log) ?? JobProcess.Start(launch, work, cgroup, joinFailedMarker, sandboxCommand); }
            catch
            {
                output.Dispose();
                throw;
            }
        }
        catch (Exception e)
        {
            sandbox?.Dispose();
            log.Open(cgroup.Description);
            log.Write($"the job could not start: {e}");
            standby?.DiscardJob();
            cgroup.Remove(log);
            WriteResult(log, new ResultFile
            {
                Reason = Reasons.StartFailed,
                Message = $"the job could not start: {e.Message}",
                FinishedAt = time.GetUtcNow(),
                LimitMode = cgroup.Mode,
            });
            return ExitCodes.Done;
        }

        // 3. Bookkeeping, now that the job runs.
        using var heldOpen = sandbox;
        using var jobProcess = job;
        using var jobOutput = output;
        output.Start(job.StandardOutput.BaseStream, "stdout");
        output.Start(job.StandardError.BaseStream, "stderr");
        var workerPid = Environment.ProcessId;
        WriteSupervisor(log, new SupervisorFile
        {
            WorkerPid = workerPid,
            WorkerStartTime = standby?.WorkerStartTime ?? Native.StartTime(),
            JobPid = job.Id,
            StartedAt = startedAt,
            LimitMode = cgroup.Mode,
        });
        log.Open(cgroup.Description);
        if (launch.Sandbox is { } confined)
        {
            log.Write($"sandbox: bwrap, {(confined.Uid is { } uid ? $"uid {uid}" : "the worker's uid in a user namespace")}, network {confined.Network}, prepared in {sandboxPreparedIn.TotalMilliseconds:0.0} ms");
        }
        standby?.Started(log);
        log.Write($"job started: pid {job.Id}, worker pid {workerPid}{(subreaper ? "" : " (not a child subreaper)")}");
        var sessionId = Native.OwnSessionId();
        var tree = new ProcessTree(cgroup, workerPid, sessionId == workerPid ? sessionId : null, time) { JobPid = job.Id };

        // 4. Wait for the end, the time limit, the disk limit or a stop request.
        var exited = job.WaitForExitAsync();
        var timeLimit = launch.TimeoutSeconds is > 0 and var seconds
            ? Task.Delay(TimeSpan.FromSeconds(seconds), time)
            : Task.Delay(Timeout.InfiniteTimeSpan, time);
        using var stopWatching = new CancellationTokenSource();
        var diskLimit = DiskLimit.WatchAsync(launch, log, time, stopWatching.Token);
        var folderGone = WatchFolderAsync(stopWatching.Token);
        var first = await Task.WhenAny(exited, timeLimit, diskLimit, folderGone, stopRequested.Task);
        await stopWatching.CancelAsync();
        var grace = TimeSpan.FromSeconds(Math.Max(0, launch.StopGraceSeconds));
        string? forcedReason = null;
        string? forcedMessage = null;
        if (first != exited)
        {
            (forcedReason, forcedMessage) = first == timeLimit ? (Reasons.TimedOut, $"exceeded the time limit of {launch.TimeoutSeconds} s")
                : first == diskLimit ? (Reasons.DiskLimitExceeded, diskLimit.Result)
                : first == folderGone ? (Reasons.Killed, "its attempt folder was removed")
                : (Reasons.Killed, $"stopped on request ({stopRequested.Task.Result})");
            log.Write($"{forcedMessage}: stopping the attempt's processes");
            var stopped = await tree.StopAsync(grace);
            log.Write($"signalled {stopped} process(es)");
            try { await exited.WaitAsync(ExitAfterKillTimeout, time); }
            catch (TimeoutException) { log.Write($"the job's process {job.Id} did not exit after SIGKILL"); }
        }

        // 5. A job must not leave daemons behind.
        var leftovers = tree.Alive();
        if (leftovers.Count > 0)
        {
            log.Write($"stopping {leftovers.Count} leftover process(es): {string.Join(' ', leftovers)}");
            await tree.StopAsync(grace);
        }
        if (!output.Wait(OutputDrainTimeout))
        {
            log.Write("the job's output pipes did not close; output.log may be incomplete");
        }
        output.Finish();

        // 6. Measure, clean up, report.
        var fromCgroup = cgroup.ReadUsage();
        var usage = Resources.Measure(fromCgroup);
        cgroup.Remove(log);
        int? exitCode = job.HasExited ? job.ExitCode : null;
        var result = Classify(launch, exitCode, forcedReason, forcedMessage, fromCgroup, File.Exists(joinFailedMarker)) with
        {
            StartedAt = startedAt,
            FinishedAt = time.GetUtcNow(),
            PeakMemoryBytes = usage.PeakMemoryBytes,
            CpuSeconds = usage.CpuSeconds,
            LimitMode = cgroup.Mode,
        };
        if (first == folderGone)
        {
            // Nobody can collect a result now, nor adopt the attempt: the job is stopped and the worker goes.
            return ExitCodes.Done;
        }
        if (result.Reason == Reasons.StartFailed)
        {
            File.Delete(joinFailedMarker);
        }
        WriteResult(log, result);
        return ExitCodes.Done;
    }

    /// <summary>
    /// Makes the job's Python environment ready, with the attempt counted as started (supervisor.json names the
    /// worker, so that the server waits and a stop request reaches the build). Returns the job's launch with the
    /// environment first in its <c>PATH</c> and shown read-only, and the output log the build wrote to; or, when
    /// there is no environment, the attempt's result: <c>environment_error</c> with pip's last lines, or stopped.
    /// </summary>
    private async Task<(LaunchFile? Launch, OutputPump? Output, ResultFile? Result)> PrepareEnvironmentAsync(
        LaunchFile launch, EnvironmentLaunch environment, IAttemptCgroup cgroup, string joinFailedMarker, DateTimeOffset startedAt, Task<PosixSignal> stopRequested, WorkerLog log)
    {
        var workerPid = Environment.ProcessId;
        void Supervise(int pid) => WriteSupervisor(log, new SupervisorFile
        {
            WorkerPid = workerPid,
            WorkerStartTime = standby?.WorkerStartTime ?? Native.StartTime(),
            JobPid = pid,
            StartedAt = startedAt,
            LimitMode = cgroup.Mode,
        });
        OutputPump? output = null;
        try
        {
            var work = Directory.CreateDirectory(PathOf(AttemptFiles.WorkDirectory)).FullName;
            output = OutputPump.Open(PathOf(AttemptFiles.Log), log, launch.MaxLogBytes);
            Supervise(workerPid);
            var outcome = await new PythonEnvironment(environment, launch, attemptDirectory, work, log, time)
                .PrepareAsync(output, cgroup, joinFailedMarker, Supervise, stopRequested);
            if (outcome.Folder is { } folder)
            {
                var variables = new Dictionary<string, string>(launch.Environment, StringComparer.Ordinal)
                {
                    ["VIRTUAL_ENV"] = folder,
                    ["PATH"] = $"{Path.Combine(folder, "bin")}:{launch.Environment.GetValueOrDefault("PATH", Core.Jobs.JobEnvironment.SystemPath)}",
                };
                var sandbox = launch.Sandbox is { } spec ? spec with { ReadOnly = [.. spec.ReadOnly, new SandboxBind(folder, folder)] } : null;
                return (launch with { Environment = variables, Sandbox = sandbox }, output, null);
            }
            output.Finish();
            output.Dispose();
            return (null, null, outcome.Stopped
                ? new ResultFile { Reason = Reasons.Killed, Message = $"stopped on request ({stopRequested.Result}) while its environment was prepared", FinishedAt = time.GetUtcNow(), LimitMode = cgroup.Mode }
                : new ResultFile { Reason = Reasons.EnvironmentError, Message = outcome.Error, FinishedAt = time.GetUtcNow(), LimitMode = cgroup.Mode });
        }
        catch (Exception e)
        {
            log.Write($"the environment could not be prepared: {e}");
            output?.Finish();
            output?.Dispose();
            return (null, null, new ResultFile { Reason = Reasons.StartFailed, Message = $"its Python environment could not be prepared: {e.Message}", FinishedAt = time.GetUtcNow(), LimitMode = cgroup.Mode });
        }
    }

    /// <summary>How often the worker checks that its attempt folder is still there.</summary>
    private static readonly TimeSpan FolderCheckInterval = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Completes once the attempt's launch.json is gone: its folder was removed (the server's data folder
    /// was deleted, say). A worker outlives its server on purpose, so that a restarted server adopts the
    /// attempt; with the folder gone there is nothing to adopt, and the job would run on for nobody.
    /// </summary>
    private async Task WatchFolderAsync(CancellationToken cancellationToken)
    {
        var launch = PathOf(AttemptFiles.Launch);
        while (File.Exists(launch))
        {
            await Task.Delay(FolderCheckInterval, time, cancellationToken);
        }
    }

    /// <summary>Turns how the job ended into result.json's reason, exit code, signal and message.</summary>
    internal static ResultFile Classify(LaunchFile launch, int? exitCode, string? forcedReason, string? forcedMessage, CgroupUsage fromCgroup, bool joinFailed)
    {
        // The shell reports a process killed by signal N as 128+N, and so does .NET for the job's own process.
        int? signal = exitCode is > 128 and < 128 + 65 ? exitCode - 128 : null;
        var (reason, message) = forcedReason is not null ? (forcedReason, forcedMessage)
            : exitCode == JobProcess.JoinFailedExitCode && joinFailed ? (Reasons.StartFailed, "the job could not join its cgroup")
            : exitCode == 0 ? (Reasons.Completed, null)
            : fromCgroup.OomKilled ? (Reasons.OutOfMemory, OutOfMemoryMessage(launch.MemoryBytes, fromCgroup.PeakMemoryBytes))
            : exitCode is null ? (Reasons.ExitedWithError, "the job's exit status is unknown")
            : (Reasons.ExitedWithError, signal is null ? $"exited with code {exitCode}" : $"exited with code {exitCode} (signal {signal})");
        // A failed fork is the likeliest cause of the failure: say so, as the job's own error may not.
        if (reason == Reasons.ExitedWithError && fromCgroup.ForksRefused > 0 && launch.MaxProcesses is not null)
        {
            message += $"; {fromCgroup.ForksRefused} fork(s) were refused at its limit of {launch.MaxProcesses} processes";
        }
        return new ResultFile
        {
            ExitCode = exitCode,
            Signal = signal,
            Reason = reason,
            Message = message,
            FinishedAt = default,
            LimitMode = LimitModes.MeasuredOnly,
        };
    }

    /// <summary>Sizes in GB, as <c>compute.memory_gb</c> is given, with the peak the cgroup saw beside the limit.</summary>
    internal static string OutOfMemoryMessage(long limitBytes, long? peakBytes) =>
        $"killed for exceeding its memory limit of {ResourceRequest.FormatGb(limitBytes)}"
        + (peakBytes is { } peak ? $" (peak {ResourceRequest.FormatGb(peak)})" : "")
        + ": ask for more with compute.memory_gb, or use less";

    private void WriteSupervisor(WorkerLog log, SupervisorFile supervisor)
    {
        try { AttemptFiles.WriteAtomically(PathOf(AttemptFiles.Supervisor), supervisor, AttemptFilesJsonContext.Default.SupervisorFile); }
        catch (Exception e) { log.Write($"could not write {AttemptFiles.Supervisor}: {e.Message}"); }
    }

    private void WriteResult(WorkerLog log, ResultFile result)
    {
        log.Write($"result: {result.Reason}{(result.Message is null ? "" : $" ({result.Message})")}, exit code {result.ExitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}, peak memory {result.PeakMemoryBytes} bytes, cpu {result.CpuSeconds:0.###} s");
        AttemptFiles.WriteAtomically(PathOf(AttemptFiles.Result), result, AttemptFilesJsonContext.Default.ResultFile);
    }
}
