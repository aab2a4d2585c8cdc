using Microsoft.Extensions.Options;
using Strata.Server.Deployments;
using Strata.Server.Jobs;
using Strata.Server.Runtime;
using Strata.Server.Runtime.Local;

namespace Strata.Server.Tests.Runtime;

/// <summary>One finder for strata-worker: the supervisor (possibly AOT) and the JIT worker for train and serve.</summary>
public sealed class WorkerBinaryTests
{
    private static WorkerBinary Finder(string? local = null, string? trainer = null, string? deployments = null) => new(
        Options.Create(new LocalRuntimeOptions { WorkerPath = local }),
        Options.Create(new JobsOptions { TrainerWorkerPath = trainer }),
        Options.Create(new DeploymentsOptions { WorkerPath = deployments }));

    [Fact]
    public void The_supervisor_is_the_local_runtimes_worker_and_the_jit_worker_is_not()
    {
        var finder = Finder(local: "/opt/aot/strata-worker", trainer: "/opt/jit/strata-worker");
        Assert.Equal(["/opt/aot/strata-worker"], finder.Supervisor.Argv);
        Assert.Equal(["/opt/jit/strata-worker"], finder.Jit.Argv);
        Assert.Equal("/opt/jit", finder.JitToolPaths()[0]);
    }

    [Theory]
    [InlineData(null, null, null)]
    [InlineData("/opt/jit/strata-worker", null, "/opt/jit/strata-worker")]
    [InlineData(null, "/opt/old/strata-worker", "/opt/old/strata-worker")]
    [InlineData("/opt/jit/strata-worker", "/opt/old/strata-worker", "/opt/jit/strata-worker")]
    [InlineData(" ", "/opt/old/strata-worker", "/opt/old/strata-worker")]
    public void The_jit_worker_is_the_trainer_setting_else_the_deployments_one_else_the_one_beside_the_server(
        string? trainer, string? deployments, string? expected)
    {
        var jit = Finder(local: "/opt/aot/strata-worker", trainer: trainer, deployments: deployments).Jit.Path;
        Assert.Equal(expected ?? Path.Combine(AppContext.BaseDirectory, "worker", Path.GetFileName(jit)), jit);
        if (expected is null) Assert.StartsWith("strata-worker", Path.GetFileName(jit), StringComparison.Ordinal);
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
