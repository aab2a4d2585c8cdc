using System.Globalization;

namespace Strata.Core.Runtime.Local;

/// <summary>
/// How the processes the local runtime starts that hold nothing worth keeping — standby workers
/// (<c>strata-worker standby</c>) and model replicas (<c>strata-worker serve</c>) — end with the server that
/// started them, however it ends. The server passes its own pid (<see cref="Option"/>); the process compares it
/// with its parent's pid, which the kernel changes to a reaper's (init, or the nearest subreaper) the moment the
/// server dies, SIGKILL included. A process whose parent is already someone else when it first looks (the server
/// died while it was starting) is orphaned from the start and ends too.
/// </summary>
/// <remarks>
/// Not <c>PR_SET_PDEATHSIG</c>: the kernel sends it when the <em>thread</em> that forked exits, and .NET starts
/// processes from whichever thread calls <c>Process.Start</c> (thread-pool threads, which exit when idle), so a
/// replica would die with a thread of a healthy server. The parent's pid belongs to the process, not the thread.
/// A job's supervisor (<c>strata-worker run</c>) does not watch its parent: it outlives a crash on purpose, to be
/// re-adopted.
/// </remarks>
public static class ParentWatch
{
    /// <summary>The command-line option that names the process whose death ends this one.</summary>
    public const string Option = "--parent-pid";

    /// <summary>How often <see cref="WhenGoneAsync"/> looks: 200 ms.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);

    /// <summary>This process's parent's pid (field 4 of <c>/proc/self/stat</c>); null when it cannot be read.</summary>
    public static int? ParentPid()
    {
        try
        {
            var stat = File.ReadAllText("/proc/self/stat");
            // The command name (field 2) may hold spaces and parentheses: the fields start after the last ')'.
            var close = stat.LastIndexOf(')');
            if (close < 0 || close + 2 >= stat.Length) return null;
            var fields = stat[(close + 2)..].Split(' ', 3);
            return fields.Length > 1 && int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null;
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    /// <summary>
    /// Whether <paramref name="parentPid"/> is no longer this process's parent (it died and this process was
    /// re-parented). False when the parent cannot be read: a process is not ended on a guess.
    /// </summary>
    public static bool IsGone(int parentPid) => ParentPid() is { } current && current != parentPid;

    /// <summary>Completes once <paramref name="parentPid"/> is gone (see <see cref="IsGone"/>), looking every <see cref="Interval"/>.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first.</exception>
    public static async Task WhenGoneAsync(int parentPid, TimeProvider time, CancellationToken cancellationToken)
    {
        while (!IsGone(parentPid))
        {
            await Task.Delay(Interval, time, cancellationToken);
        }
    }
}
