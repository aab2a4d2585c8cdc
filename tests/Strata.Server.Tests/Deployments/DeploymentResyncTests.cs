using Microsoft.Extensions.DependencyInjection;
using Strata.Core.Deployments;
using Strata.Server.Deployments;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Deployments;

/// <summary>The resync of stored deployments with the runtime, beyond the start: what is stored no more goes.</summary>
public sealed class DeploymentResyncTests(SqliteApp app) : IClassFixture<SqliteApp>
{
    [Fact]
    public async Task A_resync_removes_replicas_the_store_no_longer_has_but_not_those_started_after_it_read_the_store()
    {
        await app.StartIfNeededAsync();
        var runtime = app.Services.GetRequiredService<IDeploymentRuntime>();
        var service = app.Services.GetRequiredService<DeploymentService>();
        // A deployment this server runs without a record: deleted through another server sharing the database.
        var leftover = new DeploymentKey("elsewhere", "gone");
        await runtime.ApplyAsync(Target(leftover), CancellationToken.None);
        Assert.Contains(leftover, runtime.Deployments());

        await service.ResyncAsync(CancellationToken.None);
        Assert.DoesNotContain(leftover, runtime.Deployments());

        // One started after the store was read (a create on this server racing the resync) stays.
        var listedAt = DateTimeOffset.UtcNow;
        var racing = new DeploymentKey("elsewhere", "new");
        await Task.Delay(10);
        await runtime.ApplyAsync(Target(racing), CancellationToken.None);
        await runtime.RetainOnlyAsync(new HashSet<DeploymentKey>(), listedAt, CancellationToken.None);
        Assert.Contains(racing, runtime.Deployments());
        await runtime.RemoveAsync(racing, CancellationToken.None);
    }

    private static DeploymentTarget Target(DeploymentKey key) =>
        new(key, "nothing", 1, Path.Combine(Path.GetTempPath(), "strata-no-such-model.zip"), null, 1, 1, 8, 0.1, 0.1);
}
