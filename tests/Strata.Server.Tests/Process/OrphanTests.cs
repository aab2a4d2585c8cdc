using System.Net;
using Strata.Server.Tests.Deployments;

namespace Strata.Server.Tests.Process;

/// <summary>
/// Issue 15, item 4: what the server starts and nobody could adopt — model replicas (<c>strata-worker serve</c>) and
/// standby workers (<c>strata-worker standby</c>) — ends with it, killed or stopped, and a restart runs exactly the
/// configured number again. Processes are counted by what names the server's folder, so other tests' servers do not count.
/// </summary>
[Collection(ServerProcessCollection.Name)]
public sealed class OrphanTests
{
    private const int Kills = 2;

    [Fact]
    public async Task Replicas_and_standby_workers_end_with_a_killed_server_and_each_restart_runs_exactly_the_configured_ones()
    {
        using var server = new ServerProcess();
        await server.StartAsync();
        using var api = await server.CreateTenantAsync("team-a");
        await DeployIrisAsync(server, api);

        for (var kill = 1; kill <= Kills; kill++)
        {
            var replica = Assert.Single(server.Workers("serve"));
            await Wait.UntilAsync(() => Task.FromResult(server.Workers("standby").Count > 0), "a standby worker to be started", server);
            var standby = Assert.Single(server.Workers("standby"));

            server.KillServer();

            await Wait.UntilAsync(() => Task.FromResult(!ProcFs.IsAlive(replica) && !ProcFs.IsAlive(standby)),
                () => $"the replica {replica} and the standby worker {standby} to end with their killed server (kill {kill}); left: serve {string.Join(' ', server.Workers("serve"))}, standby {string.Join(' ', server.Workers("standby"))}");
            Assert.Empty(server.Workers("serve"));
            Assert.Empty(server.Workers("standby"));

            await server.StartAsync();
            await WaitUntilReadyAsync(server, api);
        }
        Assert.Single(server.Workers("serve"));

        // A graceful stop ends every replica and standby worker this server started.
        await Wait.UntilAsync(() => Task.FromResult(server.Workers("standby").Count > 0), "a standby worker to be started", server);
        var last = server.Workers("serve").Concat(server.Workers("standby")).ToList();
        server.StopServer();
        await Wait.UntilAsync(() => Task.FromResult(!last.Any(ProcFs.IsAlive)),
            () => $"the replica and standby worker ({string.Join(' ', last)}) to end with their stopped server; alive: {string.Join(' ', last.Where(ProcFs.IsAlive))}");
        Assert.Empty(server.Workers("serve"));
        Assert.Empty(server.Workers("standby"));
    }

    [Fact]
    public async Task Standby_workers_end_with_a_killed_server_and_with_a_stopped_one()
    {
        using var server = new ServerProcess(new Dictionary<string, string> { ["Runtime__Local__StandbyWorkers"] = "2" });
        await server.StartAsync();
        await Wait.UntilAsync(() => Task.FromResult(server.Workers("standby").Count == 2), "two standby workers to be started", server);
        var first = server.Workers("standby");

        server.KillServer();
        await Wait.UntilAsync(() => Task.FromResult(!first.Any(ProcFs.IsAlive)),
            () => $"the standby workers ({string.Join(' ', first)}) to end with their killed server; alive: {string.Join(' ', first.Where(ProcFs.IsAlive))}");

        await server.StartAsync();
        await Wait.UntilAsync(() => Task.FromResult(server.Workers("standby").Count >= 2), "the restarted server's standby workers", server);
        var second = server.Workers("standby");
        Assert.Equal(2, second.Count);
        Assert.Empty(second.Intersect(first));

        server.StopServer();
        await Wait.UntilAsync(() => Task.FromResult(!second.Any(ProcFs.IsAlive)),
            () => $"the standby workers ({string.Join(' ', second)}) to end with their stopped server; alive: {string.Join(' ', second.Where(ProcFs.IsAlive))}");
        Assert.Empty(server.Workers("standby"));
    }

    /// <summary>Registers the iris ONNX model through the API, as a job that wrote it would, and deploys it with one replica.</summary>
    internal static async Task DeployIrisAsync(ServerProcess server, ApiClient api)
    {
        var folder = Directory.CreateDirectory(Path.Combine(server.DataPath, "artifacts", api.Tenant, "out")).FullName;
        File.Copy(OnnxDeploymentApp.IrisModel, Path.Combine(folder, "model.onnx"));
        using (var registered = await api.SendAsync(HttpMethod.Post, "/v1/models/iris/versions", """{"path":"out/model.onnx"}"""))
        {
            Assert.True(registered.StatusCode == HttpStatusCode.Created, $"register: {(int)registered.StatusCode} {await registered.Content.ReadAsStringAsync()}");
        }
        using (var created = await api.SendAsync(HttpMethod.Post, "/v1/deployments", """{"model":"iris@1","min_replicas":1,"max_replicas":1}"""))
        {
            Assert.True(created.StatusCode == HttpStatusCode.Created, $"deploy: {(int)created.StatusCode} {await created.Content.ReadAsStringAsync()}");
        }
        await WaitUntilReadyAsync(server, api);
    }

    internal static async Task WaitUntilReadyAsync(ServerProcess server, ApiClient api)
    {
        var last = "";
        await Wait.UntilAsync(async () =>
        {
            var deployment = await api.GetJsonAsync("/v1/deployments/iris");
            last = deployment.ToString();
            return DeploymentTests.IsReadyAt(deployment, 1, 1);
        }, () => $"the deployment to be ready with one replica; last seen: {last}", server);
    }
}
