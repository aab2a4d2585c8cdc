using System.Text.Json;

namespace Strata.Cli.Tests.Integration;

public sealed class TenantCommandsTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task An_admin_creates_lists_gets_and_deletes_a_tenant()
    {
        var admin = server.Admin;

        var created = await admin.RunAsync("tenants", "create", "team-crud", "--name", "Team CRUD", "--cost-center", "cc-42");
        Assert.True(created.ExitCode == ExitCodes.Success, created.ToString());
        Assert.Contains("team-crud", created.Out);

        var again = await admin.RunAsync("tenants", "create", "team-crud");
        Assert.True(again.ExitCode == ExitCodes.ApiError, again.ToString());
        Assert.Contains("(409)", again.Error);

        var table = await admin.RunAsync("tenants", "list");
        Assert.True(table.ExitCode == ExitCodes.Success, table.ToString());
        Assert.Contains("team-crud", table.Out);
        Assert.Contains("cc-42", table.Out);

        var json = await admin.RunAsync("tenants", "list", "-o", "json");
        using (var document = JsonDocument.Parse(json.Out))
        {
            var tenant = document.RootElement.EnumerateArray().Single(t => t.GetProperty("id").GetString() == "team-crud");
            Assert.Equal("Team CRUD", tenant.GetProperty("name").GetString());
            Assert.Equal("cc-42", tenant.GetProperty("cost_center").GetString());
        }

        var get = await admin.RunAsync("tenants", "get", "team-crud");
        Assert.True(get.ExitCode == ExitCodes.Success, get.ToString());
        Assert.Contains("Team CRUD", get.Out);
        Assert.Contains("Quota", get.Out);
        Assert.Contains("over quota:", get.Out);

        var unconfirmed = await admin.RunAsync("tenants", "delete", "team-crud");
        Assert.True(unconfirmed.ExitCode == ExitCodes.UsageError, unconfirmed.ToString());
        Assert.Contains("--yes", unconfirmed.Error);

        var deleted = await admin.RunAsync("tenants", "delete", "team-crud", "--yes");
        Assert.True(deleted.ExitCode == ExitCodes.Success, deleted.ToString());

        var gone = await admin.RunAsync("tenants", "get", "team-crud");
        Assert.True(gone.ExitCode == ExitCodes.NotFound, gone.ToString());
        Assert.Equal("error: tenant \"team-crud\" not found (404)", gone.Error.TrimEnd());
    }

    [Fact]
    public async Task A_token_created_for_a_tenant_identifies_its_tenant_and_role()
    {
        var member = await server.TenantMemberAsync("team-tokens");

        var me = await member.RunAsync("me", "-o", "json");

        Assert.True(me.ExitCode == ExitCodes.Success, me.ToString());
        using var document = JsonDocument.Parse(me.Out);
        Assert.Equal("team-tokens", document.RootElement.GetProperty("tenant_id").GetString());
        Assert.Equal("member", document.RootElement.GetProperty("role").GetString());
    }

    [Fact]
    public async Task The_admin_issues_a_metrics_reader_token_of_no_tenant_that_reads_no_tenants_data()
    {
        await server.TenantMemberAsync("team-scraped");

        var issued = await server.Admin.RunAsync("tokens", "create", "--role", "metrics-reader", "--subject", "prometheus", "-o", "json");

        Assert.True(issued.ExitCode == ExitCodes.Success, issued.ToString());
        using var document = JsonDocument.Parse(issued.Out);
        Assert.Equal("metrics-reader", document.RootElement.GetProperty("role").GetString());
        Assert.False(document.RootElement.TryGetProperty("tenant_id", out var tenant) && tenant.ValueKind != JsonValueKind.Null, issued.Out);
        var reader = server.Cli(document.RootElement.GetProperty("token").GetString()!);
        foreach (var command in new[] { new[] { "me" }, ["tenants", "list"], ["tenants", "get", "team-scraped"], ["jobs", "list"] })
        {
            var refused = await reader.RunAsync(command);
            Assert.True(refused.ExitCode == ExitCodes.Unauthorized, $"{string.Join(' ', command)}: {refused}");
            Assert.Contains("(403)", refused.Error);
        }
    }

    [Fact]
    public async Task A_member_may_not_create_tenants()
    {
        var member = await server.TenantMemberAsync("team-nonadmin");

        var result = await member.RunAsync("tenants", "create", "team-sneaky");

        Assert.True(result.ExitCode == ExitCodes.Unauthorized, result.ToString());
        Assert.Contains("(403)", result.Error);
    }

    [Fact]
    public async Task An_invalid_token_is_refused_with_the_unauthorized_exit_code()
    {
        var result = await server.Cli("not-a-jwt").RunAsync("me");

        Assert.True(result.ExitCode == ExitCodes.Unauthorized, result.ToString());
        Assert.Contains("(401)", result.Error);
    }
}
