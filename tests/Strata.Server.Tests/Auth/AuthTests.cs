using Microsoft.IdentityModel.Tokens;
using Strata.Contracts;
using Strata.Server.Auth;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Auth;

public sealed class AuthTests(SqliteApp app) : IClassFixture<SqliteApp>
{
    public static TheoryData<string?> RefusedAuthorizations => new()
    {
        null,
        "Bearer",
        "Bearer garbage",
        "Bearer not.a.jwt",
        // The seed course's demo token.
        "Bearer tenant-team-a",
        "Basic dXNlcjpwYXNz",
    };

    [Theory]
    [MemberData(nameof(RefusedAuthorizations))]
    public async Task A_missing_or_unreadable_token_is_401_problem(string? authorization)
    {
        using var client = app.AnonymousClient();
        foreach (var path in new[] { "/v1/me", "/v1/jobs/training", "/v1/tenants" })
        {
            using var response = await client.GetWithAuthorizationAsync(path, authorization);
            await Http.ExpectProblemAsync(response, 401, ProblemTypes.Unauthenticated);
            Assert.Contains(response.Headers.WwwAuthenticate, h => h.Scheme == "Bearer");
        }
    }

    [Fact]
    public async Task Tokens_that_are_forged_expired_or_meant_for_another_server_are_401()
    {
        var tenant = await app.CreateTenantAsync(StrataApp.UniqueId("auth"));
        var uid = app.TenantUid(tenant);
        var now = DateTime.UtcNow;
        var refused = new Dictionary<string, string>
        {
            ["signed with another key"] = TestTokens.Create(TestTokens.OtherKey(), tenant, tenantUid: uid),
            ["signed with another key, admin role"] = TestTokens.Create(TestTokens.OtherKey(), tenant, role: Roles.Admin, tenantUid: uid),
            ["expired"] = TestTokens.Create(app.SigningKey, tenant, notBefore: now.AddHours(-2), expires: now.AddMinutes(-10), tenantUid: uid),
            ["wrong issuer"] = TestTokens.Create(app.SigningKey, tenant, issuer: "someone-else", tenantUid: uid),
            ["wrong audience"] = TestTokens.Create(app.SigningKey, tenant, audience: "another-api", tenantUid: uid),
            ["alg none"] = TestTokens.UnsignedToken(tenant),
            ["alg none, admin role"] = TestTokens.UnsignedToken(tenant, Roles.Admin),
            ["signature stripped"] = string.Join('.', TestTokens.Create(app.SigningKey, tenant, tenantUid: uid).Split('.')[..2]) + ".",
            ["without the tenant's incarnation"] = TestTokens.Create(app.SigningKey, tenant),
            ["naming another incarnation of the tenant"] = TestTokens.Create(app.SigningKey, tenant, tenantUid: Guid.NewGuid().ToString("N")),
        };
        // The control: the same recipe with the real key, issuer, audience and incarnation is accepted, so each refusal above is for its one defect.
        using (var control = app.ClientFor(TestTokens.Create(app.SigningKey, tenant, tenantUid: uid)))
        using (var response = await control.GetAsync("/v1/me"))
        {
            await Http.ExpectAsync(response, 200);
        }
        foreach (var (what, token) in refused)
        {
            using var client = app.ClientFor(token);
            using var response = await client.GetAsync("/v1/me");
            Assert.True(401 == (int)response.StatusCode, $"A token {what} was answered {(int)response.StatusCode}.");
            await Http.ExpectProblemAsync(response, 401, ProblemTypes.Unauthenticated);
            using var jobs = await client.GetAsync("/v1/jobs/training");
            await Http.ExpectProblemAsync(jobs, 401, ProblemTypes.Unauthenticated);
        }
    }

    [Fact]
    public async Task A_remembered_token_answers_only_for_itself()
    {
        var key = TestTokens.OtherKey();
        var parameters = new TokenValidationParameters
        {
            ValidIssuer = TestTokens.Issuer,
            ValidAudience = TestTokens.Audience,
            IssuerSigningKey = new SymmetricSecurityKey(key),
            ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
            RequireExpirationTime = true,
        };
        var handler = new AcceptedTokenCache { MapInboundClaims = false };
        var teamA = TestTokens.Create(key, "team-a");
        var teamB = TestTokens.Create(key, "team-b");

        Assert.True((await handler.ValidateTokenAsync(teamA, parameters)).IsValid);
        var again = await handler.ValidateTokenAsync(teamA, parameters);
        Assert.True(again.IsValid);
        Assert.Equal("team-a", again.ClaimsIdentity.FindFirst("tenant")?.Value);
        // Another token, or the remembered one with its signature altered, gets the full check.
        Assert.Equal("team-b", (await handler.ValidateTokenAsync(teamB, parameters)).ClaimsIdentity.FindFirst("tenant")?.Value);
        var tampered = teamA[..^2] + (teamA[^2] == 'A' ? 'B' : 'A') + teamA[^1];
        Assert.False((await handler.ValidateTokenAsync(tampered, parameters)).IsValid);
        var expired = TestTokens.Create(key, "team-a", notBefore: DateTime.UtcNow.AddHours(-2), expires: DateTime.UtcNow.AddMinutes(-10));
        Assert.False((await handler.ValidateTokenAsync(expired, parameters)).IsValid);
    }

    [Fact]
    public async Task A_valid_token_of_a_tenant_that_was_deleted_is_401()
    {
        var tenant = await app.CreateTenantAsync(StrataApp.UniqueId("gone"));
        using var member = app.ClientFor(await app.TokenForAsync(tenant, Roles.Member));
        using (var before = await member.GetAsync("/v1/jobs/training"))
        {
            await Http.ExpectAsync(before, 200);
        }

        await app.DeleteTenantAsync(tenant);

        using var after = await member.GetAsync("/v1/jobs/training");
        await Http.ExpectProblemAsync(after, 401, ProblemTypes.Unauthenticated);
        using var me = await member.GetAsync("/v1/me");
        await Http.ExpectProblemAsync(me, 401, ProblemTypes.Unauthenticated);
    }

    [Fact]
    public async Task A_token_for_a_tenant_that_never_existed_is_401_even_when_correctly_signed()
    {
        using var client = app.ClientFor(TestTokens.Create(app.SigningKey, "no-such-tenant"));
        using var response = await client.GetAsync("/v1/jobs/training");
        await Http.ExpectProblemAsync(response, 401, ProblemTypes.Unauthenticated);
    }

    [Fact]
    public async Task Me_shows_the_subject_role_and_tenant_of_the_token()
    {
        using var admin = app.AdminClient();
        using (var response = await admin.GetAsync("/v1/me"))
        {
            var me = await Http.ExpectAsync(response, 200);
            Assert.Equal("admin", me.GetProperty("subject").GetString());
            Assert.Equal(Roles.Admin, me.GetProperty("role").GetString());
            Assert.Equal(System.Text.Json.JsonValueKind.Null, me.GetProperty("tenant_id").ValueKind);
            Assert.True(me.GetProperty("expires_at").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddDays(300));
        }

        var tenant = await app.CreateTenantAsync(StrataApp.UniqueId("me"));
        using var viewer = app.ClientFor(await app.TokenForAsync(tenant, Roles.Viewer));
        using (var response = await viewer.GetAsync("/v1/me"))
        {
            var me = await Http.ExpectAsync(response, 200);
            Assert.Equal($"{tenant}-viewer", me.GetProperty("subject").GetString());
            Assert.Equal(Roles.Viewer, me.GetProperty("role").GetString());
            Assert.Equal(tenant, me.GetProperty("tenant_id").GetString());
        }
    }
}
