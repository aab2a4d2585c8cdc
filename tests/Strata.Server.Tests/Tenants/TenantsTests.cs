using System.Net.Http.Json;
using System.Text.Json;
using Strata.Contracts;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Tenants;

public sealed class TenantsTests(SqliteApp app) : IClassFixture<SqliteApp>
{
    [Fact]
    public async Task The_admin_creates_lists_gets_and_deletes_a_tenant()
    {
        var id = StrataApp.UniqueId("crud");
        using var admin = app.AdminClient();

        using (var created = await admin.PostAsJsonAsync("/v1/tenants", new { id, name = "Team CRUD", cost_center = "cc-42" }))
        {
            var tenant = await Http.ExpectAsync(created, 201);
            Assert.Equal($"/v1/tenants/{id}", created.Headers.Location?.OriginalString);
            Assert.Equal(id, tenant.GetProperty("id").GetString());
            Assert.Equal("Team CRUD", tenant.GetProperty("name").GetString());
            Assert.Equal("cc-42", tenant.GetProperty("cost_center").GetString());
            Assert.True(tenant.GetProperty("created_at").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-5));
        }
        using (var list = await admin.GetAsync("/v1/tenants"))
        {
            var tenants = await Http.ExpectAsync(list, 200);
            Assert.Equal(JsonValueKind.Array, tenants.ValueKind);
            Assert.Single(tenants.EnumerateArray(), t => t.GetProperty("id").GetString() == id);
        }
        using (var get = await admin.GetAsync($"/v1/tenants/{id}"))
        {
            Assert.Equal(id, (await Http.ExpectAsync(get, 200)).GetProperty("id").GetString());
        }
        var deleting = await app.DeleteTenantAsync(id);
        Assert.Equal(id, deleting.GetProperty("id").GetString());
        using (var get = await admin.GetAsync($"/v1/tenants/{id}"))
        {
            await Http.ExpectProblemAsync(get, 404, ProblemTypes.NotFound);
        }
        using (var again = await admin.DeleteAsync($"/v1/tenants/{id}"))
        {
            await Http.ExpectProblemAsync(again, 404, ProblemTypes.NotFound);
        }
        using (var list = await admin.GetAsync("/v1/tenants"))
        {
            Assert.DoesNotContain((await Http.ExpectAsync(list, 200)).EnumerateArray(), t => t.GetProperty("id").GetString() == id);
        }
    }

    [Fact]
    public async Task Deleting_a_tenant_stops_its_running_jobs_and_forgets_them()
    {
        var tenant = await app.CreateTenantAsync(StrataApp.UniqueId("doomed"));
        using (var member = app.ClientFor(await app.TokenForAsync(tenant, Roles.Member)))
        {
            var id = (await StrataApp.SubmitAsync(member, new { name = "long", entrypoint = "sleep 300" })).GetProperty("id").GetString()!;
            var running = await StrataApp.WaitForAsync(member, id, j => j.GetProperty("runtime").ValueKind == JsonValueKind.Object
                && j.GetProperty("runtime").GetProperty("name").ValueKind == JsonValueKind.String);
            var folder = Path.Combine(app.DataPath, "attempts", tenant, running.GetProperty("runtime").GetProperty("name").GetString()!);
            Assert.True(Directory.Exists(folder), $"No attempt folder at {folder}.");

            // The deletion cancels the job, waits for its attempt to stop, then removes the tenant.
            await app.DeleteTenantAsync(tenant);
            var deadline = DateTimeOffset.UtcNow.AddSeconds(30);
            while (Directory.Exists(folder) && DateTimeOffset.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
            Assert.False(Directory.Exists(folder), "The deleted tenant's attempt is still there after 30 s.");
        }

        // A new tenant with the same id starts empty.
        await app.CreateTenantAsync(tenant);
        using var newcomer = app.ClientFor(await app.TokenForAsync(tenant, Roles.Member));
        using var list = await newcomer.GetAsync("/v1/jobs/training");
        Assert.Empty((await Http.ExpectAsync(list, 200)).EnumerateArray());
    }

    [Fact]
    public async Task Creating_a_tenant_twice_is_409()
    {
        var id = await app.CreateTenantAsync(StrataApp.UniqueId("dup"));
        using var admin = app.AdminClient();
        using var response = await admin.PostAsJsonAsync("/v1/tenants", new { id });
        await Http.ExpectProblemAsync(response, 409, ProblemTypes.Conflict);
    }

    [Theory]
    [InlineData("{\"id\":\"Team-A\"}")]
    [InlineData("{\"id\":\"team_a\"}")]
    [InlineData("{\"id\":\"-team\"}")]
    [InlineData("{\"id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}")]
    [InlineData("{\"id\":\"\"}")]
    [InlineData("{}")]
    public async Task An_invalid_tenant_id_is_400_naming_the_field(string body)
    {
        using var admin = app.AdminClient();
        using var response = await admin.PostRawAsync("/v1/tenants", body);
        await Http.ExpectValidationAsync(response, "id");
    }

    [Fact]
    public async Task A_tenant_id_of_exactly_40_characters_is_accepted()
    {
        using var admin = app.AdminClient();
        var id = StrataApp.UniqueId("forty").PadRight(40, 'x');
        using var response = await admin.PostAsJsonAsync("/v1/tenants", new { id });
        await Http.ExpectAsync(response, 201);
    }

    [Theory]
    [InlineData(Roles.Owner)]
    [InlineData(Roles.Member)]
    [InlineData(Roles.Viewer)]
    public async Task Tenant_tokens_cannot_create_list_or_delete_tenants(string role)
    {
        var tenant = await app.CreateTenantAsync(StrataApp.UniqueId("nonadmin"));
        using var client = app.ClientFor(await app.TokenForAsync(tenant, role));

        using (var create = await client.PostAsJsonAsync("/v1/tenants", new { id = StrataApp.UniqueId("sneaky") }))
        {
            await Http.ExpectProblemAsync(create, 403, ProblemTypes.Forbidden);
        }
        using (var list = await client.GetAsync("/v1/tenants"))
        {
            await Http.ExpectProblemAsync(list, 403, ProblemTypes.Forbidden);
        }
        using (var delete = await client.DeleteAsync($"/v1/tenants/{tenant}"))
        {
            await Http.ExpectProblemAsync(delete, 403, ProblemTypes.Forbidden);
        }
        using var admin = app.AdminClient();
        using var still = await admin.GetAsync($"/v1/tenants/{tenant}");
        await Http.ExpectAsync(still, 200);
    }

    [Fact]
    public async Task A_member_sees_its_own_tenant_and_another_tenant_is_404()
    {
        var mine = await app.CreateTenantAsync(StrataApp.UniqueId("mine"));
        var theirs = await app.CreateTenantAsync(StrataApp.UniqueId("theirs"));
        using var member = app.ClientFor(await app.TokenForAsync(mine, Roles.Member));

        using (var own = await member.GetAsync($"/v1/tenants/{mine}"))
        {
            Assert.Equal(mine, (await Http.ExpectAsync(own, 200)).GetProperty("id").GetString());
        }
        using (var other = await member.GetAsync($"/v1/tenants/{theirs}"))
        {
            await Http.ExpectProblemAsync(other, 404, ProblemTypes.NotFound);
        }
        using (var missing = await member.GetAsync("/v1/tenants/does-not-exist"))
        {
            await Http.ExpectProblemAsync(missing, 404, ProblemTypes.NotFound);
        }
    }

    [Theory]
    [InlineData(Roles.Owner)]
    [InlineData(Roles.Member)]
    [InlineData(Roles.Viewer)]
    public async Task The_admin_issues_tokens_of_every_tenant_role_and_they_work(string role)
    {
        var tenant = await app.CreateTenantAsync(StrataApp.UniqueId("issue"));
        using var admin = app.AdminClient();
        using var response = await admin.PostAsJsonAsync($"/v1/tenants/{tenant}/tokens", new { role, expires_in_days = 7 });
        var issued = await Http.ExpectAsync(response, 201);

        Assert.Equal(role, issued.GetProperty("role").GetString());
        Assert.Equal(tenant, issued.GetProperty("tenant_id").GetString());
        var expires = issued.GetProperty("expires_at").GetDateTimeOffset();
        Assert.InRange(expires, DateTimeOffset.UtcNow.AddDays(7).AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(7).AddMinutes(5));

        using var client = app.ClientFor(issued.GetProperty("token").GetString()!);
        using var me = await client.GetAsync("/v1/me");
        var who = await Http.ExpectAsync(me, 200);
        Assert.Equal(role, who.GetProperty("role").GetString());
        Assert.Equal(tenant, who.GetProperty("tenant_id").GetString());
        using var jobs = await client.GetAsync("/v1/jobs/training");
        await Http.ExpectAsync(jobs, 200);
    }

    [Fact]
    public async Task An_owner_issues_tokens_for_its_own_tenant_only()
    {
        var mine = await app.CreateTenantAsync(StrataApp.UniqueId("owner"));
        var theirs = await app.CreateTenantAsync(StrataApp.UniqueId("other"));
        using var owner = app.ClientFor(await app.TokenForAsync(mine, Roles.Owner));

        using (var response = await owner.PostAsJsonAsync($"/v1/tenants/{mine}/tokens", new { role = Roles.Viewer, subject = "ci-bot" }))
        {
            var issued = await Http.ExpectAsync(response, 201);
            Assert.Equal(Roles.Viewer, issued.GetProperty("role").GetString());
            using var bot = app.ClientFor(issued.GetProperty("token").GetString()!);
            using var me = await bot.GetAsync("/v1/me");
            Assert.Equal("ci-bot", (await Http.ExpectAsync(me, 200)).GetProperty("subject").GetString());
        }
        using (var response = await owner.PostAsJsonAsync($"/v1/tenants/{mine}/tokens", new { }))
        {
            Assert.Equal(Roles.Member, (await Http.ExpectAsync(response, 201)).GetProperty("role").GetString());
        }
        using (var response = await owner.PostAsJsonAsync($"/v1/tenants/{theirs}/tokens", new { role = Roles.Owner }))
        {
            await Http.ExpectProblemAsync(response, 404, ProblemTypes.NotFound);
        }
    }

    [Theory]
    [InlineData(Roles.Member)]
    [InlineData(Roles.Viewer)]
    public async Task Members_and_viewers_cannot_issue_tokens(string role)
    {
        var tenant = await app.CreateTenantAsync(StrataApp.UniqueId("noissue"));
        using var client = app.ClientFor(await app.TokenForAsync(tenant, role));
        using var response = await client.PostAsJsonAsync($"/v1/tenants/{tenant}/tokens", new { role = Roles.Owner });
        await Http.ExpectProblemAsync(response, 403, ProblemTypes.Forbidden);
    }

    [Theory]
    [InlineData("{\"role\":\"admin\"}", "role")]
    [InlineData("{\"role\":\"job\"}", "role")]
    [InlineData("{\"role\":\"superuser\"}", "role")]
    [InlineData("{\"expires_in_days\":0}", "expires_in_days")]
    [InlineData("{\"expires_in_days\":366}", "expires_in_days")]
    [InlineData("{\"expires_in_days\":-1}", "expires_in_days")]
    [InlineData("{\"role\":\"admin\",\"expires_in_days\":0}", "role", "expires_in_days")]
    public async Task An_invalid_token_request_is_400_naming_the_fields(string body, params string[] fields)
    {
        var tenant = await app.CreateTenantAsync(StrataApp.UniqueId("badtoken"));
        using var admin = app.AdminClient();
        using var response = await admin.PostRawAsync($"/v1/tenants/{tenant}/tokens", body);
        await Http.ExpectValidationAsync(response, fields);
    }

    [Fact]
    public async Task A_token_for_a_missing_tenant_is_404()
    {
        using var admin = app.AdminClient();
        using var response = await admin.PostAsJsonAsync("/v1/tenants/no-such-tenant/tokens", new { role = Roles.Member });
        await Http.ExpectProblemAsync(response, 404, ProblemTypes.NotFound);
    }
}
