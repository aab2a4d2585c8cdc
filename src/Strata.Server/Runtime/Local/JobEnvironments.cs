using System.Text;
using Microsoft.Extensions.Options;
using Strata.Contracts;
using Strata.Core.Jobs;
using Strata.Core.Runtime;
using Strata.Core.Runtime.Local;
using Strata.Server.Hosting;

namespace Strata.Server.Runtime.Local;

/// <summary>
/// The cache of jobs' Python environments (docs/environments.md): <c>&lt;data&gt;/environments/&lt;tenant&gt;/&lt;hash&gt;</c>,
/// a link to the folder the environment was built in, named by the hash of what it is made of. The worker builds
/// and reuses them (<see cref="EnvironmentLaunch"/>); this class says which one an attempt needs, and removes the
/// ones left unused, and builds cut short.
/// </summary>
public sealed class JobEnvironments
{
    private readonly DataFolder _data;
    private readonly LocalRuntimeOptions _options;
    private readonly ILogger<JobEnvironments> _logger;

    /// <exception cref="OptionsValidationException">A <c>PipFindLinks</c> folder would show the data folder to builds.</exception>
    public JobEnvironments(DataFolder data, IOptions<LocalRuntimeOptions> options, ILogger<JobEnvironments> logger)
    {
        _data = data;
        _options = options.Value;
        _logger = logger;
        if (_options.PipFindLinks is { } links && Path.IsPathRooted(links)
            && (IsInside(Path.GetFullPath(links), data.Root) || IsInside(data.Root, Path.GetFullPath(links))))
        {
            throw new OptionsValidationException(LocalRuntimeOptions.Section, typeof(LocalRuntimeOptions),
                [$"{LocalRuntimeOptions.Section}:PipFindLinks: '{links}' must be a folder outside the data folder ({data.Root}): builds are shown it"]);
        }
    }

    private static bool IsInside(string path, string folder) =>
        path == folder || path.StartsWith(folder.TrimEnd('/') + "/", StringComparison.Ordinal);

    public string Root => Path.Combine(_data.Root, "environments");

    /// <summary>What the environment's spec needs pip to be told: the operator's index settings.</summary>
    public IReadOnlyList<string> PipArguments
    {
        get
        {
            var arguments = new List<string>();
            if (_options.PipIndexUrl == LocalRuntimeOptions.NoIndex) arguments.Add("--no-index");
            else if (!string.IsNullOrEmpty(_options.PipIndexUrl)) arguments.AddRange(["--index-url", _options.PipIndexUrl]);
            if (!string.IsNullOrEmpty(_options.PipFindLinks)) arguments.AddRange(["--find-links", _options.PipFindLinks]);
            return arguments;
        }
    }

    /// <summary>What <c>environment.inherit_path</c> may ask for here.</summary>
    public EnvironmentRules Rules => EnvironmentRules.Default with { InheritPathRefusal = _options.AllowInheritPath ? null : EnvironmentRules.DefaultInheritPathRefusal };

    /// <summary>
    /// The environment an attempt runs with, or null when its spec asks for none. A requirements file is read from
    /// the attempt's working folder, where its code has been put.
    /// </summary>
    /// <param name="defaultInterpreter">The server's <c>python</c> (<see cref="JobPython"/>), for a spec that names none.</param>
    /// <exception cref="RuntimeStartException">The machine has no interpreter to make it from.</exception>
    public EnvironmentLaunch? For(JobLaunch launch, string workDirectory, string? defaultInterpreter)
    {
        var spec = launch.PythonEnvironment;
        if (!PythonEnvironments.NeedsVirtualEnvironment(spec)) return null;
        var interpreter = spec!.Python ?? defaultInterpreter
            ?? throw new RuntimeStartException("the job asks for a Python environment, and this machine has no python3 (Runtime:Local:Python)");
        var (requirements, problem) = PythonEnvironments.RequirementsFile(spec) is { } file
            ? ReadRequirements(workDirectory, file)
            : (PythonEnvironments.RequirementList(spec).ToList(), null);
        var pip = PipArguments.ToList();
        var systemSite = spec.SystemSitePackages is true;
        var hash = PythonEnvironments.Key(interpreter, requirements, pip, systemSite);
        return new EnvironmentLaunch
        {
            Path = Path.Combine(Root, launch.Attempt.TenantId, hash),
            Interpreter = interpreter,
            Requirements = requirements,
            SystemSitePackages = systemSite,
            PipArguments = pip,
            BuildReadOnlyPaths = _options.PipFindLinks is { } links && Path.IsPathRooted(links) ? [links] : [],
            Problem = problem,
        };
    }

    /// <summary>The lines of the job's requirements file, or why it cannot be read (the job's own error).</summary>
    private static (List<string> Lines, string? Problem) ReadRequirements(string workDirectory, string file)
    {
        // The code is the tenant's: the file may be a link that leads out of it, or a FIFO, which the server must not follow or open.
        if (SafeFiles.RealPath(Path.Combine(workDirectory, file)) is not { } resolved)
        {
            return ([], $"environment.requirements: {file} is not a file of the job's code");
        }
        if (!resolved.StartsWith(Path.GetFullPath(workDirectory) + "/", StringComparison.Ordinal))
        {
            return ([], $"environment.requirements: {file} leads out of the job's code");
        }
        try
        {
            using var stream = SafeFiles.OpenRegular(resolved, refuseHardLinks: false);
            if (stream.Length > PythonEnvironments.MaxRequirementsFileBytes)
            {
                return ([], $"environment.requirements: {file} is larger than {PythonEnvironments.MaxRequirementsFileBytes / 1024} KiB");
            }
            var bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
            return Core.Text.TextRules.IsValidUtf8(bytes)
                ? (PythonEnvironments.ParseRequirementsFile(Encoding.UTF8.GetString(bytes)), null)
                : ([], $"environment.requirements: {file} is not UTF-8 text");
        }
        catch (UnsafeFileException e)
        {
            return ([], $"environment.requirements: {file} cannot be read: {e.Message}");
        }
    }

    /// <summary>
    /// Removes the environments unused since <paramref name="unusedSince"/> (the worker marks one used each time a job
    /// starts with it) and the folders of builds that never finished. Each under its environment's lock, which a
    /// build holds throughout: one being built or reused now is left alone.
    /// </summary>
    public void Collect(DateTimeOffset unusedSince)
    {
        if (!Directory.Exists(Root)) return;
        foreach (var tenant in Directory.EnumerateDirectories(Root))
        {
            var folders = Directory.EnumerateDirectories(tenant).Where(folder => new DirectoryInfo(folder).LinkTarget is null).ToList();
            // An environment's name is its hash: the link's name, and the start of its folders' (<hash>.<random>).
            var names = folders.Select(folder => Path.GetFileName(folder).Split('.')[0])
                .Concat(Directory.EnumerateFileSystemEntries(tenant).Where(entry => new FileInfo(entry).LinkTarget is not null).Select(Path.GetFileName))
                .Where(name => !name!.Contains('.', StringComparison.Ordinal))
                .Distinct(StringComparer.Ordinal);
            foreach (var name in names)
            {
                try
                {
                    CollectOne(Path.Combine(tenant, name!), folders, unusedSince);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    _logger.LogWarning(e, "Could not sweep the environment {Environment}", Path.Combine(tenant, name!));
                }
            }
        }
    }

    private void CollectOne(string link, List<string> folders, DateTimeOffset unusedSince)
    {
        FileStream held;
        try
        {
            held = new FileStream(link + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            return;
        }
        // The lock file stays: removing it while another process opens it would let two hold "the" lock.
        using (held)
        {
            var target = new FileInfo(link).LinkTarget is { } relative ? Path.GetFullPath(relative, Path.GetDirectoryName(link)!) : null;
            if (target is not null && (!Directory.Exists(target) || Directory.GetLastWriteTimeUtc(target) < unusedSince.UtcDateTime))
            {
                File.Delete(link);
                _logger.LogInformation("Removed the environment {Environment}, unused since {LastUsed:u}", link, Directory.Exists(target) ? Directory.GetLastWriteTimeUtc(target) : null);
                target = null;
            }
            foreach (var folder in folders.Where(folder => folder.StartsWith(link + ".", StringComparison.Ordinal) && folder != target))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }
}
