using System.Text;

namespace Strata.Core.Runtime.Local;

/// <summary>
/// The Unix domain socket a local replica listens on besides its TCP port (<c>strata-worker serve --socket</c>),
/// which the server's router sends predictions to, as frames (<see cref="ReplicaFrames"/>): on the same machine, a
/// socket file skips the TCP/IP stack that a loopback connection goes through twice per message.
/// </summary>
public static class ReplicaSocket
{
    public const string Option = "--socket";

    /// <summary>The longest path a Unix socket address holds on Linux: <c>sun_path</c> is 108 bytes, its terminating NUL included.</summary>
    public const int MaxPathBytes = 107;

    /// <summary>Whether <paramref name="path"/> fits in a socket address; a longer one cannot be listened on.</summary>
    public static bool Fits(string path) => Encoding.UTF8.GetByteCount(path) <= MaxPathBytes;
}
