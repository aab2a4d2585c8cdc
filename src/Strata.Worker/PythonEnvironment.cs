using System.Diagnostics;
using System.Globalization;
using System.Text;
using Strata.Core.Jobs;
using Strata.Core.Runtime.Local;
using Strata.Worker.Cgroups;
using Strata.Worker.Sandbox;

namespace Strata.Worker;

/// <summary>
/// Makes a job's Python environment ready before the job starts (<see cref="EnvironmentLaunch"/>,
/// docs/environments.md): reuses the finished one, or builds it once under its lock. The build is a process of the
/// attempt like the job's own: in its cgroup, inside its sandbox (with the working folder read-only and only the
/// environment's new folder writable), its output in output.log; stopping the attempt stops it.
/// </summary>
internal sealed class PythonEnvironment(EnvironmentLaunch environment, LaunchFile launch, string attemptDirectory, string workDirectory, WorkerLog log, TimeProvider time)
{
    /// <summary>How often a job that waits for another's build of the same environment looks at its lock.</summary>
    private static readonly TimeSpan LockPollInterval = TimeSpan.FromMilliseconds(200);

    /// <summary>The lines of pip's output an <c>environment_error</c> quotes.</summary>
    private const int QuotedLines = 12;

    /// <summary>The file in a built environment that keeps the requirements it was built from.</summary>
    public const string RequirementsFile = "strata-requirements.txt";

    /// <summary>How the preparation ended: the environment's folder, or why there is none.</summary>
    public sealed record Outcome(string? Folder, string? Error, bool Stopped);

    /// <summary>
    /// Waits for the environment's lock (or a stop request), then reuses or builds the environment. The lock is held
    /// until the environment is ready, so that two jobs asking for it at once build it once.
    /// </summary>
    public async Task<Outcome> PrepareAsync(OutputPump output, IAttemptCgroup cgroup, string joinFailedMarker, Action<int> buildStarted, Task stopRequested)
    {
        if (environment.Problem is { } problem)
        {
            output.WriteLine($"[strata] {problem}");
            return new Outcome(null, problem, false);
        }
        Directory.CreateDirectory(Path.GetDirectoryName(environment.Path)!);
        var waiting = false;
        FileStream? held;
        while ((held = TryLock()) is null)
        {
            if (!waiting)
            {
                output.WriteLine($"[strata] waiting for another job's build of environment {environment.ShortName}…");
                waiting = true;
            }
            if (await Task.WhenAny(stopRequested, Task.Delay(LockPollInterval, time)) == stopRequested) return new Outcome(null, null, Stopped: true);
        }
        using var heldLock = held;
        if (Finished() is { } finished)
        {
            output.WriteLine($"[strata] reusing environment {environment.ShortName}… ({Count(environment.Requirements.Count)})");
            MarkUsed(finished);
            return new Outcome(finished, null, false);
        }
        return await BuildAsync(output, cgroup, joinFailedMarker, buildStarted, stopRequested);
    }

    /// <summary>The folder <see cref="EnvironmentLaunch.Path"/> leads to, when it is a finished environment.</summary>
    private string? Finished()
    {
        var link = new FileInfo(environment.Path);
        if (link.LinkTarget is not { } target) return null;
        var folder = Path.GetFullPath(target, Path.GetDirectoryName(environment.Path)!);
        return File.Exists(Path.Combine(folder, "pyvenv.cfg")) ? folder : null;
    }

    private async Task<Outcome> BuildAsync(OutputPump output, IAttemptCgroup cgroup, string joinFailedMarker, Action<int> buildStarted, Task stopRequested)
    {
        output.WriteLine($"[strata] building environment {environment.ShortName}… ({Count(environment.Requirements.Count)})");
        var started = Stopwatch.GetTimestamp();
        // A folder of its own: a build cut short (the machine died) leaves a folder no link leads to, which the
        // server's sweep removes; the link is made only once the build has succeeded.
        var folder = $"{environment.Path}.{Guid.NewGuid().ToString("N")[..12]}";
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, RequirementsFile), string.Concat(environment.Requirements.Select(line => line + "\n")));
        if (launch.Sandbox?.Uid is { } uid)
        {
            // Built as the tenant's user, as its jobs run.
            Native.ChangeOwner(folder, uid, launch.Sandbox.Gid ?? uid);
        }
        var build = launch with
        {
            Entrypoint = Script(folder),
            Environment = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["PATH"] = JobEnvironment.SystemPath,
                ["LANG"] = "C.UTF-8",
                ["HOME"] = "/tmp",
                ["PYTHONUNBUFFERED"] = "1",
                // Only the operator's index settings count: not a pip.conf of the machine or of a user.
                ["PIP_CONFIG_FILE"] = "/dev/null",
                ["PIP_DISABLE_PIP_VERSION_CHECK"] = "1",
                ["PIP_NO_INPUT"] = "1",
                ["PIP_PROGRESS_BAR"] = "off",
            },
            Sandbox = launch.Sandbox is { } sandbox ? sandbox with
            {
                ReadOnly = [.. sandbox.ReadOnly, .. environment.BuildReadOnlyPaths.Select(path => new SandboxBind(path, path))],
                ReadWrite = [new SandboxBind(folder, folder)],
                ReadOnlyWork = true,
            } : null,
        };
        int? exitCode;
        using (var prepared = build.Sandbox is { } spec ? JobSandbox.Prepare(build, spec, attemptDirectory, workDirectory) : null)
        {
            using var process = JobProcess.Start(build, workDirectory, cgroup, joinFailedMarker, prepared?.Command);
            buildStarted(process.Id);
            output.Start(process.StandardOutput.BaseStream, "stdout");
            output.Start(process.StandardError.BaseStream, "stderr");
            var exited = process.WaitForExitAsync();
            if (await Task.WhenAny(exited, stopRequested) == stopRequested)
            {
                log.Write("the environment's build was stopped on request");
                var tree = new ProcessTree(cgroup, Environment.ProcessId, null, time) { JobPid = process.Id };
                await tree.StopAsync(TimeSpan.FromSeconds(Math.Max(0, launch.StopGraceSeconds)));
                await exited;
                Remove(folder);
                return new Outcome(null, null, Stopped: true);
            }
            await exited;
            exitCode = process.ExitCode;
        }
        // The build's output is in output.log once its pipes have ended (the pump's threads finish with them).
        output.Wait(TimeSpan.FromSeconds(5));
        if (exitCode != 0)
        {
            Remove(folder);
            var tail = LastLines(Path.Combine(attemptDirectory, AttemptFiles.Log));
            output.WriteLine($"[strata] environment {environment.ShortName}… could not be built (exit code {exitCode})");
            return new Outcome(null, $"the Python environment could not be built (pip exited with code {exitCode}){(tail.Length > 0 ? ":\n" + tail : "")}", false);
        }
        // The link, made aside and renamed into place, is what makes the environment finished.
        var aside = environment.Path + ".new";
        File.Delete(aside);
        File.CreateSymbolicLink(aside, Path.GetFileName(folder));
        Native.Rename(aside, environment.Path);
        MarkUsed(folder);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        output.WriteLine($"[strata] environment ready in {seconds.ToString("0.0", CultureInfo.InvariantCulture)} s");
        log.Write($"built the Python environment {environment.Path} in {folder} in {seconds:0.0} s");
        return new Outcome(folder, null, false);
    }

    /// <summary>
    /// The build's shell script: a virtual environment from the interpreter, then pip, with the operator's index
    /// options and the requirements file the worker wrote into the environment's folder.
    /// </summary>
    private string Script(string folder)
    {
        var script = new StringBuilder("set -e\n");
        script.Append(JobProcess.Quote(environment.Interpreter)).Append(" -m venv ");
        if (environment.SystemSitePackages) script.Append("--system-site-packages ");
        script.Append(JobProcess.Quote(folder)).Append('\n');
        if (environment.Requirements.Count > 0)
        {
            script.Append(JobProcess.Quote(Path.Combine(folder, "bin", "python"))).Append(" -m pip install --no-cache-dir");
            foreach (var argument in environment.PipArguments) script.Append(' ').Append(JobProcess.Quote(argument));
            script.Append(" -r ").Append(JobProcess.Quote(Path.Combine(folder, RequirementsFile))).Append('\n');
        }
        return script.ToString();
    }

    /// <summary>The lock of the environment, or null while another process holds it.</summary>
    private FileStream? TryLock()
    {
        try
        {
            // FileShare.None takes an exclusive flock on Linux: held across processes until disposed.
            return new FileStream(environment.LockFile, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>When an environment was last used is its folder's modification time, which the server's sweep reads.</summary>
    private void MarkUsed(string folder)
    {
        try { Directory.SetLastWriteTimeUtc(folder, DateTime.UtcNow); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { log.Write($"could not mark {folder} as used: {e.Message}"); }
    }

    private void Remove(string folder)
    {
        try { Directory.Delete(folder, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { log.Write($"could not remove the unfinished environment {folder}: {e.Message}"); }
    }

    private static string Count(int requirements) =>
        requirements == 1 ? "1 requirement" : $"{requirements.ToString(CultureInfo.InvariantCulture)} requirements";

    /// <summary>The last lines of <paramref name="path"/>: where pip says what went wrong.</summary>
    private static string LastLines(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var take = (int)Math.Min(stream.Length, 8 * 1024);
            stream.Seek(-take, SeekOrigin.End);
            var buffer = new byte[take];
            stream.ReadExactly(buffer);
            var lines = Encoding.UTF8.GetString(buffer).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Where(line => !line.StartsWith("[strata]", StringComparison.Ordinal))
                .ToList();
            return string.Join('\n', lines.TakeLast(QuotedLines));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }
}
