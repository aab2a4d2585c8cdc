using System.Diagnostics;
using System.Net.Sockets;

namespace Strata.Server.Tests.Support;

/// <summary>Files that are not regular files, made as a user would make them in a folder they may write.</summary>
public static class SpecialFiles
{
    /// <summary>Makes a FIFO (named pipe) at <paramref name="path"/> with <c>mkfifo</c>.</summary>
    public static void MakeFifo(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var mkfifo = System.Diagnostics.Process.Start(new ProcessStartInfo("mkfifo", ["-m", "0600", path]) { RedirectStandardError = true })!;
        var error = mkfifo.StandardError.ReadToEnd();
        mkfifo.WaitForExit();
        if (mkfifo.ExitCode != 0) throw new InvalidOperationException($"mkfifo {path} failed: {error}");
    }

    /// <summary>Binds a Unix socket at <paramref name="path"/>; the socket file stays while the returned socket is open.</summary>
    public static Socket MakeSocket(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(path));
        return socket;
    }

    /// <summary>Makes <paramref name="link"/> a second name (a hard link) of <paramref name="target"/> with <c>ln</c>.</summary>
    public static void MakeHardLink(string target, string link)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(link)!);
        using var ln = System.Diagnostics.Process.Start(new ProcessStartInfo("ln", ["--", target, link]) { RedirectStandardError = true })!;
        var error = ln.StandardError.ReadToEnd();
        ln.WaitForExit();
        if (ln.ExitCode != 0) throw new InvalidOperationException($"ln {target} {link} failed: {error}");
    }
}
