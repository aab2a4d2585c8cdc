using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Strata.Server.Hosting;

/// <summary>What a path names, as <c>lstat</c> sees it (a link is a link, not what it leads to).</summary>
public enum FileKind
{
    Missing,
    Regular,
    Directory,
    SymbolicLink,
    Fifo,
    Socket,
    CharacterDevice,
    BlockDevice,
    /// <summary>It exists but could not be examined (no permission on a folder above it, an I/O error).</summary>
    Unknown,
}

/// <summary>Why a file a user named was refused; the message is for the field that named it.</summary>
public sealed class UnsafeFileException(string message) : Exception(message);

/// <summary>
/// Opens files that users name (a model file, a job's data or output) without letting the name block a server
/// thread or lead somewhere else: the path is examined first without following a link (<c>lstat</c>), then
/// opened with <c>O_NOFOLLOW|O_NONBLOCK</c> (a FIFO or a device that slipped in between opens at once instead of
/// waiting for a writer), and what was opened is examined again (<c>fstat</c>). Anything but a regular file is
/// refused, and so, where confinement matters, is a file with more than one hard link: a second name for
/// another tenant's file looks like a regular file of one's own everywhere else.
/// <para>
/// A link in a folder above the file is still followed (<c>O_NOFOLLOW</c> covers the last component only):
/// a caller that confines paths checks where the opened file really is (<see cref="RealPathOf"/>).
/// </para>
/// </summary>
public static partial class SafeFiles
{
    /// <summary>The bytes read from user-named files at a time.</summary>
    public const int BufferBytes = 1 << 16;

    /// <summary>What <paramref name="path"/> names, without following a link and without opening it.</summary>
    public static FileKind KindOf(string path) => Examine(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT)?.Kind ?? KindOfFailure();

    /// <summary>What <paramref name="path"/> leads to once links are followed, without opening it.</summary>
    public static FileKind KindOfTarget(string path) => Examine(AT_FDCWD, path, AT_NO_AUTOMOUNT)?.Kind ?? KindOfFailure();

    /// <summary>How a kind reads in a message: "a FIFO", "a folder", ...</summary>
    public static string Describe(FileKind kind) => kind switch
    {
        FileKind.Missing => "missing",
        FileKind.Regular => "a regular file",
        FileKind.Directory => "a folder",
        FileKind.SymbolicLink => "a symbolic link",
        FileKind.Fifo => "a FIFO (named pipe)",
        FileKind.Socket => "a socket",
        FileKind.CharacterDevice => "a character device",
        FileKind.BlockDevice => "a block device",
        _ => "a file that cannot be examined",
    };

    /// <summary>
    /// Opens the regular file at <paramref name="path"/> for reading, never blocking on what the path names.
    /// </summary>
    /// <param name="path">An absolute path, already confined by the caller's path policy.</param>
    /// <param name="refuseHardLinks">Refuse a file with more than one name (where the file must be the caller's own).</param>
    /// <exception cref="UnsafeFileException">It is missing, unreadable, a link, a folder, a FIFO, a socket, a device, or (with <paramref name="refuseHardLinks"/>) hard-linked.</exception>
    public static FileStream OpenRegular(string path, bool refuseHardLinks)
    {
        // 1. Look before opening: opening a FIFO waits for a writer, and opening a device may do something.
        var kind = KindOf(path);
        if (kind != FileKind.Regular) throw Refused(path, kind);

        // 2. Open without following a link or blocking, in case the name was replaced since.
        // 3. What was opened is what counts.
        return Adopt(OpenWithoutFollowing(path), path, refuseHardLinks);
    }

    /// <summary>
    /// Step 2 of <see cref="OpenRegular"/>, on its own so that a test can show what it does when the name is
    /// swapped after the look: <c>open(O_RDONLY|O_NOFOLLOW|O_NONBLOCK)</c>, which fails on a link at the name
    /// and returns at once on a FIFO.
    /// </summary>
    internal static SafeFileHandle OpenWithoutFollowing(string path)
    {
        var fd = Open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd >= 0) return new SafeFileHandle(fd, ownsHandle: true);
        var errno = Marshal.GetLastPInvokeError();
        throw errno switch
        {
            ENOENT or ENOTDIR => Refused(path, FileKind.Missing),
            ELOOP => Refused(path, FileKind.SymbolicLink),
            EACCES or EPERM => new UnsafeFileException($"cannot be read by the server: {path}"),
            _ => new UnsafeFileException($"cannot be opened: {path} ({Marshal.GetPInvokeErrorMessage(errno)})"),
        };
    }

    /// <summary>Step 3 of <see cref="OpenRegular"/>: the opened file must be regular (and of one name, if asked); the handle is closed otherwise.</summary>
    internal static FileStream Adopt(SafeFileHandle handle, string path, bool refuseHardLinks)
    {
        try
        {
            var opened = Examine((int)handle.DangerousGetHandle(), "", AT_EMPTY_PATH) ?? throw new UnsafeFileException($"cannot be examined: {path}");
            if (opened.Kind != FileKind.Regular) throw Refused(path, opened.Kind);
            if (refuseHardLinks && opened.Links > 1)
            {
                throw new UnsafeFileException(
                    $"has {opened.Links} hard links: {path}; name a file with one name only (copy it rather than linking it)");
            }
            return new FileStream(handle, FileAccess.Read, BufferBytes, isAsync: false);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>The path with every symbolic link, <c>.</c> and <c>..</c> resolved; null when it does not exist (or cannot be resolved).</summary>
    public static string? RealPath(string path)
    {
        var resolved = RealPathNative(path, 0);
        if (resolved == 0) return null;
        try { return Marshal.PtrToStringUTF8(resolved); }
        finally { Free(resolved); }
    }

    /// <summary>Where the open file really is, every link resolved; null when that cannot be told.</summary>
    public static string? RealPathOf(FileStream file)
    {
        try
        {
            return new FileInfo($"/proc/self/fd/{file.SafeFileHandle.DangerousGetHandle()}").LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static UnsafeFileException Refused(string path, FileKind kind) => new(kind switch
    {
        FileKind.Missing => $"no such file: {path}",
        FileKind.Directory => $"is a folder: {path}; name the file itself",
        FileKind.SymbolicLink => $"is a symbolic link: {path}; name the file itself",
        FileKind.Unknown => $"cannot be examined: {path}",
        _ => $"is {Describe(kind)}, not a regular file: {path}",
    });

    private static FileKind KindOfFailure() => Marshal.GetLastPInvokeError() is ENOENT or ENOTDIR ? FileKind.Missing : FileKind.Unknown;

    private readonly record struct Examined(FileKind Kind, uint Links);

    private static Examined? Examine(int dirFd, string path, int flags)
    {
        Span<byte> buffer = stackalloc byte[StatxSize];
        if (Statx(dirFd, path, flags, STATX_TYPE | STATX_NLINK, buffer) != 0) return null;
        // Offsets of stx_nlink and stx_mode (linux/stat.h); struct statx is the same on every architecture.
        var links = MemoryMarshal.Read<uint>(buffer[16..]);
        var mode = MemoryMarshal.Read<ushort>(buffer[28..]);
        var kind = (mode & S_IFMT) switch
        {
            S_IFREG => FileKind.Regular,
            S_IFDIR => FileKind.Directory,
            S_IFLNK => FileKind.SymbolicLink,
            S_IFIFO => FileKind.Fifo,
            S_IFSOCK => FileKind.Socket,
            S_IFCHR => FileKind.CharacterDevice,
            S_IFBLK => FileKind.BlockDevice,
            _ => FileKind.Unknown,
        };
        return new Examined(kind, links);
    }

    private const int AT_FDCWD = -100;
    private const int AT_SYMLINK_NOFOLLOW = 0x100;
    private const int AT_NO_AUTOMOUNT = 0x800;
    private const int AT_EMPTY_PATH = 0x1000;
    private const uint STATX_TYPE = 0x1, STATX_NLINK = 0x4;
    private const int StatxSize = 256;
    private const int S_IFMT = 0xF000, S_IFIFO = 0x1000, S_IFCHR = 0x2000, S_IFDIR = 0x4000, S_IFBLK = 0x6000,
        S_IFREG = 0x8000, S_IFLNK = 0xA000, S_IFSOCK = 0xC000;

    private const int O_RDONLY = 0;
    private const int O_NOCTTY = 0x100;
    private const int O_NONBLOCK = 0x800;
    private const int O_CLOEXEC = 0x80000;
    // The one flag here whose value differs by architecture: 0100000 on ARM and PowerPC, 0400000 elsewhere
    // (x86, asm-generic: RISC-V, LoongArch, s390x).
    private static readonly int O_NOFOLLOW = RuntimeInformation.ProcessArchitecture
        is Architecture.Arm or Architecture.Arm64 or Architecture.Armv6 or Architecture.Ppc64le ? 0x8000 : 0x20000;

    private const int EPERM = 1, ENOENT = 2, EACCES = 13, ENOTDIR = 20, ELOOP = 40;

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Statx(int dirFd, string path, int flags, uint mask, Span<byte> buffer);

    [LibraryImport("libc", EntryPoint = "realpath", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint RealPathNative(string path, nint resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void Free(nint pointer);

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);
}
