using Strata.Contracts;
using Strata.Server.Tests.Deployments;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Idempotency;

/// <summary>The <c>Idempotency-Key</c> header on <c>POST /v1/deployments</c>.</summary>
public sealed class DeploymentIdempotencyTests(DeploymentApp app) : IClassFixture<DeploymentApp>
{
    [Fact]
    public async Task A_deployment_created_with_a_key_is_replayed_and_another_request_with_it_is_a_422()
    {
        var (tenant, client) = await app.TenantClientAsync("deploykey");
        using var _c = client;
        await DeploymentTests.RegisterAsync(app, client, tenant);
        var key = Guid.NewGuid().ToString();
        const string Body = """{"name":"churn","model":"churn@1","min_replicas":1,"max_replicas":1}""";

        var first = await IdempotentRequests.PostAsync(client, "/v1/deployments", Http.JsonText(Body), key);
        var again = await IdempotentRequests.PostAsync(client, "/v1/deployments", Http.JsonText(Body), key);
        var other = await IdempotentRequests.PostAsync(client, "/v1/deployments", Http.JsonText(Body.Replace("\"max_replicas\":1", "\"max_replicas\":2", StringComparison.Ordinal)), key);

        Assert.Equal(201, first.Status);
        Assert.Equal("/v1/deployments/churn", first.Location);
        Assert.Equal(first, again);
        Assert.Equal((422, ProblemTypes.IdempotencyKeyReused), (other.Status, other.ProblemType));
        using var list = await client.GetAsync("/v1/deployments");
        Assert.Single((await Http.ExpectAsync(list, 200)).EnumerateArray());
        using var deleted = await client.DeleteAsync("/v1/deployments/churn");
        Assert.Equal(204, (int)deleted.StatusCode);
    }
}
