using Microsoft.AspNetCore.Http;
using Strata.Core.Deployments;
using Strata.Server.Deployments;

namespace Strata.Server.Tests.Deployments;

/// <summary>The canary split of the router, without replicas: which replicas each request may go to; and how it reaches a replica's socket.</summary>
public sealed class ReplicaRouterTests
{
    private static readonly ReplicaEndpoint Main1 = new("m1", new Uri("http://127.0.0.1:1/"), 1);
    private static readonly ReplicaEndpoint Main2 = new("m2", new Uri("http://127.0.0.1:2/"), 1);
    private static readonly ReplicaEndpoint Canary = new("c1", new Uri("http://127.0.0.1:3/"), 2);

    [Theory]
    [InlineData(0.1)]
    [InlineData(0.25)]
    [InlineData(0.5)]
    [InlineData(0.01)]
    public void The_canary_gets_exactly_its_share_of_any_run_of_requests_evenly_spread(double weight)
    {
        using var router = new ReplicaRouter();
        var key = new DeploymentKey("t1", "churn");
        var observed = new DeploymentObservation(2, [Main1, Main2, Canary], [], "churn", new CanarySplit(2, weight, 1));

        var toCanary = new List<int>();
        for (var n = 0; n < 2000; n++)
        {
            var replicas = router.Split(key, observed);
            Assert.True(replicas.All(r => r.ModelVersion == replicas[0].ModelVersion), "a split mixes versions");
            if (replicas[0].ModelVersion == 2) toCanary.Add(n);
            else Assert.Equal(2, replicas.Count);
        }

        Assert.Equal((int)Math.Floor(2000 * weight), toCanary.Count);
        // Evenly spread: two canary requests are about 1/weight apart, never bunched.
        Assert.All(toCanary.Zip(toCanary.Skip(1)), pair => Assert.True(pair.Second - pair.First >= Math.Floor(1 / weight) - 1, $"{pair.First} and {pair.Second}"));
    }

    [Fact]
    public void Without_a_ready_canary_replica_or_a_canary_every_ready_replica_is_a_choice()
    {
        using var router = new ReplicaRouter();
        var key = new DeploymentKey("t1", "churn");
        var starting = new DeploymentObservation(2, [Main1, Main2], [], "churn", new CanarySplit(2, 0.5, 1));
        var none = new DeploymentObservation(2, [Main1, Main2, Canary], [], "churn");

        Assert.Equal(new[] { Main1, Main2 }, router.Split(key, starting));
        Assert.Equal(new[] { Main1, Main2, Canary }, router.Split(key, none));
    }

    [Fact]
    public async Task A_replica_with_a_socket_is_reached_over_it_and_one_whose_socket_is_gone_is_replaced()
    {
        var folder = Directory.CreateTempSubdirectory("strata-router-socket-").FullName;
        try
        {
            var socket = Path.Combine(folder, "live.sock");
            await using var replica = new FakeFrameReplica(socket, FakeFrameReplica.Echo);
            using var router = new ReplicaRouter();
            // Nothing listens on these ports: whatever answers, answers over the socket.
            var live = new ReplicaEndpoint("live", new Uri("http://127.0.0.1:1/"), 1) { Socket = socket };
            var gone = new ReplicaEndpoint("gone", new Uri("http://127.0.0.1:2/"), 1) { Socket = Path.Combine(folder, "gone.sock") };

            for (var i = 0; i < 4; i++)
            {
                var context = new DefaultHttpContext();
                context.Response.Body = new MemoryStream();
                var body = System.Text.Encoding.UTF8.GetBytes($"{{\"n\":{i}}}");

                Assert.True(await router.ForwardAsync([gone, live], [gone, live], body, "application/json", context.Response, CancellationToken.None));

                Assert.Equal(200, context.Response.StatusCode);
                Assert.Equal($"{{\"n\":{i}}}", System.Text.Encoding.UTF8.GetString(((MemoryStream)context.Response.Body).ToArray()));
                Assert.Equal("1", context.Response.Headers[ReplicaRouter.ModelVersionHeader]);
            }
            // Every prediction went over the one connection the router keeps to the replica.
            Assert.Equal(1, replica.Connections);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
