using System.Runtime.InteropServices;

namespace Strata.Worker;

/// <summary>The few libc calls the worker needs. Source-generated (<c>LibraryImport</c>), so Native AOT works.</summary>
internal static partial class Native
{
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    private const int O_RDWR = 2;
    private const int RUSAGE_CHILDREN = -1;
    private const int PR_SET_CHILD_SUBREAPER = 36;
    private const int WNOHANG = 1;
    private const int ESRCH = 3;

    [StructLayout(LayoutKind.Sequential)]
    public struct TimeVal
    {
        public long Seconds;
        public long Microseconds;
    }

    /// <summary>Linux x86-64/arm64 <c>struct rusage</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct RUsage
    {
        public TimeVal UserTime;
        public TimeVal SystemTime;
        public long MaxRssKilobytes;
        public long IxRss, IdRss, IsRss, MinFlt, MajFlt, NSwap, InBlock, OuBlock, MsgSnd, MsgRcv, NSignals, NvCsw, NivCsw;
    }

    [LibraryImport("libc", EntryPoint = "setsid", SetLastError = true)]
    private static partial int SetSid();

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "dup2", SetLastError = true)]
    private static partial int Dup2(int oldFd, int newFd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "getrusage", SetLastError = true)]
    private static partial int GetRUsage(int who, out RUsage usage);

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    private static partial int Prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [LibraryImport("libc", EntryPoint = "waitpid", SetLastError = true)]
    private static partial int WaitPid(int pid, out int status, int options);

    [LibraryImport("libc", EntryPoint = "getsid", SetLastError = true)]
    private static partial int GetSid(int pid);

    /// <summary>
    /// Starts a new session (so the attempt outlives the server and its process group) and points
    /// fds 0, 1 and 2 at /dev/null (so nothing the worker or the runtime prints reaches a terminal).
    /// </summary>
    /// <returns>Null on success, else what went wrong (the worker carries on either way).</returns>
    public static string? Detach()
    {
        string? problem = null;
        if (SetSid() < 0)
        {
            problem = $"setsid failed (errno {Marshal.GetLastPInvokeError()})";
        }
        var devNull = Open("/dev/null", O_RDWR);
        if (devNull < 0)
        {
            return (problem is null ? "" : problem + "; ") + $"cannot open /dev/null (errno {Marshal.GetLastPInvokeError()})";
        }
        for (var fd = 0; fd <= 2; fd++)
        {
            if (devNull != fd)
            {
                Dup2(devNull, fd);
            }
        }
        if (devNull > 2)
        {
            Close(devNull);
        }
        return problem;
    }

    /// <summary>The session id of this process.</summary>
    public static int OwnSessionId() => GetSid(0);

    /// <summary>
    /// Makes the worker the reaper of orphaned descendants, so a job's double-forked daemons stay
    /// below the worker in the process tree instead of moving to init.
    /// </summary>
    public static bool BecomeSubreaper() => Prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0;

    /// <summary>Sends <paramref name="signal"/>; false when the process no longer exists.</summary>
    public static bool Signal(int pid, int signal) =>
        Kill(pid, signal) == 0 || Marshal.GetLastPInvokeError() != ESRCH;

    /// <summary>Collects the exit status of a dead child that .NET did not start (an adopted orphan).</summary>
    public static void Reap(int pid) => WaitPid(pid, out _, WNOHANG);

    /// <summary>Resource usage of all waited-for descendants.</summary>
    public static RUsage? ChildrenUsage() => GetRUsage(RUSAGE_CHILDREN, out var usage) == 0 ? usage : null;
}
