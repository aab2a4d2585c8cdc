using System.Diagnostics;
using Microsoft.Extensions.Options;
using Strata.Core.Runtime;
using Strata.Core.Runtime.Local;
using Strata.Server.Hosting;

namespace Strata.Server.Runtime.Local.Sandbox;

/// <summary>
/// Decides once, at start, whether local jobs run in a bubblewrap sandbox (docs/sandbox.md), and says what
/// each attempt's sandbox shows it. Without one (<c>Runtime:Local:Sandbox=none</c>, or no working bwrap)
/// jobs are not isolated from the server or from each other, and the start-up banner,
/// <c>GET /v1/admin/capacity</c> and <c>ml_platform_sandbox_enabled 0</c> say so.
/// </summary>
public sealed class LocalSandbox
{
    private readonly DataFolder _data;
    private readonly SandboxOptions _options;
    private readonly TenantUids? _uids;
    private readonly ILogger<LocalSandbox> _logger;

    public LocalSandbox(DataFolder data, IOptions<SandboxOptions> options, IConfiguration configuration, ILogger<LocalSandbox> logger)
    {
        _data = data;
        _options = options.Value;
        _logger = logger;
        Network = _options.Network;
        var mode = configuration[SandboxOptions.Section] is { Length: > 0 } value ? value : _options.Mode;
        if (mode is not (null or SandboxOptions.Bwrap or SandboxOptions.None))
        {
            throw new OptionsValidationException(SandboxOptions.Section, typeof(SandboxOptions), [$"{SandboxOptions.Section} must be 'bwrap' or 'none', not '{mode}'."]);
        }
        foreach (var (setting, path) in _options.ReadOnlyPaths.Select(p => ("ReadOnlyPaths", p)).Concat(_options.ReadWritePaths.Select(p => ("ReadWritePaths", p))))
        {
            if (!Path.IsPathRooted(path) || Contains(Path.GetFullPath(path), data.Root))
            {
                throw new OptionsValidationException(SandboxOptions.Section, typeof(SandboxOptions),
                    [$"{SandboxOptions.Section}:{setting}: '{path}' must be an absolute path that does not hold the data folder ({data.Root})."]);
            }
        }
        if (mode == SandboxOptions.None)
        {
            Why = $"{SandboxOptions.Section} is 'none'";
            return;
        }
        var problem = Probe(out var bwrap);
        if (problem is not null)
        {
            if (mode == SandboxOptions.Bwrap)
            {
                throw new InvalidOperationException($"{SandboxOptions.Section} is 'bwrap' but {problem}. Install bubblewrap (apt-get install bubblewrap) or set {SandboxOptions.Section}=none.");
            }
            Why = problem;
            return;
        }
        Bwrap = bwrap;
        Enabled = true;
        if (Environment.IsPrivilegedProcess)
        {
            _uids = new TenantUids(Path.Combine(data.Root, "sandbox-uids"), _options.UidRange);
        }
    }

    /// <summary>Whether attempts run sandboxed.</summary>
    public bool Enabled { get; }

    /// <summary>Why they do not, when <see cref="Enabled"/> is false.</summary>
    public string? Why { get; }

    /// <summary>The bwrap executable, when enabled.</summary>
    public string? Bwrap { get; }

    /// <summary>Whether each tenant's jobs run as a user of their own (the server is root).</summary>
    public bool SeparateUsers => _uids is not null;

    public string Network { get; }

    /// <summary>One line for the start-up banner and the logs.</summary>
    public string Description => Enabled
        ? $"bwrap ({(SeparateUsers ? $"a user per tenant from {_options.UidRange}" : "jobs run as the server's user in a user namespace")}, network {Network})"
        : $"NONE: jobs are not isolated from the server or from each other ({Why})";

    /// <summary>
    /// What the attempt's sandbox shows besides its working folder; null when there is no sandbox.
    /// Paths that would show the data folder are left out (and logged): the path policy admits none.
    /// </summary>
    /// <param name="environment">The attempt's environment, inputs in place: its checkpoint, output and data paths are bound.</param>
    /// <param name="inputs">Read-only inputs prepared for the attempt (cached extractions).</param>
    public SandboxLaunch? For(JobLaunch launch, IReadOnlyDictionary<string, string> environment, IEnumerable<string> inputs)
    {
        if (!Enabled) return null;
        var readWrite = new List<string>(_options.ReadWritePaths);
        var readOnly = new List<string>(_options.ReadOnlyPaths);
        foreach (var name in new[] { "STRATA_CHECKPOINT_DIR", "MODEL_OUTPUT_PATH" })
        {
            if (environment.GetValueOrDefault(name) is { } path && Path.IsPathRooted(path)) readWrite.Add(path);
        }
        if (environment.GetValueOrDefault("DATA_PATH") is { } data && Path.IsPathRooted(data)) readOnly.Add(data);
        readOnly.AddRange(inputs);
        readOnly.AddRange(launch.ToolPaths);
        var uid = _uids?.For(launch.Attempt.TenantId);
        return new SandboxLaunch
        {
            Bwrap = Bwrap!,
            Uid = uid,
            Gid = uid,
            Network = Network,
            ReadOnly = Confined(readOnly, launch),
            ReadWrite = Confined(readWrite, launch),
            // The server's own settings may sit beside the worker (connection strings, keys): never shown.
            Masked = launch.ToolPaths.SelectMany(folder => Directory.Exists(folder) ? Directory.GetFiles(folder, "appsettings*.json") : []).ToList(),
            TmpBytes = _options.TmpMb * 1024L * 1024L,
        };
    }

    private List<string> Confined(List<string> paths, JobLaunch launch)
    {
        var kept = new List<string>();
        foreach (var path in paths.Select(Path.GetFullPath).Distinct(StringComparer.Ordinal))
        {
            if (Contains(path, _data.Root))
            {
                _logger.LogWarning("Attempt {Attempt}: {Path} holds the data folder and is not shown to the job", launch.Attempt, path);
                continue;
            }
            kept.Add(path);
        }
        return kept;
    }

    /// <summary>Whether <paramref name="folder"/> is <paramref name="path"/> or one of its parents.</summary>
    private static bool Contains(string folder, string path) =>
        path == folder || path.StartsWith(folder.TrimEnd('/') + "/", StringComparison.Ordinal);

    /// <summary>Finds bwrap and runs it once the way the worker will; the problem, or null when it works.</summary>
    private string? Probe(out string bwrap)
    {
        bwrap = _options.BwrapPath ?? FindOnPath("bwrap") ?? "";
        if (bwrap.Length == 0 || !File.Exists(bwrap)) return "bubblewrap (bwrap) is not installed";
        if (Environment.IsPrivilegedProcess && !File.Exists("/usr/bin/setpriv")) return "/usr/bin/setpriv (util-linux) is missing, which a root server needs to run jobs as tenants' users";
        var start = new ProcessStartInfo(bwrap) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        string[] arguments = Environment.IsPrivilegedProcess
            ? ["--unshare-pid", "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--proc", "/proc", "--", "/usr/bin/true"]
            : ["--unshare-user", "--unshare-pid", "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--proc", "/proc", "--", "/usr/bin/true"];
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        try
        {
            using var process = Process.Start(start)!;
            var error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            return process.ExitCode == 0 ? null : $"{bwrap} does not work here (exit code {process.ExitCode}: {error.Trim()})";
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"{bwrap} cannot be run: {e.Message}";
        }
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':')
            .Append("/usr/bin")
            .Select(folder => Path.Combine(folder, name))
            .FirstOrDefault(File.Exists);
}
