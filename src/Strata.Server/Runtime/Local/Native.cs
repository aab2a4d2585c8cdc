using System.Runtime.InteropServices;

namespace Strata.Server.Runtime.Local;

/// <summary>The few POSIX calls the local runtime needs to signal processes it did not start itself.</summary>
internal static partial class Native
{
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>Sends <paramref name="signal"/>; false when there is no such process.</summary>
    public static bool Signal(int pid, int signal) => Kill(pid, signal) == 0;
}
