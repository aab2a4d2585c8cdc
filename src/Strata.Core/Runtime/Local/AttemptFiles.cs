using System.Text.Json;
using System.Text.Json.Serialization;

namespace Strata.Core.Runtime.Local;

/// <summary>
/// The protocol between the server's local runtime and <c>strata-worker run</c>: files in one attempt
/// folder. The server writes <see cref="LaunchFile"/> and starts the worker; the worker writes
/// <see cref="SupervisorFile"/> once the job's process exists and <see cref="ResultFile"/> (atomically,
/// by rename) when it has ended. Because it is all on disk, a restarted server can re-adopt running
/// attempts and collect the results of those that ended while it was down.
/// </summary>
public static class AttemptFiles
{
    /// <summary>Written by the server before it starts the worker.</summary>
    public const string Launch = "launch.json";
    /// <summary>Written by the worker once the job's process has started.</summary>
    public const string Supervisor = "supervisor.json";
    /// <summary>Written by the worker (temp file + rename) when the job has ended.</summary>
    public const string Result = "result.json";
    /// <summary>The job's stdout and stderr.</summary>
    public const string Log = "output.log";
    /// <summary>The worker's own diagnostics, starting with the line that says how limits are enforced.</summary>
    public const string WorkerLog = "worker.log";
    /// <summary>The job's working folder.</summary>
    public const string WorkDirectory = "work";

    public static T? Read<T>(string path, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
    {
        try
        {
            using var stream = File.OpenRead(path);
            return JsonSerializer.Deserialize(stream, type);
        }
        catch (FileNotFoundException) { return default; }
        catch (DirectoryNotFoundException) { return default; }
        catch (JsonException) { return default; }
    }

    /// <summary>
    /// Writes <paramref name="value"/> so that a reader sees the whole file or none of it. The file is
    /// readable by its owner only: a launch file holds the job's token.
    /// </summary>
    /// <remarks>
    /// The rename makes the write atomic for other processes, which is what the protocol needs. There is
    /// no fsync: these files describe processes, and a machine crash ends those processes anyway (the
    /// reconciler then sees the attempt as lost), while an fsync would sit on the job's start path.
    /// </remarks>
    public static void WriteAtomically<T>(string path, T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
    {
        var temp = path + ".tmp";
        var options = new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            Share = FileShare.None,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        };
        using (var stream = new FileStream(temp, options))
        {
            JsonSerializer.Serialize(stream, value, type);
        }
        File.Move(temp, path, overwrite: true);
    }
}

/// <summary>How the worker enforces the attempt's limits.</summary>
public static class LimitModes
{
    public const string CgroupV2 = "cgroup-v2";
    public const string CgroupV1 = "cgroup-v1";
    public const string MeasuredOnly = "measured-only";
}

/// <summary>What to run. Written by the server.</summary>
public sealed record LaunchFile
{
    public required string AttemptName { get; init; }
    /// <summary>A shell command line, run with <c>/bin/sh -c</c>.</summary>
    public required string Entrypoint { get; init; }
    /// <summary>The job's whole environment: nothing of the worker's own is passed on.</summary>
    public required Dictionary<string, string> Environment { get; init; }
    public required double CpuCores { get; init; }
    public required long MemoryBytes { get; init; }
    public int? TimeoutSeconds { get; init; }
    /// <summary>Seconds between SIGTERM and SIGKILL when the attempt is stopped or times out.</summary>
    /// <remarks>Settable, not init-only: source-generated JSON would otherwise reset an omitted field to 0.</remarks>
    public int StopGraceSeconds { get; set; } = 10;
    /// <summary>Where to create the attempt's cgroup (a path under a cgroup mount, or null for the worker's own parent).</summary>
    public string? CgroupParent { get; init; }
    /// <summary>When false the worker only measures, even where cgroups are available.</summary>
    public bool EnforceLimits { get; set; } = true;
    /// <summary>The sandbox the job runs in; null runs it unconfined, as the worker's own user.</summary>
    public SandboxLaunch? Sandbox { get; init; }

    // Limits beyond cpu and memory (docs/limits.md). Null, as in a launch file written before them: no limit.
    /// <summary>The attempt's <c>pids.max</c>: processes and threads at once.</summary>
    public int? MaxProcesses { get; init; }
    /// <summary>Bytes the attempt may fill under <see cref="DiskPaths"/> together (apparent sizes); beyond it the worker stops the attempt.</summary>
    public long? DiskBytes { get; init; }
    /// <summary>The folders <see cref="DiskBytes"/> applies to: the work folder, and the checkpoint and model output folders where they are local.</summary>
    public List<string>? DiskPaths { get; init; }
    /// <summary>The most bytes output.log keeps: its head and its tail, with a line saying what was dropped between.</summary>
    public long? MaxLogBytes { get; init; }
    /// <summary>The Python environment the worker makes ready before the job starts; null: none.</summary>
    public EnvironmentLaunch? PythonEnvironment { get; init; }
}

/// <summary>
/// A job's Python virtual environment (docs/environments.md), cached by content per tenant. The worker takes the
/// environment's lock (<see cref="LockFile"/>); where <see cref="Path"/> does not lead to a finished environment
/// yet, it builds one in a folder of its own beside it, inside the job's sandbox with only that folder writable,
/// and makes <see cref="Path"/> a link to it last: a build cut short leaves no link, so it is never taken for a
/// finished one. The job then runs with the environment first in its <c>PATH</c>, read-only.
/// </summary>
public sealed record EnvironmentLaunch
{
    /// <summary>The environment's name in the cache: <c>&lt;data&gt;/environments/&lt;tenant&gt;/&lt;hash&gt;</c>, a link to the folder it was built in.</summary>
    public required string Path { get; init; }
    /// <summary>The interpreter the environment is made from (absolute).</summary>
    public required string Interpreter { get; init; }
    /// <summary>What pip installs: the lines of a requirements file, in order; none makes an empty environment.</summary>
    public List<string> Requirements { get; init; } = [];
    public bool SystemSitePackages { get; init; }
    /// <summary>pip's index options (<c>--index-url</c>, <c>--find-links</c>, <c>--no-index</c>), the operator's.</summary>
    public List<string> PipArguments { get; init; } = [];
    /// <summary>Folders the build reads besides what the job sees: a local <c>--find-links</c> folder.</summary>
    public List<string> BuildReadOnlyPaths { get; init; } = [];
    /// <summary>What the server found wrong before any build (the requirements file the spec names is missing): the attempt ends with <c>environment_error</c>.</summary>
    public string? Problem { get; init; }

    /// <summary>The file whose lock one build of the environment holds, beside <see cref="Path"/>.</summary>
    public string LockFile => Path + ".lock";

    /// <summary>The short form of the hash that names the environment in the job's log.</summary>
    public string ShortName => System.IO.Path.GetFileName(Path) is var hash && hash.Length > 12 ? hash[..12] : System.IO.Path.GetFileName(Path);
}

/// <summary>
/// What the job may see (docs/sandbox.md). The worker runs the job under bubblewrap with a root of its
/// own: read-only system folders, a private <c>/tmp</c> and <c>/dev</c>, a new <c>/proc</c>, and the folders
/// listed here bound at the same paths as on the host, so every path in the job's environment stays true.
/// </summary>
public sealed record SandboxLaunch
{
    /// <summary>The <c>bwrap</c> executable (absolute).</summary>
    public required string Bwrap { get; init; }
    /// <summary>
    /// The user and group the job runs as, when the worker is root (each tenant has its own); null when the
    /// worker is not root and the job keeps the worker's user, inside a user namespace.
    /// </summary>
    public int? Uid { get; init; }
    public int? Gid { get; init; }
    /// <summary><c>host</c> (the machine's network, the platform API included) or <c>none</c> (loopback only).</summary>
    public string Network { get; set; } = SandboxNetworks.Host;
    /// <summary>Folders or files the job reads: its inputs, its data, Python environments.</summary>
    public List<SandboxBind> ReadOnly { get; set; } = [];
    /// <summary>Folders the job writes besides its working folder: its checkpoints and model output.</summary>
    public List<SandboxBind> ReadWrite { get; set; } = [];
    /// <summary>Files inside <see cref="ReadOnly"/> folders the job must not read: they are shown empty.</summary>
    public List<string> Masked { get; set; } = [];
    /// <summary>Device nodes the job's private <c>/dev</c> shows besides the usual ones: its own GPUs' (docs/gpus.md).</summary>
    public List<string> Devices { get; set; } = [];
    /// <summary>The size of the job's private <c>/tmp</c> (memory, charged to its cgroup), in bytes.</summary>
    public long TmpBytes { get; set; } = 1L << 30;
    /// <summary>The working folder is shown read-only: an environment's build writes only its own folder.</summary>
    public bool ReadOnlyWork { get; set; }
}

/// <summary>
/// One folder or file shown to the job at <see cref="Path"/>. <see cref="Source"/> is what the server checked:
/// the same object with every symbolic link resolved.
/// </summary>
/// <param name="Pinned">
/// The path lies where jobs write (a tenant's outputs, a job's checkpoints), so a running job could swap a
/// part of it for a link: the worker opens it, checks that it is still <see cref="Source"/>, and bwrap binds
/// that very object, whatever happens to the path afterwards. At most three binds are pinned.
/// </param>
public sealed record SandboxBind(string Path, string Source, bool Pinned = false);

/// <summary>The sandbox's network modes.</summary>
public static class SandboxNetworks
{
    public const string Host = "host";
    public const string None = "none";
}

/// <summary>Who supervises. Written by the worker once the job's process exists.</summary>
public sealed record SupervisorFile
{
    public required int WorkerPid { get; init; }
    /// <summary>
    /// The worker's start time (field 22 of <c>/proc/&lt;pid&gt;/stat</c>, clock ticks since boot): with the
    /// pid it identifies the worker even after the pid is reused, whatever its command line says.
    /// </summary>
    public long? WorkerStartTime { get; init; }
    public required int JobPid { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    /// <summary>A <see cref="LimitModes"/> value.</summary>
    public required string LimitMode { get; init; }
}

/// <summary>How the attempt ended. Written by the worker, last.</summary>
public sealed record ResultFile
{
    public int? ExitCode { get; init; }
    /// <summary>The signal that ended the job's process, if one did.</summary>
    public int? Signal { get; init; }
    /// <summary><c>completed</c>, <c>exited_with_error</c>, <c>out_of_memory</c>, <c>disk_limit_exceeded</c>, <c>timed_out</c>, <c>killed</c>, <c>start_failed</c> or <c>environment_error</c>.</summary>
    public required string Reason { get; init; }
    public string? Message { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public required DateTimeOffset FinishedAt { get; init; }
    public long? PeakMemoryBytes { get; init; }
    public double? CpuSeconds { get; init; }
    public required string LimitMode { get; init; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(LaunchFile))]
[JsonSerializable(typeof(SandboxLaunch))]
[JsonSerializable(typeof(SandboxBind))]
[JsonSerializable(typeof(EnvironmentLaunch))]
[JsonSerializable(typeof(SupervisorFile))]
[JsonSerializable(typeof(ResultFile))]
public sealed partial class AttemptFilesJsonContext : JsonSerializerContext;
