using System.Globalization;
using System.Text;
using Strata.Core.Runtime.Local;

namespace Strata.Worker.Sandbox;

/// <summary>
/// Runs the job under bubblewrap (docs/sandbox.md). The job gets a root of its own: <c>/usr</c> and the
/// merged-<c>/usr</c> links read-only, a minimal <c>/etc</c>, a private <c>/tmp</c>, <c>/dev</c> and <c>/proc</c>
/// (a new PID namespace), and the folders of <see cref="SandboxLaunch"/> at their host paths. Nothing
/// else of the host exists in it: not the server's data folder, not other attempts, not <c>/sys</c> (so no
/// cgroup file to write to), not <c>/root</c> or <c>/home</c>.
/// </summary>
/// <remarks>
/// <para>
/// Two ways to become the job's user. A worker that is root runs bwrap as root (so it can bind folders
/// below the data folder, which only root may enter), keeping only the capabilities that
/// <c>setpriv</c> needs to switch to the tenant's own uid and gid and to empty the bounding set; the job
/// then runs with no capabilities and <c>no_new_privs</c>. A worker that is not root runs bwrap in a user
/// namespace, as itself, and forbids further user namespaces.
/// </para>
/// <para>
/// bwrap reads its arguments from a file in the attempt folder (<c>--args</c>), opened by the job's shell,
/// so that the environment, which holds the job's token, is never on a command line that other users
/// of the machine can read. A root worker's bwrap and setpriv start with an empty environment, so a
/// tenant's <c>LD_PRELOAD</c> never reaches a process with privileges: the job's shell reads the
/// environment from <c>/run/strata/environment</c> last, as the job's user.
/// </para>
/// </remarks>
internal static class JobSandbox
{
    /// <summary>bwrap's arguments, NUL-separated: in the attempt folder, which the job cannot see.</summary>
    public const string ArgsFile = "sandbox.args";
    /// <summary>The attempt's <c>passwd</c>, <c>group</c> (naming the job's user) and <c>environment</c>, shown at <c>/run/strata</c>.</summary>
    public const string EtcFolder = "sandbox-etc";
    /// <summary>The descriptor the job's shell opens the arguments file on.</summary>
    private const int ArgsFd = 3;
    /// <summary>The descriptors the job's shell opens pinned folders on (/bin/sh takes one digit), closed before the job runs.</summary>
    private const int FirstPinnedFd = 4;
    private const int LastPinnedFd = 9;

    private const string Setpriv = "/usr/bin/setpriv";
    /// <summary>Where the job's shell reads its environment from.</summary>
    private const string EnvironmentFile = RunFolder + "/environment";
    /// <summary>Where the attempt's own files appear to the job.</summary>
    private const string RunFolder = "/run/strata";

    /// <summary>
    /// Host paths under <c>/etc</c> the job needs: name resolution, TLS roots, the loader's cache, Debian's
    /// alternatives (the BLAS that numpy and torch load is one) and the time zone. Each is a mount, and a
    /// mount costs the start about a tenth of a millisecond here: the list is kept short on purpose.
    /// </summary>
    private static readonly string[] EtcEntries =
    [
        "resolv.conf", "hosts", "ld.so.cache", "ssl", "alternatives", "localtime",
        // Only where .NET is installed outside its default folder (a built-in trainer's apphost finds it there).
        "dotnet",
    ];

    /// <summary>Merged-/usr systems have these as links into /usr; older ones as folders.</summary>
    private static readonly string[] RootLinks = ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

    /// <summary>
    /// Makes the attempt ready for its sandbox (the job's folders opened and given to its user, its /etc files
    /// and bwrap's arguments written) and returns the shell commands that turn a shell into the sandboxed job,
    /// with the descriptors bwrap binds from: keep them open until the job has ended.
    /// </summary>
    public static PreparedSandbox Prepare(LaunchFile launch, SandboxLaunch sandbox, string attemptDirectory, string workDirectory)
    {
        var uid = sandbox.Uid ?? Native.EffectiveUid();
        var gid = sandbox.Gid ?? (sandbox.Uid is null ? Native.EffectiveGid() : uid);
        var prepared = new PreparedSandbox();
        try
        {
            // A pinned folder is opened here once and checked to be what the server checked (no link put in
            // its path since); the job's shell reopens that very object through the worker's descriptor, and
            // bwrap binds it from the shell's: nothing can be swapped between the check and the mount.
            var sources = new Dictionary<string, int>(StringComparer.Ordinal);
            var reopen = new StringBuilder();
            foreach (var (bind, writable) in sandbox.ReadOnly.Select(b => (b, false)).Concat(sandbox.ReadWrite.Select(b => (b, true))).Where(b => b.b.Pinned))
            {
                if (Native.OpenPath(bind.Source) is not { } fd) continue;
                prepared.Descriptors.Add(fd);
                var opened = new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
                if (opened != bind.Source)
                {
                    throw new IOException($"{bind.Path} changed while the job started: it now leads to {opened}, not {bind.Source}");
                }
                // A folder the platform made for the job (root's, empty) becomes the tenant's; one that holds
                // something already keeps its owner: a tenant never takes over a folder others use.
                if (writable && sandbox.Uid is { } owner && Native.OwnerOf(fd) == 0 && !Directory.EnumerateFileSystemEntries(bind.Source).Any())
                {
                    Native.ChangeOwner(fd, owner, gid);
                }
                var shellFd = FirstPinnedFd + sources.Count;
                if (shellFd > LastPinnedFd) throw new InvalidOperationException("too many pinned folders for the job's shell");
                sources[bind.Path] = shellFd;
                reopen.Append(' ').Append(shellFd).Append("< ").Append(JobProcess.Quote($"/proc/{Environment.ProcessId}/fd/{fd}"));
            }
            if (sandbox.Uid is { } user)
            {
                GiveAway(workDirectory, user, gid);
            }
            var etc = Path.Combine(attemptDirectory, EtcFolder);
            Directory.CreateDirectory(etc);
            var home = launch.Environment.GetValueOrDefault("HOME") ?? workDirectory;
            File.WriteAllText(Path.Combine(etc, "passwd"), $"root:x:0:0:root:/nonexistent:/usr/sbin/nologin\njob:x:{uid}:{gid}:Strata job:{home}:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
            File.WriteAllText(Path.Combine(etc, "group"), $"root:x:0:\njob:x:{gid}:\nnogroup:x:65534:\n");
            var environment = Path.Combine(etc, "environment");
            WriteOwnerOnly(environment, EnvironmentScript(launch.Environment));
            if (sandbox.Uid is { } reader)
            {
                Native.ChangeOwner(environment, reader, gid);
            }

            var (arguments, command) = Arguments(launch, sandbox, workDirectory, etc, sources);
            var argsFile = Path.Combine(attemptDirectory, ArgsFile);
            WriteOwnerOnly(argsFile, string.Concat(arguments.Select(a => a + "\0")));
            prepared.Command = $"exec {ArgsFd}< {JobProcess.Quote(argsFile)}{reopen} || exit 126\n" +
                               $"exec {JobProcess.Quote(sandbox.Bwrap)} --args {ArgsFd} -- {string.Join(' ', command.Select(JobProcess.Quote))}";
            return prepared;
        }
        catch
        {
            prepared.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The job's environment as shell assignments, which its shell reads inside the sandbox, as the job's
    /// user: bwrap (and, for a root worker, setpriv) run with none of it, and it is on no command line.
    /// </summary>
    internal static string EnvironmentScript(IReadOnlyDictionary<string, string> environment)
    {
        var script = new StringBuilder();
        foreach (var (name, value) in environment)
        {
            // The validator admits only names a shell can assign; anything else is left out rather than run.
            if (!IsShellName(name) || value.Contains('\0')) continue;
            script.Append(name).Append('=').Append(JobProcess.Quote(value)).Append('\n');
        }
        return script.ToString();
    }

    private static bool IsShellName(string name) =>
        name.Length > 0 && (char.IsAsciiLetter(name[0]) || name[0] == '_') && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    private static void WriteOwnerOnly(string path, string content)
    {
        using var stream = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        stream.Write(Encoding.UTF8.GetBytes(content));
    }

    /// <summary>
    /// bwrap's options, in the order bwrap applies them, and the command it runs (which bwrap takes only
    /// from its command line, not from <c>--args</c>).
    /// </summary>
    /// <param name="pinned">The descriptor of the job's shell each pinned folder is bound from; the others are bound from their checked paths.</param>
    internal static (List<string> Options, List<string> Command) Arguments(LaunchFile launch, SandboxLaunch sandbox, string workDirectory, string etcFolder,
        IReadOnlyDictionary<string, int>? pinned = null)
    {
        var root = sandbox.Uid is not null;
        var args = new List<string> { "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--die-with-parent", "--hostname", "strata-job" };
        if (sandbox.Network == SandboxNetworks.None)
        {
            args.Add("--unshare-net");
        }
        if (root)
        {
            // setpriv needs these three to become the job's user and to empty the bounding set; the job keeps none.
            args.AddRange(["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"]);
        }
        else
        {
            args.AddRange(["--unshare-user", "--disable-userns", "--cap-drop", "ALL"]);
        }

        // The system, read-only.
        args.AddRange(["--ro-bind", "/usr", "/usr"]);
        foreach (var link in RootLinks)
        {
            var info = new FileInfo(link);
            if (info.LinkTarget is { } target) args.AddRange(["--symlink", target, link]);
            else if (Directory.Exists(link)) args.AddRange(["--ro-bind", link, link]);
        }
        args.AddRange(["--perms", "0755", "--dir", "/etc"]);
        foreach (var entry in EtcEntries)
        {
            args.AddRange(["--ro-bind-try", "/etc/" + entry, "/etc/" + entry]);
        }
        // The attempt's own files (passwd, group, the environment) are one mount at /run/strata, linked from /etc.
        args.AddRange(["--perms", "0755", "--dir", "/run", "--ro-bind", etcFolder, RunFolder,
            "--symlink", $"{RunFolder}/passwd", "/etc/passwd", "--symlink", $"{RunFolder}/group", "/etc/group"]);
        // /dev/shm stays a folder of the private /dev (a mount of its own would cost the start more).
        args.AddRange(["--proc", "/proc", "--dev", "/dev", "--chmod", "1777", "/dev/shm"]);
        // The attempt's own GPUs, and nothing of another's: the nodes that exist on this machine.
        foreach (var device in sandbox.Devices) args.AddRange(["--dev-bind-try", device, device]);
        args.AddRange(["--perms", "1777", "--size", sandbox.TmpBytes.ToString(CultureInfo.InvariantCulture), "--tmpfs", "/tmp"]);
        args.AddRange(["--perms", "0755", "--dir", "/var", "--symlink", "../tmp", "/var/tmp"]);

        // The job's own folders, at their host paths, parents before children. bwrap would create a missing
        // parent as a root-only folder, which the job's user could not enter: each is made 0755 first.
        var mounts = new List<(string Path, string Source, bool Writable)> { (workDirectory, workDirectory, !sandbox.ReadOnlyWork) };
        // A pinned folder the worker did not open (it was gone) is not bound at all: by its path, it could be a link by now.
        bool Shown(SandboxBind bind) => pinned is null || !bind.Pinned || pinned.ContainsKey(bind.Path);
        mounts.AddRange(sandbox.ReadWrite.Where(Shown).Select(b => (b.Path, b.Source, true)));
        mounts.AddRange(sandbox.ReadOnly.Where(Shown).Select(b => (b.Path, b.Source, false)));
        pinned ??= new Dictionary<string, int>();
        var made = new HashSet<string>(StringComparer.Ordinal) { "/usr", "/etc", "/proc", "/dev", "/tmp", "/var", "/run" };
        var bound = new List<string> { "/usr" };
        foreach (var (path, source, writable) in mounts
                     .Select(m => (Path: Path.GetFullPath(m.Path).TrimEnd('/'), m.Source, m.Writable))
                     .Where(m => m.Path.Length > 0)
                     .DistinctBy(m => m.Path)
                     .OrderBy(m => m.Path.Count(c => c == '/')))
        {
            foreach (var parent in Ancestors(path).Where(p => !bound.Any(b => IsInside(p, b)) && made.Add(p)))
            {
                args.AddRange(["--perms", "0755", "--dir", parent]);
            }
            if (pinned.TryGetValue(path, out var fd)) args.AddRange([writable ? "--bind-fd" : "--ro-bind-fd", fd.ToString(CultureInfo.InvariantCulture), path]);
            else args.AddRange([writable ? "--bind-try" : "--ro-bind-try", source, path]);
            bound.Add(path);
        }
        foreach (var file in sandbox.Masked)
        {
            args.AddRange(["--ro-bind", "/dev/null", file]);
        }
        args.AddRange(["--chdir", workDirectory, "--clearenv"]);

        // The command: become the job's user (a root worker), read the environment, run the entrypoint.
        var command = new List<string>();
        if (root)
        {
            command.AddRange([Setpriv,
                "--reuid", sandbox.Uid!.Value.ToString(CultureInfo.InvariantCulture),
                "--regid", (sandbox.Gid ?? sandbox.Uid.Value).ToString(CultureInfo.InvariantCulture),
                "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]);
        }
        // The shell first closes what bwrap was given (a folder's descriptor would lead out of the sandbox by "..").
        var close = string.Concat(Enumerable.Range(ArgsFd, LastPinnedFd - ArgsFd + 1).Select(fd => $"{fd}<&- "));
        command.AddRange([JobProcess.Shell, "-c", $"exec {close}&& set -a && . {EnvironmentFile} && set +a && exec {JobProcess.Shell} -c \"$0\"", launch.Entrypoint]);
        return (args, command);
    }

    private static List<string> Ancestors(string path)
    {
        var list = new List<string>();
        for (var parent = Path.GetDirectoryName(path); parent is not null && parent != "/"; parent = Path.GetDirectoryName(parent))
        {
            list.Add(parent);
        }
        list.Reverse();
        return list;
    }

    private static bool IsInside(string path, string folder) =>
        path == folder || path.StartsWith(folder + "/", StringComparison.Ordinal);

    /// <summary>Gives the fresh working folder, with the code put in it, to the job's user (never following a link).</summary>
    private static void GiveAway(string folder, int uid, int gid)
    {
        Native.ChangeOwner(folder, uid, gid);
        foreach (var entry in Directory.EnumerateFileSystemEntries(folder, "*", new EnumerationOptions
        {
            RecurseSubdirectories = true,
            AttributesToSkip = 0,
            IgnoreInaccessible = false,
        }))
        {
            Native.ChangeOwner(entry, uid, gid);
        }
    }

}

/// <summary>The shell commands that start the sandboxed job, and the descriptors bwrap binds from.</summary>
internal sealed class PreparedSandbox : IDisposable
{
    public string Command { get; set; } = "";

    public List<int> Descriptors { get; } = [];

    public void Dispose()
    {
        foreach (var fd in Descriptors) Native.CloseFd(fd);
        Descriptors.Clear();
    }
}
