using Strata.Core.Jobs;

namespace Strata.Server.Runtime.Local;

/// <summary>
/// What <c>python</c> means in a job on this machine (<see cref="LocalRuntimeOptions.Python"/>). Stock Debian has
/// <c>python3</c> and no <c>python</c>, so the default entrypoint <c>python train.py</c> would fail there with
/// "python: not found". Where <c>python</c> must mean something else than the system's, a folder of the data folder
/// (<c>python/</c>, the server's own, not writable by jobs) holds a <c>python</c> link to the interpreter; it comes
/// first in the job's <c>PATH</c> and the sandbox shows it read-only, so <c>python</c> resolves to it in the
/// entrypoint, in the job's scripts and in their children alike.
/// </summary>
public sealed class JobPython
{
    private JobPython(string? interpreter, string? linkFolder)
    {
        Interpreter = interpreter;
        LinkFolder = linkFolder;
    }

    /// <summary>
    /// The folder holding the Python SDK's package (<c>strata</c>, pure Python) beside the server, which every job finds
    /// on its <c>PYTHONPATH</c> (after the job's own entries, so that a copy of its own wins); null where the server was
    /// built without it.
    /// </summary>
    public static string? SdkFolder { get; } =
        Directory.Exists(Path.Combine(AppContext.BaseDirectory, "python-sdk", "strata")) ? Path.Combine(AppContext.BaseDirectory, "python-sdk") : null;

    /// <summary>The interpreter's absolute path; null when the machine has none.</summary>
    public string? Interpreter { get; }

    /// <summary>The folder holding the <c>python</c> link, to put first in the job's <c>PATH</c>; null when the system's <c>python</c> is the one.</summary>
    public string? LinkFolder { get; }

    public string Description => Interpreter is null ? "none found" : LinkFolder is null ? Interpreter : $"{Interpreter} (as python)";

    /// <param name="folder">The server's folder for the link (in the data folder).</param>
    public static JobPython Resolve(LocalRuntimeOptions options, string folder, ILogger logger)
    {
        var systemPython = Find("python");
        var interpreter = options.Python switch
        {
            null or "" => systemPython ?? Find("python3"),
            { } path when Path.IsPathRooted(path) => File.Exists(path) ? path : null,
            { } name => Find(name),
        };
        if (interpreter is null)
        {
            if (!string.IsNullOrEmpty(options.Python)) throw new InvalidOperationException($"{LocalRuntimeOptions.Section}:Python: '{options.Python}' is not an interpreter of this machine");
            logger.LogWarning("No python or python3 in {Path}: jobs that run python will fail", JobEnvironment.SystemPath);
            return new JobPython(null, null);
        }
        if (interpreter == systemPython) return new JobPython(interpreter, null);
        Directory.CreateDirectory(folder);
        // Jobs run as tenants' users: they must read the folder (and cannot write it).
        File.SetUnixFileMode(folder, (UnixFileMode)Convert.ToInt32("755", 8));
        var link = Path.Combine(folder, "python");
        if (new FileInfo(link).LinkTarget != interpreter)
        {
            // Made aside and renamed into place, so that a job never finds a half-made link.
            var aside = link + "." + Environment.ProcessId;
            File.Delete(aside);
            File.CreateSymbolicLink(aside, interpreter);
            File.Move(aside, link, overwrite: true);
        }
        return new JobPython(interpreter, folder);
    }

    /// <summary><paramref name="name"/> in the system's folders, as a job's shell would find it.</summary>
    private static string? Find(string name) =>
        JobEnvironment.SystemPath.Split(':').Select(folder => Path.Combine(folder, name)).FirstOrDefault(File.Exists);
}
