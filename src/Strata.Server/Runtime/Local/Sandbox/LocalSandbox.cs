using System.Diagnostics;
using Microsoft.Extensions.Options;
using Strata.Core.Jobs;
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
    private readonly TenantPaths _tenantPaths;
    private readonly SandboxOptions _options;
    private readonly TenantUids? _uids;
    private readonly ILogger<LocalSandbox> _logger;

    public LocalSandbox(DataFolder data, TenantPaths tenantPaths, IOptions<SandboxOptions> options, IConfiguration configuration, ILogger<LocalSandbox> logger)
    {
        _data = data;
        _tenantPaths = tenantPaths;
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
            if (!Path.IsPathRooted(path) || IsInside(data.Root, Path.GetFullPath(path)))
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
    /// What the attempt's sandbox shows besides its working folder; null when there is no sandbox. Every path
    /// is resolved (symbolic links followed) and checked where it leads, since a job can leave a link in a
    /// folder it writes for a later job to name: a path the tenant named must lead into its area or a data
    /// root, a path of the platform's into that tenant's or job's own part of the data folder, and nothing
    /// may show the data folder itself.
    /// </summary>
    /// <param name="environment">The attempt's environment, inputs in place: its checkpoint, output and data paths are bound.</param>
    /// <param name="inputs">Read-only inputs prepared for the attempt (its tenant's cached extractions).</param>
    /// <exception cref="RuntimeStartException">A path leads somewhere the job may not see.</exception>
    public SandboxLaunch? For(JobLaunch launch, IReadOnlyDictionary<string, string> environment, IReadOnlyList<string> inputs)
    {
        if (!Enabled) return null;
        var tenant = launch.Attempt.TenantId;
        var tenantPaths = _tenantPaths.For(tenant);
        var tenantInputs = Path.Combine(_data.Inputs, tenant);
        var readOnly = new List<SandboxBind>();
        var readWrite = new List<SandboxBind>();

        foreach (var input in inputs) Add(readOnly, "an input", input, resolved => IsInside(resolved, tenantInputs));
        if (Rooted(environment, "STRATA_CHECKPOINT_DIR") is { } checkpoints)
        {
            var own = _data.JobCheckpoints(launch.Attempt.JobId);
            Add(readWrite, "STRATA_CHECKPOINT_DIR", checkpoints, resolved => resolved == own, pinned: true);
        }
        if (Rooted(environment, "MODEL_OUTPUT_PATH") is { } output)
        {
            Add(readWrite, "model_output_path", output, resolved => tenantPaths.TryResolve(resolved, out _, out _), pinned: true);
        }
        if (Rooted(environment, "DATA_PATH") is { } data && !inputs.Any(input => IsInside(data, input)))
        {
            Add(readOnly, "data_path", data, resolved => tenantPaths.TryResolve(resolved, out _, out _), pinned: true);
        }
        if (launch.PythonEnvironment?.Python is { } python)
        {
            // The interpreter the tenant named, with the installation it belongs to (<prefix>/bin/python: its lib beside).
            var folder = Path.GetDirectoryName(python)!;
            var prefix = Path.GetFileName(folder) == "bin" ? Path.GetDirectoryName(folder)! : folder;
            Add(readOnly, "environment.python", prefix, resolved => tenantPaths.TryResolve(resolved, out _, out _));
        }
        // The operator's and the platform's own folders: trusted, but never the data folder.
        foreach (var path in launch.ToolPaths.Concat(_options.ReadOnlyPaths)) Add(readOnly, "a read-only folder", path, _ => true);
        foreach (var path in _options.ReadWritePaths) Add(readWrite, "a shared folder", path, _ => true);

        var uid = _uids?.For(tenant);
        return new SandboxLaunch
        {
            Bwrap = Bwrap!,
            Uid = uid,
            Gid = uid,
            Network = Network,
            ReadOnly = readOnly,
            ReadWrite = readWrite,
            // The server's own settings may sit beside the worker (connection strings, keys): never shown.
            Masked = launch.ToolPaths.SelectMany(folder => Directory.Exists(folder) ? Directory.GetFiles(folder, "appsettings*.json") : []).ToList(),
            TmpBytes = _options.TmpMb * 1024L * 1024L,
        };
    }

    /// <summary>
    /// Adds <paramref name="path"/> when it exists and leads where <paramref name="allowed"/> says it may;
    /// <paramref name="pinned"/> for a path a tenant's jobs can write in (see <see cref="SandboxBind"/>).
    /// </summary>
    private void Add(List<SandboxBind> binds, string what, string path, Func<string, bool> allowed, bool pinned = false)
    {
        var full = Path.GetFullPath(path);
        if (SafeFiles.RealPath(full) is not { } resolved) return;
        if (IsInside(_data.Root, resolved) || !allowed(resolved))
        {
            _logger.LogWarning("Refused to show {What} to a job: {Path} leads to {Resolved}", what, full, resolved);
            throw new RuntimeStartException(full == resolved
                ? $"{what}: {full} may not be shown to the job"
                : $"{what}: {full} leads through a symbolic link to {resolved}, which the job may not see");
        }
        if (binds.All(b => b.Path != full)) binds.Add(new SandboxBind(full, resolved, pinned));
    }

    private static string? Rooted(IReadOnlyDictionary<string, string> environment, string name) =>
        environment.GetValueOrDefault(name) is { } path && Path.IsPathRooted(path) ? path : null;

    /// <summary>Whether <paramref name="path"/> is <paramref name="folder"/> or lies in it.</summary>
    private static bool IsInside(string path, string folder) =>
        path == folder || path.StartsWith(folder.TrimEnd('/') + "/", StringComparison.Ordinal);

    /// <summary>Finds bwrap and runs it once the way the worker will; the problem, or null when it works.</summary>
    private string? Probe(out string bwrap)
    {
        bwrap = _options.BwrapPath ?? FindOnPath("bwrap") ?? "";
        if (bwrap.Length == 0 || !File.Exists(bwrap)) return "bubblewrap (bwrap) is not installed";
        if (Environment.IsPrivilegedProcess && !File.Exists("/usr/bin/setpriv")) return "/usr/bin/setpriv (util-linux) is missing, which a root server needs to run jobs as tenants' users";
        var start = new ProcessStartInfo(bwrap) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        // As the worker will: a root server without a user namespace, any other in one.
        if (!Environment.IsPrivilegedProcess) start.ArgumentList.Add("--unshare-user");
        foreach (var argument in (string[])["--unshare-pid", "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
                     "--symlink", "usr/lib64", "/lib64", "--proc", "/proc", "--", "/usr/bin/true"])
        {
            start.ArgumentList.Add(argument);
        }
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
