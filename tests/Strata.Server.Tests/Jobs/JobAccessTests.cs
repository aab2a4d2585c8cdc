using System.Net.Http.Json;
using Strata.Contracts;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Jobs;

/// <summary>Tenancy on the job routes: another tenant's job is indistinguishable from a missing one; roles limit writes.</summary>
public sealed class JobAccessTests(SqliteApp app) : IClassFixture<SqliteApp>
{
    private static string[] Routes(string id) =>
        [$"/v1/jobs/training/{id}", $"/v1/jobs/training/{id}/attempts", $"/v1/jobs/training/{id}/logs", $"/v1/jobs/training/{id}/logs?tail=10"];

    [Fact]
    public async Task Another_tenants_job_is_404_on_every_route()
    {
        var (_, teamA) = await app.TenantClientAsync("team-a");
        var (_, teamB) = await app.TenantClientAsync("team-b", Roles.Owner);
        using var _a = teamA;
        using var _b = teamB;
        var running = await StrataApp.SubmitAsync(teamA, new { name = "private", entrypoint = "sleep 30" });
        var id = running.GetProperty("id").GetString()!;
        await StrataApp.WaitForStatusAsync(teamA, id, "running");

        foreach (var route in Routes(id))
        {
            using var response = await teamB.GetAsync(route);
            await Http.ExpectProblemAsync(response, 404, ProblemTypes.NotFound);
            using var missing = await teamB.GetAsync(route.Replace(id, Guid.NewGuid().ToString(), StringComparison.Ordinal));
            var problem = await Http.ExpectProblemAsync(missing, 404, ProblemTypes.NotFound);
            Assert.Equal("Not found", problem.GetProperty("title").GetString());
        }
        using (var cancel = await teamB.DeleteAsync($"/v1/jobs/training/{id}"))
        {
            await Http.ExpectProblemAsync(cancel, 404, ProblemTypes.NotFound);
        }
        using (var list = await teamB.GetAsync("/v1/jobs/training"))
        {
            Assert.DoesNotContain((await Http.ExpectAsync(list, 200)).EnumerateArray(), j => j.GetProperty("id").GetString() == id);
        }
        using (var list = await teamB.GetAsync("/v1/jobs/training?status=running"))
        {
            Assert.Empty((await Http.ExpectAsync(list, 200)).EnumerateArray());
        }

        // team-b's cancel changed nothing.
        using (var get = await teamA.GetAsync($"/v1/jobs/training/{id}"))
        {
            Assert.Equal("running", (await Http.ExpectAsync(get, 200)).GetProperty("status").GetString());
        }
        using (var cancel = await teamA.DeleteAsync($"/v1/jobs/training/{id}"))
        {
            Assert.Equal(204, (int)cancel.StatusCode);
        }

        // A finished job of another tenant is 404 too, not 409.
        using (var cancel = await teamB.DeleteAsync($"/v1/jobs/training/{id}"))
        {
            await Http.ExpectProblemAsync(cancel, 404, ProblemTypes.NotFound);
        }
    }

    [Fact]
    public async Task A_body_naming_another_tenant_is_403_and_stores_nothing()
    {
        var (tenant, member) = await app.TenantClientAsync("team-a");
        using var _ = member;
        var other = await app.CreateTenantAsync(StrataApp.UniqueId("team-b"));

        using (var response = await member.PostAsJsonAsync("/v1/jobs/training", new { name = "steal", tenant_id = other, entrypoint = "true" }))
        {
            await Http.ExpectProblemAsync(response, 403, ProblemTypes.Forbidden);
        }
        using (var own = await member.PostAsJsonAsync("/v1/jobs/training", new { name = "mine", tenant_id = tenant, entrypoint = "true" }))
        {
            Assert.Equal(tenant, (await Http.ExpectAsync(own, 201)).GetProperty("spec").GetProperty("tenant_id").GetString());
        }
        using var list = await member.GetAsync("/v1/jobs/training");
        Assert.Equal(["mine"], (await Http.ExpectAsync(list, 200)).EnumerateArray().Select(j => j.GetProperty("spec").GetProperty("name").GetString()));
        using var otherOwner = app.ClientFor(await app.TokenForAsync(other, Roles.Owner));
        using var theirs = await otherOwner.GetAsync("/v1/jobs/training");
        Assert.Empty((await Http.ExpectAsync(theirs, 200)).EnumerateArray());
    }

    [Fact]
    public async Task Server_owned_fields_in_a_body_are_refused_rather_than_taken()
    {
        var (_, member) = await app.TenantClientAsync("owned");
        using var _ = member;
        foreach (var body in new[]
        {
            "{\"name\":\"a\",\"entrypoint\":\"true\",\"id\":\"chosen-id\"}",
            "{\"name\":\"a\",\"entrypoint\":\"true\",\"status\":\"succeeded\"}",
            "{\"name\":\"a\",\"entrypoint\":\"true\",\"created_at\":\"2020-01-01T00:00:00Z\"}",
        })
        {
            using var response = await member.PostRawAsync("/v1/jobs/training", body);
            Assert.Equal(400, (int)response.StatusCode);
        }
        using var list = await member.GetAsync("/v1/jobs/training");
        Assert.Empty((await Http.ExpectAsync(list, 200)).EnumerateArray());
    }

    [Fact]
    public async Task A_viewer_reads_jobs_but_cannot_submit_or_cancel()
    {
        var (tenant, member) = await app.TenantClientAsync("viewing");
        using var _ = member;
        using var viewer = app.ClientFor(await app.TokenForAsync(tenant, Roles.Viewer));
        var job = await StrataApp.SubmitAsync(member, new { name = "watched", entrypoint = "sleep 30" });
        var id = job.GetProperty("id").GetString()!;

        using (var get = await viewer.GetAsync($"/v1/jobs/training/{id}"))
        {
            Assert.Equal(id, (await Http.ExpectAsync(get, 200)).GetProperty("id").GetString());
        }
        using (var list = await viewer.GetAsync("/v1/jobs/training"))
        {
            Assert.Single((await Http.ExpectAsync(list, 200)).EnumerateArray());
        }
        using (var attempts = await viewer.GetAsync($"/v1/jobs/training/{id}/attempts"))
        {
            await Http.ExpectAsync(attempts, 200);
        }
        using (var submit = await viewer.PostAsJsonAsync("/v1/jobs/training", new { name = "nope", entrypoint = "true" }))
        {
            await Http.ExpectProblemAsync(submit, 403, ProblemTypes.Forbidden);
        }
        using (var cancel = await viewer.DeleteAsync($"/v1/jobs/training/{id}"))
        {
            await Http.ExpectProblemAsync(cancel, 403, ProblemTypes.Forbidden);
        }
        using (var get = await viewer.GetAsync($"/v1/jobs/training/{id}"))
        {
            Assert.NotEqual("cancelled", (await Http.ExpectAsync(get, 200)).GetProperty("status").GetString());
        }
        using (var cancel = await member.DeleteAsync($"/v1/jobs/training/{id}"))
        {
            Assert.Equal(204, (int)cancel.StatusCode);
        }
        using (var list = await member.GetAsync("/v1/jobs/training"))
        {
            Assert.Single((await Http.ExpectAsync(list, 200)).EnumerateArray());
        }
    }

    [Fact]
    public async Task The_admin_token_is_403_on_job_routes()
    {
        var (_, member) = await app.TenantClientAsync("adminjobs");
        using var _ = member;
        var id = (await StrataApp.SubmitAsync(member, new { name = "theirs", entrypoint = "true" })).GetProperty("id").GetString()!;
        using var admin = app.AdminClient();

        using (var submit = await admin.PostAsJsonAsync("/v1/jobs/training", new { name = "admin-job", entrypoint = "true" }))
        {
            await Http.ExpectProblemAsync(submit, 403, ProblemTypes.Forbidden);
        }
        foreach (var route in Routes(id).Append("/v1/jobs/training"))
        {
            using var response = await admin.GetAsync(route);
            await Http.ExpectProblemAsync(response, 403, ProblemTypes.Forbidden);
        }
        using (var cancel = await admin.DeleteAsync($"/v1/jobs/training/{id}"))
        {
            await Http.ExpectProblemAsync(cancel, 403, ProblemTypes.Forbidden);
        }
    }

    [Fact]
    public async Task A_jobs_own_token_cannot_submit_or_list_jobs()
    {
        var (_, member) = await app.TenantClientAsync("jobtoken");
        using var _ = member;
        // Its token works only while it runs: it waits until cancelled below.
        var job = await StrataApp.SubmitAsync(member, new { name = "token", entrypoint = "echo \"TOKEN=$STRATA_JOB_TOKEN\"; sleep 300" });
        var id = job.GetProperty("id").GetString()!;
        var token = await StrataApp.PrintedJobTokenAsync(member, id);
        Assert.Equal(3, token.Split('.').Length);

        using var jobClient = app.ClientFor(token);
        using (var me = await jobClient.GetAsync("/v1/me"))
        {
            var who = await Http.ExpectAsync(me, 200);
            Assert.Equal(Roles.Job, who.GetProperty("role").GetString());
        }
        using (var list = await jobClient.GetAsync("/v1/jobs/training"))
        {
            await Http.ExpectProblemAsync(list, 403, ProblemTypes.Forbidden);
        }
        using (var submit = await jobClient.PostAsJsonAsync("/v1/jobs/training", new { name = "escape", entrypoint = "true" }))
        {
            await Http.ExpectProblemAsync(submit, 403, ProblemTypes.Forbidden);
        }
        using (var tokens = await jobClient.PostAsJsonAsync($"/v1/tenants/{job.GetProperty("spec").GetProperty("tenant_id").GetString()}/tokens", new { role = Roles.Owner }))
        {
            await Http.ExpectProblemAsync(tokens, 403, ProblemTypes.Forbidden);
        }
        using var cancel = await member.DeleteAsync($"/v1/jobs/training/{id}");
        Assert.Equal(204, (int)cancel.StatusCode);
    }
}
