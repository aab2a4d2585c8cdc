using System.Globalization;

namespace Strata.Server.Tests.Process;

/// <summary>Replicas' usage is checkpointed durably: a server killed with SIGKILL keeps every interval it had stored.</summary>
[Collection(ServerProcessCollection.Name)]
public sealed class ServingUsageProcessTests
{
    [Fact]
    public async Task A_killed_server_keeps_the_replica_usage_it_checkpointed_and_the_restarted_replica_adds_to_it()
    {
        using var server = new ServerProcess(new Dictionary<string, string> { ["Usage__ReplicaCheckpointSeconds"] = "1" });
        await server.StartAsync();
        using var api = await server.CreateTenantAsync("team-a");
        var window = "/v1/usage?from=" + DateTimeOffset.UtcNow.AddHours(-1).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        await OrphanTests.DeployIrisAsync(server, api);
        double stored = 0;
        await Wait.UntilAsync(async () => (stored = await ReplicaSecondsAsync(api, window)) >= 2, "two seconds of the replica to be stored", server);

        server.KillServer();
        // As an operator's restart would find it: the killed server's replica and standby worker ended with it.
        await Wait.UntilAsync(() => Task.FromResult(server.Workers("serve").Count == 0 && server.Workers("standby").Count == 0),
            "the killed server's replica and standby worker to end", server);
        await server.StartAsync();

        // Nothing stored is lost: at most the interval still open when it was killed (a second here) is.
        var afterRestart = await ReplicaSecondsAsync(api, window);
        Assert.True(afterRestart >= stored, $"{afterRestart} replica-seconds after the restart, {stored} before");
        await OrphanTests.WaitUntilReadyAsync(server, api);
        await Wait.UntilAsync(async () => await ReplicaSecondsAsync(api, window) > afterRestart, "the restarted replica's usage to be added", server);
    }

    private static async Task<double> ReplicaSecondsAsync(ApiClient api, string window) =>
        (await api.GetJsonAsync(window)).GetProperty("tenants")[0].GetProperty("serving").GetProperty("replica_seconds").GetDouble();
}
