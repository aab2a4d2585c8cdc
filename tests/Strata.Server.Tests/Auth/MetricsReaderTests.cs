using System.Net.Http.Json;
using System.Text.Json;
using Strata.Contracts;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Auth;

/// <summary>
/// The metrics-reader role (issue 15, item 8): the token Prometheus scrapes with reads the replicas' discovery and
/// <c>/metrics</c>, and nothing else. It reads the server's /metrics in process, so it runs with the other tests
/// that do, one at a time (OpenTelemetry's meter providers listen to meters by name across the process).
/// </summary>
[Collection(Process.ServerProcessCollection.Name)]
public sealed class MetricsReaderTests(SqliteApp app) : IClassFixture<SqliteApp>
{
    private async Task<string> MetricsReaderTokenAsync()
    {
        using var admin = app.AdminClient();
        using var response = await admin.PostAsJsonAsync("/v1/admin/tokens", new { role = Roles.MetricsReader, subject = "prometheus", expires_in_days = 365 });
        var body = await Http.ExpectAsync(response, 201);
        Assert.Equal(Roles.MetricsReader, body.GetProperty("role").GetString());
        Assert.False(body.TryGetProperty("tenant_id", out var tenant) && tenant.ValueKind != JsonValueKind.Null, $"The token names a tenant: {body}");
        return body.GetProperty("token").GetString()!;
    }

    [Fact]
    public async Task A_metrics_reader_reads_the_replica_discovery_and_the_metrics()
    {
        using var reader = app.ClientFor(await MetricsReaderTokenAsync());

        using (var discovery = await reader.GetAsync("/v1/admin/prometheus/replicas"))
        {
            Assert.Equal(JsonValueKind.Array, (await Http.ExpectAsync(discovery, 200)).ValueKind);
        }
        using var metrics = await reader.GetAsync("/metrics");
        Assert.Equal(200, (int)metrics.StatusCode);
        Assert.Contains("# TYPE", await metrics.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    public static TheoryData<string, string> OtherRoutes => new()
    {
        { "GET", "/v1/me" },
        { "GET", "/v1/tenants" },
        { "POST", "/v1/tenants" },
        { "GET", "/v1/tenants/{tenant}" },
        { "POST", "/v1/tenants/{tenant}/tokens" },
        { "POST", "/v1/admin/tokens" },
        { "GET", "/v1/admin/capacity" },
        { "GET", "/v1/quota" },
        { "GET", "/v1/usage" },
        { "GET", "/v1/jobs/training" },
        { "POST", "/v1/jobs/training" },
        { "GET", "/v1/artifacts" },
        { "GET", "/v1/models" },
        { "GET", "/v1/deployments" },
    };

    [Theory]
    [MemberData(nameof(OtherRoutes))]
    public async Task A_metrics_reader_is_refused_everything_else_with_403(string method, string route)
    {
        // A tenant with data: the reader must not see it, whichever route names it.
        var (tenant, member) = await app.TenantClientAsync("scraped");
        using var _ = member;
        await StrataApp.SubmitAsync(member, new { name = "secret", entrypoint = "true" });
        using var reader = app.ClientFor(await MetricsReaderTokenAsync());

        using var request = new HttpRequestMessage(new HttpMethod(method), route.Replace("{tenant}", tenant, StringComparison.Ordinal));
        if (method == "POST") request.Content = JsonContent.Create(new { id = "sneaky", name = "sneaky", role = "owner", entrypoint = "true" });
        using var response = await reader.SendAsync(request);

        await Http.ExpectProblemAsync(response, 403, ProblemTypes.Forbidden);
    }

    [Fact]
    public async Task Only_an_admin_issues_a_metrics_reader_token_and_never_as_a_tenants_role()
    {
        var (tenant, owner) = await app.TenantClientAsync("issuer", Roles.Owner);
        using var _ = owner;

        using (var byOwner = await owner.PostAsJsonAsync("/v1/admin/tokens", new { role = Roles.MetricsReader }))
        {
            await Http.ExpectProblemAsync(byOwner, 403, ProblemTypes.Forbidden);
        }
        using (var asTenantRole = await owner.PostAsJsonAsync($"/v1/tenants/{tenant}/tokens", new { role = Roles.MetricsReader }))
        {
            await Http.ExpectValidationAsync(asTenantRole, "role");
        }
        using var admin = app.AdminClient();
        using (var tenantRoleOfNoTenant = await admin.PostAsJsonAsync("/v1/admin/tokens", new { role = Roles.Owner }))
        {
            await Http.ExpectValidationAsync(tenantRoleOfNoTenant, "role");
        }
        using var byDefault = await admin.PostAsJsonAsync("/v1/admin/tokens", new { });
        Assert.Equal(Roles.MetricsReader, (await Http.ExpectAsync(byDefault, 201)).GetProperty("role").GetString());
    }
}
