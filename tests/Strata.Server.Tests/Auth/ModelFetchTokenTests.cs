using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Strata.Contracts;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Auth;

/// <summary>
/// Issue 20, item 1: a deployment's model-fetch token reads its one model's versions and files in its tenant, and
/// nothing else; it dies with its tenant and at its expiry.
/// </summary>
public sealed class ModelFetchTokenTests(SqliteApp app) : IClassFixture<SqliteApp>
{
    [Fact]
    public async Task A_fetch_token_downloads_its_models_file_by_number_or_alias_with_range_and_etag()
    {
        var (tenant, member) = await app.TenantClientAsync("fetch-own");
        using var _ = member;
        var content = TestModels.ModelBytes("the churn model");
        await TestModels.RegisterAsync(app, member, tenant, "churn", content);
        using var fetch = app.ClientFor(await TestModels.FetchTokenAsync(app, tenant, "churn"));
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(content));

        foreach (var version in new[] { "1", "latest" })
        {
            using var download = await fetch.GetAsync($"/v1/models/churn/versions/{version}/file");
            Assert.Equal(HttpStatusCode.OK, download.StatusCode);
            Assert.Equal(content, await download.Content.ReadAsByteArrayAsync());
            Assert.Equal($"\"{sha256}\"", download.Headers.ETag?.Tag);
        }
        using (var metadata = await fetch.GetAsync("/v1/models/churn/versions/latest"))
        {
            Assert.Equal(sha256, (await Http.ExpectAsync(metadata, 200)).GetProperty("sha256").GetString());
        }
        using (var range = new HttpRequestMessage(HttpMethod.Get, "/v1/models/churn/versions/1/file"))
        {
            range.Headers.Range = new RangeHeaderValue(2, 5);
            using var partial = await fetch.SendAsync(range);
            Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
            Assert.Equal(content[2..6], await partial.Content.ReadAsByteArrayAsync());
        }
        using var unchanged = new HttpRequestMessage(HttpMethod.Get, "/v1/models/churn/versions/1/file");
        unchanged.Headers.IfNoneMatch.Add(new EntityTagHeaderValue($"\"{sha256}\""));
        using var notModified = await fetch.SendAsync(unchanged);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
    }

    [Fact]
    public async Task A_fetch_token_reads_its_versions_input_schema()
    {
        var (tenant, member) = await app.TenantClientAsync("fetch-schema");
        using var _ = member;
        var schema = JsonDocument.Parse("""{"task":"regression","columns":[{"name":"tenure","type":"numeric"}]}""").RootElement;
        await TestModels.RegisterAsync(app, member, tenant, "churn", TestModels.ModelBytes("with a schema"), schema);
        using var fetch = app.ClientFor(await TestModels.FetchTokenAsync(app, tenant, "churn"));

        using var response = await fetch.GetAsync("/v1/models/churn/versions/latest");

        // strata-worker fetch writes it as schema.json beside the model, which serve checks requests against.
        var version = await Http.ExpectAsync(response, 200);
        Assert.Equal(1, version.GetProperty("version").GetInt32());
        Assert.Equal("tenure", version.GetProperty("input_schema").GetProperty("columns")[0].GetProperty("name").GetString());
    }

    public static TheoryData<string, string> OtherRoutes => new()
    {
        // Another model of the same tenant, by every read route.
        { "GET", "/v1/models/other/versions/1/file" },
        { "GET", "/v1/models/other/versions/1" },
        { "GET", "/v1/models/other" },
        // Its own model, by the routes that are not a version or its file.
        { "GET", "/v1/models" },
        { "GET", "/v1/models/churn" },
        { "GET", "/v1/models/churn/versions" },
        { "POST", "/v1/models/churn/versions" },
        { "PUT", "/v1/models/churn/aliases/production" },
        // Every other route family.
        { "GET", "/v1/me" },
        { "GET", "/v1/tenants/{tenant}" },
        { "POST", "/v1/tenants/{tenant}/tokens" },
        { "GET", "/v1/jobs/training" },
        { "POST", "/v1/jobs/training" },
        { "POST", "/v1/jobs/training/{job}/metrics" },
        { "GET", "/v1/deployments" },
        { "POST", "/v1/deployments" },
        { "POST", "/v1/deployments/churn/predict" },
        { "GET", "/v1/artifacts" },
        { "GET", "/v1/quota" },
        { "GET", "/v1/usage" },
        { "GET", "/v1/admin/prometheus/replicas" },
    };

    [Theory]
    [MemberData(nameof(OtherRoutes))]
    public async Task A_fetch_token_is_refused_every_other_model_and_route_with_403(string method, string route)
    {
        var (tenant, member) = await app.TenantClientAsync("fetch-other");
        using var _ = member;
        await TestModels.RegisterAsync(app, member, tenant, "churn", TestModels.ModelBytes("mine"));
        await TestModels.RegisterAsync(app, member, tenant, "other", TestModels.ModelBytes("not mine"));
        var job = await StrataApp.SubmitAsync(member, new { name = "secret", entrypoint = "true" });
        using var fetch = app.ClientFor(await TestModels.FetchTokenAsync(app, tenant, "churn"));

        using var request = new HttpRequestMessage(new HttpMethod(method), route
            .Replace("{tenant}", tenant, StringComparison.Ordinal).Replace("{job}", job.GetProperty("id").GetString(), StringComparison.Ordinal));
        if (method is "POST" or "PUT")
        {
            request.Content = JsonContent.Create(new { name = "sneaky", path = "out/x.zip", version = 1, role = "owner", entrypoint = "true", metrics = new { loss = 1.0 } });
        }
        using var response = await fetch.SendAsync(request);

        await Http.ExpectProblemAsync(response, 403, ProblemTypes.Forbidden);
    }

    [Fact]
    public async Task A_fetch_token_reads_its_own_tenants_model_and_never_another_tenants_of_the_same_name()
    {
        var (mine, member) = await app.TenantClientAsync("fetch-mine");
        var (theirs, neighbour) = await app.TenantClientAsync("fetch-theirs");
        using var _m = member;
        using var _n = neighbour;
        var own = TestModels.ModelBytes("ours");
        await TestModels.RegisterAsync(app, member, mine, "churn", own);
        await TestModels.RegisterAsync(app, neighbour, theirs, "churn", TestModels.ModelBytes("theirs"));
        await TestModels.RegisterAsync(app, neighbour, theirs, "only-theirs", TestModels.ModelBytes("theirs alone"));

        using (var fetch = app.ClientFor(await TestModels.FetchTokenAsync(app, mine, "churn")))
        {
            Assert.Equal(own, await fetch.GetByteArrayAsync("/v1/models/churn/versions/1/file"));
        }
        using var named = app.ClientFor(await TestModels.FetchTokenAsync(app, mine, "only-theirs"));
        foreach (var route in new[] { "/v1/models/only-theirs/versions/1/file", "/v1/models/only-theirs/versions/1" })
        {
            using var response = await named.GetAsync(route);
            await Http.ExpectProblemAsync(response, 404, ProblemTypes.NotFound);
        }
    }

    [Fact]
    public async Task An_expired_fetch_token_is_401()
    {
        var (tenant, member) = await app.TenantClientAsync("fetch-expired");
        using var _ = member;
        await TestModels.RegisterAsync(app, member, tenant, "churn", TestModels.ModelBytes("expired"));
        // Past the server's tolerated clock skew (30 s).
        using var fetch = app.ClientFor(await TestModels.FetchTokenAsync(app, tenant, "churn", TimeSpan.FromMinutes(-5)));

        using var response = await fetch.GetAsync("/v1/models/churn/versions/1/file");

        await Http.ExpectProblemAsync(response, 401, ProblemTypes.Unauthenticated);
    }

    [Fact]
    public async Task A_fetch_token_is_401_once_its_tenant_is_deleted_even_when_the_tenant_is_created_again()
    {
        var (tenant, member) = await app.TenantClientAsync("fetch-revoked");
        using var _ = member;
        await TestModels.RegisterAsync(app, member, tenant, "churn", TestModels.ModelBytes("revoked"));
        using var fetch = app.ClientFor(await TestModels.FetchTokenAsync(app, tenant, "churn"));
        using (var before = await fetch.GetAsync("/v1/models/churn/versions/1/file"))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        await app.DeleteTenantAsync(tenant);
        await app.CreateTenantAsync(tenant);
        using (var again = app.ClientFor(await app.TokenForAsync(tenant, Roles.Member)))
        {
            await TestModels.RegisterAsync(app, again, tenant, "churn", TestModels.ModelBytes("the new tenant's"));
        }

        using var after = await fetch.GetAsync("/v1/models/churn/versions/1/file");
        await Http.ExpectProblemAsync(after, 401, ProblemTypes.Unauthenticated);
    }

    [Fact]
    public async Task A_fetch_token_that_names_no_model_is_401()
    {
        var (tenant, member) = await app.TenantClientAsync("fetch-nameless");
        using var _ = member;
        await TestModels.RegisterAsync(app, member, tenant, "churn", TestModels.ModelBytes("nameless"));
        var uid = (await app.Services.GetRequiredService<Server.Auth.TenantDirectory>().FindAsync(tenant, CancellationToken.None))!.Incarnation.Uid;
        using var fetch = app.ClientFor(TestTokens.Create(app.SigningKey, tenant, Roles.ModelFetch, tenantUid: uid));

        using var response = await fetch.GetAsync("/v1/models/churn/versions/1/file");

        await Http.ExpectProblemAsync(response, 401, ProblemTypes.Unauthenticated);
    }
}
