using System.Diagnostics;
using Strata.Core.Runtime.Local;
using Strata.Worker.Cgroups;

namespace Strata.Worker;

/// <summary>Starts the job's process: <c>/bin/sh -c &lt;entrypoint&gt;</c> with exactly the launch environment.</summary>
internal static class JobProcess
{
    public const string Shell = "/bin/sh";

    /// <summary>The exit code of the wrapper shell when it could not move itself into the cgroup.</summary>
    public const int JoinFailedExitCode = 125;

    /// <summary>
    /// Starts the job. With a cgroup, a wrapper shell first writes its own pid into the cgroup's
    /// <c>cgroup.procs</c> and then execs the entrypoint's shell, so the job's first instruction
    /// already runs inside the limits and the job's pid is the wrapper's. The entrypoint travels as
    /// the wrapper's <c>$0</c>, so the environment stays exactly <see cref="LaunchFile.Environment"/>
    /// (plus what /bin/sh itself sets, such as <c>PWD</c>).
    /// </summary>
    /// <param name="joinFailedMarker">A file the wrapper creates when it cannot join the cgroup (it then exits with <see cref="JoinFailedExitCode"/>).</param>
    /// <param name="sandboxCommand">
    /// The commands that make the shell the sandboxed job (<see cref="Sandbox.JobSandbox.Prepare"/>), which set
    /// the environment themselves; null runs the entrypoint unconfined.
    /// </param>
    public static Process Start(LaunchFile launch, string workDirectory, IAttemptCgroup cgroup, string joinFailedMarker, string? sandboxCommand)
    {
        var start = new ProcessStartInfo(Shell)
        {
            WorkingDirectory = workDirectory,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add("-c");
        var join = cgroup.ProcsFiles.Count == 0 ? "" :
            $"{{ {string.Join(" && ", cgroup.ProcsFiles.Select(f => $"echo $$ > {Quote(f)}"))}; }} 2>/dev/null || {{ echo 'strata-worker: the job could not join its cgroup' >&2; : > {Quote(joinFailedMarker)}; exit {JoinFailedExitCode}; }}\n";
        start.Environment.Clear();
        if (sandboxCommand is not null)
        {
            start.ArgumentList.Add(join + sandboxCommand);
            return Process.Start(start) ?? throw new InvalidOperationException($"{Shell} did not start");
        }
        if (join.Length == 0)
        {
            start.ArgumentList.Add(launch.Entrypoint);
        }
        else
        {
            start.ArgumentList.Add(join + $"exec {Shell} -c \"$0\"");
            start.ArgumentList.Add(launch.Entrypoint);
        }
        foreach (var (name, value) in launch.Environment)
        {
            start.Environment[name] = value;
        }
        return Process.Start(start) ?? throw new InvalidOperationException($"{Shell} did not start");
    }

    /// <summary>Single-quotes <paramref name="text"/> for /bin/sh.</summary>
    public static string Quote(string text) => "'" + text.Replace("'", "'\\''") + "'";
}
