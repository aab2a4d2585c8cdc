using Microsoft.Extensions.DependencyInjection;
using Strata.Contracts;
using Strata.Server.Storage;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.RateLimits;

/// <summary>
/// A tiny bucket that cannot refill during a test (3 requests, then 1 more a day), and a tenant of its own
/// with a larger one: every answer is decided by the count of requests, never by the clock.
/// </summary>
public sealed class TinyRateLimitApp() : StrataApp(StorageKind.Sqlite, new Dictionary<string, string?>
{
    ["RateLimits:Burst"] = "3",
    ["RateLimits:TokensPerPeriod"] = "1",
    ["RateLimits:PeriodSeconds"] = "86400",
    [$"RateLimits:Tenants:{RateLimitTests.Generous}:Burst"] = "6",
});

/// <summary>Per-tenant API rate limits: 429 problem+json with Retry-After, one bucket per tenant.</summary>
public sealed class RateLimitTests(TinyRateLimitApp app) : IClassFixture<TinyRateLimitApp>
{
    public const string Generous = "generous";

    [Fact]
    public async Task A_tenant_over_its_bucket_gets_429_with_retry_after_and_a_problem()
    {
        var (tenant, client) = await app.TenantClientAsync("limited");
        using var _ = client;
        for (var i = 0; i < 3; i++)
        {
            using var allowed = await client.GetAsync("/v1/me");
            await Http.ExpectAsync(allowed, 200);
        }

        using var refused = await client.GetAsync("/v1/jobs/training");
        var problem = await Http.ExpectProblemAsync(refused, 429, ProblemTypes.RateLimited);
        Assert.Contains(tenant, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var retryAfter = Assert.Single(refused.Headers.GetValues("Retry-After"));
        Assert.True(int.TryParse(retryAfter, out var seconds) && seconds >= 1, $"Retry-After: {retryAfter}");
        Assert.True(seconds <= 86400, $"Retry-After: {retryAfter}");

        // A refused submission changes nothing.
        using var submit = await client.PostAsync("/v1/jobs/training", Http.JsonText("""{"name":"refused","entrypoint":"true"}"""));
        await Http.ExpectProblemAsync(submit, 429, ProblemTypes.RateLimited);
        await using (var db = app.Services.GetRequiredService<Store>().CreateContext())
        {
            Assert.False(db.Jobs.Any(j => j.TenantId == tenant));
        }
        var owner = app.ClientFor(await app.TokenForAsync(tenant, Roles.Owner));
        using var __ = owner;
        using var list = await owner.GetAsync("/v1/jobs/training");
        await Http.ExpectProblemAsync(list, 429, ProblemTypes.RateLimited); // the bucket is the tenant's, not the token's
    }

    [Fact]
    public async Task One_tenant_exhausting_its_bucket_does_not_limit_another_nor_admins_nor_health()
    {
        var (_, noisy) = await app.TenantClientAsync("noisy");
        var (_, quiet) = await app.TenantClientAsync("quiet");
        using var _n = noisy;
        using var _q = quiet;
        var refused = 0;
        for (var i = 0; i < 10; i++)
        {
            using var response = await noisy.GetAsync("/v1/me");
            if ((int)response.StatusCode == 429) refused++;
        }
        Assert.Equal(7, refused);

        for (var i = 0; i < 3; i++)
        {
            using var response = await quiet.GetAsync("/v1/me");
            await Http.ExpectAsync(response, 200);
        }
        using var admin = app.AdminClient();
        for (var i = 0; i < 10; i++)
        {
            using var response = await admin.GetAsync("/v1/tenants");
            await Http.ExpectAsync(response, 200);
        }
        using var anonymous = app.AnonymousClient();
        for (var i = 0; i < 10; i++)
        {
            using var response = await anonymous.GetAsync("/health/live");
            Assert.Equal(200, (int)response.StatusCode);
        }
    }

    [Fact]
    public async Task A_tenants_own_limit_replaces_the_default()
    {
        await app.CreateTenantAsync(Generous);
        using var client = app.ClientFor(await app.TokenForAsync(Generous, Roles.Member));
        for (var i = 0; i < 6; i++)
        {
            using var allowed = await client.GetAsync("/v1/me");
            await Http.ExpectAsync(allowed, 200);
        }
        using var refused = await client.GetAsync("/v1/me");
        await Http.ExpectProblemAsync(refused, 429, ProblemTypes.RateLimited);
    }

    [Fact]
    public async Task Health_sent_with_a_tenants_token_counts_toward_its_limit_as_the_API_reference_says()
    {
        var (_, client) = await app.TenantClientAsync("probe");
        using var _ = client;
        for (var i = 0; i < 3; i++)
        {
            using var allowed = await client.GetAsync("/v1/health");
            await Http.ExpectAsync(allowed, 200);
        }

        using var refused = await client.GetAsync("/v1/health");
        await Http.ExpectProblemAsync(refused, 429, ProblemTypes.RateLimited);
        using var anonymous = app.AnonymousClient();
        using var probe = await anonymous.GetAsync("/v1/health");
        await Http.ExpectAsync(probe, 200);
    }
}
