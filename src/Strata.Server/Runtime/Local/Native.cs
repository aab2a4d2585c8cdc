using System.Runtime.InteropServices;
using System.Text;

namespace Strata.Server.Runtime.Local;

/// <summary>The few POSIX calls the local runtime needs: signals to processes it did not start, and FIFOs.</summary>
internal static partial class Native
{
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;
    private const int O_WRONLY = 0x1;
    private const int O_NONBLOCK = 0x800;
    private const int O_CLOEXEC = 0x80000;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint Write(int fd, ReadOnlySpan<byte> buffer, nint count);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    /// <summary>Sends <paramref name="signal"/>; false when there is no such process.</summary>
    public static bool Signal(int pid, int signal) => Kill(pid, signal) == 0;

    /// <summary>
    /// Writes a line to a FIFO whose reader is waiting. False when nobody reads it (the reader died):
    /// opening without blocking fails then, instead of hanging.
    /// </summary>
    public static bool WriteLineToFifo(string path, string line)
    {
        var fd = Open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) return false;
        try
        {
            var bytes = Encoding.UTF8.GetBytes(line + "\n");
            return Write(fd, bytes, bytes.Length) == bytes.Length;
        }
        finally
        {
            _ = Close(fd);
        }
    }

    /// <summary>A process's start time (field 22 of /proc/&lt;pid&gt;/stat), or null when it does not exist.</summary>
    public static long? ProcessStartTime(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[19], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }
}
