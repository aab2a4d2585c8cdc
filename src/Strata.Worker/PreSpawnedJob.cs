using System.Diagnostics;
using System.Globalization;
using System.Text;
using Strata.Core.Runtime.Local;
using Strata.Worker.Cgroups;

namespace Strata.Worker;

/// <summary>
/// The job's process, started by a standby worker before there is an attempt: <c>/bin/sh -s</c> with
/// an empty environment, reading its commands from a pipe of the worker's. At once it is told to join
/// the prepared cgroup(s), so the slow cgroup migration happens in standby; then it waits on the pipe.
/// On assignment it is told to <c>cd</c> into the work folder and <c>exec</c> the entrypoint's shell with
/// exactly the launch environment, so the job keeps this pid and never leaves the cgroup. Its stdout
/// and stderr are the pipes the output pumps copy into output.log once the attempt is known.
/// </summary>
internal sealed class PreSpawnedJob
{
    private static readonly TimeSpan JoinTimeout = TimeSpan.FromSeconds(10);

    private readonly Process _process;
    private bool _taken;

    private PreSpawnedJob(Process process) => _process = process;

    public int Pid => _process.Id;

    private static readonly string[] EnvCommands = ["/usr/bin/env", "/bin/env"];

    /// <summary><c>env</c>, which starts the entrypoint's shell with nothing but the launch environment.</summary>
    private static string? EnvCommand => EnvCommands.FirstOrDefault(File.Exists);

    /// <summary>
    /// Starts the shell and waits until it is in every one of <paramref name="cgroup"/>'s hierarchies.
    /// Null (and the reason logged) when there is no cgroup or it could not be done.
    /// </summary>
    public static PreSpawnedJob? Start(IAttemptCgroup cgroup, WorkerLog log)
    {
        if (cgroup.ProcsFiles.Count == 0)
        {
            return null;
        }
        if (EnvCommand is null)
        {
            log.Write("no env command: the job's process is started on assignment");
            return null;
        }
        Process? process = null;
        try
        {
            var start = new ProcessStartInfo(JobProcess.Shell)
            {
                WorkingDirectory = "/",
                UseShellExecute = false,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            start.ArgumentList.Add("-s");
            start.Environment.Clear();
            process = Process.Start(start) ?? throw new InvalidOperationException($"{JobProcess.Shell} did not start");
            var join = string.Join(" && ", cgroup.ProcsFiles.Select(f => $"echo $$ > {JobProcess.Quote(f)}"));
            Send(process, $"{{ {join}; }} 2>/dev/null || exit {JobProcess.JoinFailedExitCode}\n", close: false);

            var pid = process.Id.ToString(CultureInfo.InvariantCulture);
            var deadline = Environment.TickCount64 + (long)JoinTimeout.TotalMilliseconds;
            while (!cgroup.ProcsFiles.All(f => Contains(f, pid)))
            {
                if (process.HasExited || Environment.TickCount64 > deadline)
                {
                    throw new InvalidOperationException(process.HasExited
                        ? $"the shell could not join the cgroup (exit code {process.ExitCode})"
                        : "the shell did not join the cgroup in time");
                }
                Thread.Sleep(1);
            }
            return new PreSpawnedJob(process);
        }
        catch (Exception e)
        {
            log.Write($"could not start the job's process in advance (it is started on assignment): {e.Message}");
            if (process is not null)
            {
                new PreSpawnedJob(process).Discard();
            }
            return null;
        }
    }

    private static bool Contains(string procsFile, string pid)
    {
        try { return File.ReadAllText(procsFile).Split('\n').Contains(pid); }
        catch (IOException) { return false; }
    }

    /// <summary>
    /// The commands that turn the waiting shell into the job; null when the launch cannot be expressed
    /// that way (an environment name <c>env</c> would misread), which then takes the ordinary path.
    /// </summary>
    internal static string? Script(LaunchFile launch, string workDirectory, string env, string? sandboxCommand)
    {
        if (sandboxCommand is not null)
        {
            return sandboxCommand + " </dev/null\n";
        }
        var script = new StringBuilder();
        script.Append("cd ").Append(JobProcess.Quote(workDirectory)).Append(" || exit 126\n");
        script.Append("exec ").Append(JobProcess.Quote(env)).Append(" -i");
        foreach (var (name, value) in launch.Environment)
        {
            if (name.Length == 0 || name.StartsWith('-') || name.Contains('=') || name.Contains('\0') || value.Contains('\0'))
            {
                return null;
            }
            script.Append(' ').Append(JobProcess.Quote($"{name}={value}"));
        }
        if (launch.Entrypoint.Contains('\0'))
        {
            return null;
        }
        script.Append(' ').Append(JobProcess.Quote(JobProcess.Shell)).Append(" -c ").Append(JobProcess.Quote(launch.Entrypoint)).Append(" </dev/null\n");
        return script.ToString();
    }

    /// <summary>
    /// Tells the shell what to become and hands over its process. Null when the launch cannot be
    /// expressed as a script or the shell is gone: the caller then discards this and starts the job the ordinary way.
    /// </summary>
    public Process? Become(LaunchFile launch, string workDirectory, string? sandboxCommand, WorkerLog log)
    {
        if (EnvCommand is not { } env || Script(launch, workDirectory, env, sandboxCommand) is not { } script)
        {
            log.Write("the launch cannot be handed to the process started in advance");
            return null;
        }
        try
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"it exited with code {_process.ExitCode}");
            }
            Send(_process, script, close: true);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or ObjectDisposedException)
        {
            log.Write($"the process started in advance cannot take the job: {e.Message}");
            return null;
        }
        _taken = true;
        return _process;
    }

    private static void Send(Process process, string text, bool close)
    {
        var stdin = process.StandardInput.BaseStream;
        stdin.Write(Encoding.UTF8.GetBytes(text));
        stdin.Flush();
        if (close)
        {
            process.StandardInput.Close();
        }
    }

    /// <summary>Kills and reaps the shell unless it became the job; afterwards its cgroup can be removed.</summary>
    public void Discard()
    {
        if (_taken)
        {
            return;
        }
        _taken = true;
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
            }
            _process.WaitForExit(TimeSpan.FromSeconds(10));
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception) { }
        _process.Dispose();
    }
}
