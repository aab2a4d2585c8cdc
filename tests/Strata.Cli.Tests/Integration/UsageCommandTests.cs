using System.Text.Json;
using Strata.Cli.Tests.Support;

namespace Strata.Cli.Tests.Integration;

/// <summary><c>strata usage</c> against the real server, after a job really ran.</summary>
public sealed class UsageCommandTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Usage_shows_the_tenants_ended_attempts_as_a_table_and_as_json()
    {
        var cli = await server.TenantMemberAsync("team-usage");
        var submitted = await cli.RunAsync("jobs", "submit", "--name", "counted", "--entrypoint", "true", "-o", "json");
        Assert.True(submitted.ExitCode == ExitCodes.Success, submitted.ToString());
        using (var job = JsonDocument.Parse(submitted.Out))
        {
            var wait = await cli.RunAsync("jobs", "wait", job.RootElement.GetProperty("id").GetString()!, "--timeout", "60s");
            Assert.True(wait.ExitCode == ExitCodes.Success, wait.ToString());
        }
        var from = DateTimeOffset.UtcNow.AddHours(-1).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

        var json = await cli.RunAsync("usage", "--from", from, "-o", "json");
        Assert.True(json.ExitCode == ExitCodes.Success, json.ToString());
        using (var report = JsonDocument.Parse(json.Out))
        {
            var tenant = Assert.Single(report.RootElement.GetProperty("tenants").EnumerateArray());
            Assert.Equal("team-usage", tenant.GetProperty("tenant_id").GetString());
            Assert.Equal(1, tenant.GetProperty("attempts").GetInt32());
            Assert.True(tenant.GetProperty("reserved").GetProperty("core_seconds").GetDouble() > 0, json.Out);
            Assert.Equal("counted", Assert.Single(report.RootElement.GetProperty("jobs").EnumerateArray()).GetProperty("name").GetString());
        }

        var table = await cli.RunAsync("usage", "--from", from);
        Assert.True(table.ExitCode == ExitCodes.Success, table.ToString());
        Assert.Contains("team-usage", table.Out, StringComparison.Ordinal);
        Assert.Contains("counted", table.Out, StringComparison.Ordinal);
        Assert.Contains("USD", table.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_date_is_a_usage_error_and_a_window_the_server_refuses_is_an_api_error()
    {
        var cli = await server.TenantMemberAsync("team-usage-bad");

        var bad = await cli.RunAsync("usage", "--from", "yesterday");
        Assert.Equal(ExitCodes.UsageError, bad.ExitCode);
        Assert.Contains("--from", bad.Error, StringComparison.Ordinal);

        var backwards = await cli.RunAsync("usage", "--from", "2026-02-01", "--to", "2026-01-01");
        Assert.Equal(ExitCodes.ApiError, backwards.ExitCode);
        Assert.Contains("from", backwards.Error, StringComparison.Ordinal);
    }
}
