using Microsoft.Extensions.Options;
using Strata.Server.Runtime;
using Strata.Server.Runtime.Local;

namespace Strata.Server.Tests.Runtime;

/// <summary>One finder for strata-worker: the supervisor (possibly AOT) and the JIT worker for train and serve.</summary>
public sealed class WorkerBinaryTests
{
    private static WorkerBinary Finder(string? worker = null, string? local = null) => new(
        Options.Create(new RuntimeOptions { WorkerPath = worker }),
        Options.Create(new LocalRuntimeOptions { WorkerPath = local }));

    [Fact]
    public void The_supervisor_is_the_local_runtimes_worker_and_the_jit_worker_is_not()
    {
        var finder = Finder(worker: "/opt/jit/strata-worker", local: "/opt/aot/strata-worker");
        Assert.Equal(["/opt/aot/strata-worker"], finder.Supervisor.Argv);
        Assert.Equal(["/opt/jit/strata-worker"], finder.Jit.Argv);
        Assert.Equal("/opt/jit", finder.JitToolPaths()[0]);
    }

    [Theory]
    // Runtime:WorkerPath, Runtime:Local:WorkerPath; the JIT worker and the supervisor (null: the one beside the server).
    [InlineData(null, null, null, null)]
    [InlineData("/opt/jit/strata-worker", null, "/opt/jit/strata-worker", "/opt/jit/strata-worker")]
    [InlineData(null, "/opt/aot/strata-worker", null, "/opt/aot/strata-worker")]
    [InlineData("/opt/jit/strata-worker", " ", "/opt/jit/strata-worker", "/opt/jit/strata-worker")]
    [InlineData(" ", null, null, null)]
    public void The_worker_setting_serves_both_roles_unless_the_local_runtime_names_its_own_supervisor(
        string? worker, string? local, string? jit, string? supervisor)
    {
        var finder = Finder(worker, local);
        var beside = Path.Combine(AppContext.BaseDirectory, "worker", Path.GetFileName(finder.Jit.Path));
        Assert.Equal(jit ?? beside, finder.Jit.Path);
        Assert.Equal(supervisor ?? beside, finder.Supervisor.Path);
        if (jit is null) Assert.StartsWith("strata-worker", Path.GetFileName(finder.Jit.Path), StringComparison.Ordinal);
    }

    [Fact]
    public void The_build_puts_the_worker_in_its_own_folder_beside_the_server_and_the_default_finds_it()
    {
        var jit = Finder().Jit;
        Assert.Equal(Path.Combine(AppContext.BaseDirectory, "worker"), Path.GetDirectoryName(jit.Path));
        Assert.True(File.Exists(jit.Path), $"{jit.Path} was not built");
        Assert.Equal(jit, Finder().Supervisor);
        // The worker's ML libraries stay in its folder: none beside the server.
        Assert.False(File.Exists(Path.Combine(AppContext.BaseDirectory, "strata-worker.dll")));
        Assert.False(File.Exists(Path.Combine(AppContext.BaseDirectory, "Microsoft.ML.OnnxRuntime.dll")));
    }

    [Fact]
    public void A_dll_runs_with_dotnet_and_an_apphost_by_itself()
    {
        Assert.Equal(["dotnet", "/w/strata-worker.dll"], new WorkerCommand("/w/strata-worker.dll").Argv);
        Assert.Equal(["/w/strata-worker"], new WorkerCommand("/w/strata-worker").Argv);
        Assert.Equal("dotnet /w/strata-worker.dll", new WorkerCommand("/w/strata-worker.dll").ToString());
    }
}
