using Microsoft.Extensions.Options;
using Strata.Server.Runtime.Local;

namespace Strata.Server.Runtime;

/// <summary>
/// Where <c>strata-worker</c> is; the one place that reads the settings that name it. The worker is
/// <c>Runtime:WorkerPath</c>, by default the one that the server's build and publish put beside it in
/// <see cref="DefaultFolder"/> (its apphost, else its <c>.dll</c>). It has two roles:
/// <list type="bullet">
/// <item>The JIT worker (<see cref="Jit"/>) runs the built-in trainers (<c>train</c>) and model replicas
///   (<c>serve</c>), which a Native AOT build leaves out.</item>
/// <item>The supervisor (<see cref="Supervisor"/>) runs and watches local attempts (<c>run</c>, <c>standby</c>): the
///   same worker, unless <c>Runtime:Local:WorkerPath</c> names a faster one (a Native AOT build) for this role alone.</item>
/// </list>
/// </summary>
public sealed class WorkerBinary(IOptions<RuntimeOptions> runtime, IOptions<LocalRuntimeOptions> local)
{
    /// <summary>Where the build and publish put strata-worker (Directory.Build.targets): <c>worker/</c> beside the server.</summary>
    public static string DefaultFolder => Path.Combine(AppContext.BaseDirectory, "worker");

    /// <summary>The worker that supervises local attempts; possibly a Native AOT build.</summary>
    public WorkerCommand Supervisor => Find(Configured(local.Value.WorkerPath) ?? runtime.Value.WorkerPath);

    /// <summary>The JIT worker, which has the built-in trainers and <c>serve</c>.</summary>
    public WorkerCommand Jit => Find(runtime.Value.WorkerPath);

    /// <summary>What a built-in trainer runs from: the JIT worker's folder and, when it is not under /usr, the .NET it runs on.</summary>
    public string[] JitToolPaths()
    {
        var worker = Path.GetDirectoryName(Jit.Path)!;
        var dotnet = Path.GetFullPath(Path.Combine(System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        return dotnet.StartsWith("/usr/", StringComparison.Ordinal) ? [worker] : [worker, dotnet];
    }

    private static string? Configured(string? path) => string.IsNullOrWhiteSpace(path) ? null : path;

    private static WorkerCommand Find(string? configured)
    {
        if (Configured(configured) is { } path) return new WorkerCommand(path);
        var apphost = Path.Combine(DefaultFolder, "strata-worker");
        return new WorkerCommand(File.Exists(apphost) ? apphost : Path.Combine(DefaultFolder, "strata-worker.dll"));
    }
}

/// <summary>How to start a worker found at <see cref="Path"/>: an apphost directly, a <c>.dll</c> with <c>dotnet</c>.</summary>
public sealed record WorkerCommand(string Path)
{
    private bool IsDll => Path.EndsWith(".dll", StringComparison.Ordinal);

    /// <summary>The program to start.</summary>
    public string FileName => IsDll ? "dotnet" : Path;

    /// <summary>The arguments before the worker's own: the <c>.dll</c> for <c>dotnet</c>, else none.</summary>
    public string[] Prefix => IsDll ? [Path] : [];

    /// <summary>The program and its leading arguments.</summary>
    public string[] Argv => [FileName, .. Prefix];

    public override string ToString() => string.Join(' ', Argv);
}
