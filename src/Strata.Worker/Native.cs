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
    private const int EINTR = 4;
    private const int EAGAIN = 11;
    private const int O_NONBLOCK = 0x800;
    private const int O_CLOEXEC = 0x80000;
    private const int O_PATH = 0x200000;
    private const int AT_EMPTY_PATH = 0x1000;
    private const int CLOSE_RANGE_CLOEXEC = 4;
    private const short POLLIN = 1;

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

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

    [LibraryImport("libc", EntryPoint = "rename", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int RenameAt(string from, string to);

    [LibraryImport("libc", EntryPoint = "lchown", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int LChown(string path, int uid, int gid);

    [LibraryImport("libc", EntryPoint = "fchownat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int FChownAt(int dirFd, string path, int uid, int gid, int flags);

    [LibraryImport("libc", EntryPoint = "close_range", SetLastError = true)]
    private static partial int CloseRange(uint first, uint last, int flags);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial int GetEuid();

    [LibraryImport("libc", EntryPoint = "getegid")]
    private static partial int GetEgid();

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

    [LibraryImport("libc", EntryPoint = "mkfifo", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int MkFifo(string path, uint mode);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static unsafe partial int Poll(PollFd* fds, nuint count, int timeoutMilliseconds);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static unsafe partial nint Read(int fd, byte* buffer, nuint count);

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

    /// <summary>The worker's effective user id.</summary>
    public static int EffectiveUid() => GetEuid();

    /// <summary>The worker's effective group id.</summary>
    public static int EffectiveGid() => GetEgid();

    /// <summary>
    /// An <c>O_PATH</c> descriptor of <paramref name="path"/>: it names that very file or folder, whatever is
    /// renamed or replaced afterwards. Null when there is nothing there.
    /// </summary>
    public static int? OpenPath(string path)
    {
        var fd = Open(path, O_PATH | O_CLOEXEC);
        if (fd >= 0) return fd;
        var errno = Marshal.GetLastPInvokeError();
        return errno == 2 ? null : throw new IOException($"cannot open {path} (errno {errno})");
    }

    /// <summary>Gives what <paramref name="fd"/> (an <c>O_PATH</c> descriptor) names to <paramref name="uid"/>:<paramref name="gid"/>.</summary>
    public static void ChangeOwner(int fd, int uid, int gid)
    {
        if (FChownAt(fd, "", uid, gid, AT_EMPTY_PATH) != 0)
        {
            throw new IOException($"cannot give descriptor {fd} to {uid}:{gid} (errno {Marshal.GetLastPInvokeError()})");
        }
    }

    /// <summary>
    /// Marks every descriptor above stderr close-on-exec: the worker's own already are, but whatever the
    /// server inherited from its own parent (and passed on) must not reach a job. False where the kernel
    /// has no <c>close_range</c> (before 5.11).
    /// </summary>
    public static bool CloseOnExecAboveStandardStreams() => CloseRange(3, uint.MaxValue, CLOSE_RANGE_CLOEXEC) == 0;

    /// <summary>
    /// Renames <paramref name="from"/> to <paramref name="to"/>, replacing it, in one step (<c>rename(2)</c>): for a
    /// symbolic link to a folder too, which <see cref="File.Move(string, string, bool)"/> refuses as no file.
    /// </summary>
    public static void Rename(string from, string to)
    {
        if (RenameAt(from, to) != 0)
        {
            throw new IOException($"cannot rename {from} to {to} (errno {Marshal.GetLastPInvokeError()})");
        }
    }

    /// <summary>Gives <paramref name="path"/> (never what a symbolic link points to) to <paramref name="uid"/>:<paramref name="gid"/>.</summary>
    public static void ChangeOwner(string path, int uid, int gid)
    {
        if (LChown(path, uid, gid) != 0)
        {
            throw new IOException($"cannot give {path} to {uid}:{gid} (errno {Marshal.GetLastPInvokeError()})");
        }
    }

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

    /// <summary>Creates a FIFO readable and writable by its owner only; throws when that fails.</summary>
    public static void CreateFifo(string path)
    {
        if (MkFifo(path, 0b110_000_000) < 0)
        {
            throw new IOException($"mkfifo {path} failed (errno {Marshal.GetLastPInvokeError()})");
        }
    }

    /// <summary>
    /// Opens a FIFO for reading without blocking, and for writing too, so that a read never sees
    /// end-of-file while no writer is connected and the FIFO has a reader as soon as this returns.
    /// </summary>
    public static int OpenFifoForReading(string path)
    {
        var fd = Open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        return fd >= 0 ? fd : throw new IOException($"cannot open {path} (errno {Marshal.GetLastPInvokeError()})");
    }

    public static void CloseFd(int fd) => Close(fd);

    /// <summary>Waits up to <paramref name="timeoutMilliseconds"/> (0: not at all) until <paramref name="fd"/> is readable.</summary>
    public static unsafe bool WaitReadable(int fd, int timeoutMilliseconds)
    {
        var poll = new PollFd { Fd = fd, Events = POLLIN };
        var ready = Poll(&poll, 1, timeoutMilliseconds);
        return ready > 0 && (poll.Revents & POLLIN) != 0;
    }

    /// <summary>Reads what is there without blocking: the count, 0 when nothing is, -1 on an error.</summary>
    public static unsafe int ReadAvailable(int fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            while (true)
            {
                var read = Read(fd, p, (nuint)buffer.Length);
                if (read >= 0)
                {
                    return (int)read;
                }
                var errno = Marshal.GetLastPInvokeError();
                if (errno == EINTR)
                {
                    continue;
                }
                return errno == EAGAIN ? 0 : -1;
            }
        }
    }

    /// <summary>
    /// Field 22 (starttime, clock ticks since boot) of <c>/proc/&lt;pid&gt;/stat</c>: with the pid it
    /// identifies a process even after its pid is reused. Null when it cannot be read.
    /// </summary>
    public static long? StartTime(string pid = "self")
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name may hold spaces and parentheses: the fields start after the last ')'.
            var close = stat.LastIndexOf(')');
            if (close < 0 || close + 2 >= stat.Length)
            {
                return null;
            }
            var fields = stat[(close + 2)..].Split(' ');
            // fields[0] is field 3 (state), so field 22 is fields[19].
            return fields.Length > 19 && long.TryParse(fields[19], System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var ticks)
                ? ticks : null;
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }
}
