using System.Runtime.InteropServices;

namespace Strata.Worker;

/// <summary>What <see cref="Native.LStat"/> tells of one file: its type, apparent size and identity.</summary>
internal readonly record struct FileStat(bool IsDirectory, long Size, uint Links, ulong Device, ulong Inode);

internal static partial class Native
{
    private const int AT_FDCWD = -100;
    private const int AT_SYMLINK_NOFOLLOW = 0x100;
    private const int AT_NO_AUTOMOUNT = 0x800;
    private const uint STATX_TYPE = 0x1, STATX_NLINK = 0x4, STATX_INO = 0x100, STATX_SIZE = 0x200;
    private const ushort S_IFMT = 0xF000, S_IFDIR = 0x4000;

    /// <summary><c>struct statx</c> is the same on every architecture (unlike <c>struct stat</c>): 256 bytes.</summary>
    private const int StatxSize = 256;

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static unsafe partial int Statx(int dirFd, string path, int flags, uint mask, byte* buffer);

    /// <summary>
    /// <c>lstat</c> through <c>statx</c> (glibc's <c>lstat</c> symbol is recent): never follows a symbolic
    /// link and never triggers an automount. Null when the file is gone or cannot be examined.
    /// </summary>
    public static unsafe FileStat? LStat(string path)
    {
        var buffer = stackalloc byte[StatxSize];
        if (Statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_TYPE | STATX_NLINK | STATX_INO | STATX_SIZE, buffer) != 0)
        {
            return null;
        }
        // Offsets of stx_nlink, stx_mode, stx_ino, stx_size, stx_dev_major and stx_dev_minor (linux/stat.h).
        var links = *(uint*)(buffer + 16);
        var mode = *(ushort*)(buffer + 28);
        var inode = *(ulong*)(buffer + 32);
        var size = *(ulong*)(buffer + 40);
        var device = ((ulong)*(uint*)(buffer + 136) << 32) | *(uint*)(buffer + 140);
        return new FileStat((mode & S_IFMT) == S_IFDIR, (long)Math.Min(size, long.MaxValue), links, device, inode);
    }

    private const uint STATX_UID = 0x8;

    /// <summary>The owner of what <paramref name="fd"/> names (an <c>O_PATH</c> descriptor will do).</summary>
    public static unsafe int OwnerOf(int fd)
    {
        var buffer = stackalloc byte[StatxSize];
        if (Statx(fd, "", AT_EMPTY_PATH, STATX_UID, buffer) != 0)
        {
            throw new IOException($"cannot examine descriptor {fd} (errno {Marshal.GetLastPInvokeError()})");
        }
        // stx_uid (linux/stat.h).
        return *(int*)(buffer + 20);
    }
}
