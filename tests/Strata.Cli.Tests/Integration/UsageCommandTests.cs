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
    public async Task Usage_shows_a_deployments_replica_time_beside_jobs_and_another_tenant_does_not_see_it()
    {
        var cli = await server.TenantMemberAsync("team-usage-serving");
        var other = await server.TenantMemberAsync("team-usage-bystander");
        var from = DateTimeOffset.UtcNow.AddHours(-1).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        var train = await cli.RunAsync("train", "--model", "lightgbm", "--data", Path.Combine(RepositoryRoot(), "examples", "churn", "churn.csv"),
            "--label", "churned", "--hp", "num_iterations=20", "--wait");
        Assert.True(train.ExitCode == ExitCodes.Success, train.ToString());
        var deploy = await cli.RunAsync("deploy", "scorer", "--model", "churn@1", "--min", "1", "--max", "1", "--wait");
        Assert.True(deploy.ExitCode == ExitCodes.Success, deploy.ToString());
        // Deleting the deployment stores its replica's last interval before it answers.
        var delete = await cli.RunAsync("deployments", "delete", "scorer");
        Assert.True(delete.ExitCode == ExitCodes.Success, delete.ToString());

        var json = await cli.RunAsync("usage", "--from", from, "-o", "json");
        Assert.True(json.ExitCode == ExitCodes.Success, json.ToString());
        using (var report = JsonDocument.Parse(json.Out))
        {
            var tenant = Assert.Single(report.RootElement.GetProperty("tenants").EnumerateArray());
            var serving = tenant.GetProperty("serving");
            Assert.True(serving.GetProperty("replica_seconds").GetDouble() > 0, json.Out);
            Assert.True(serving.GetProperty("reserved").GetProperty("core_seconds").GetDouble() > 0, json.Out);
            Assert.Equal(1, tenant.GetProperty("attempts").GetInt32());
            Assert.Equal("scorer", Assert.Single(report.RootElement.GetProperty("deployments").EnumerateArray()).GetProperty("name").GetString());
        }

        var table = await cli.RunAsync("usage", "--from", from);
        Assert.True(table.ExitCode == ExitCodes.Success, table.ToString());
        Assert.Contains("serving", table.Out, StringComparison.Ordinal);
        Assert.Contains("replica-h", table.Out, StringComparison.Ordinal);
        Assert.Contains("DEPLOYMENT", table.Out, StringComparison.Ordinal);
        Assert.Contains("scorer", table.Out, StringComparison.Ordinal);

        var bystander = await other.RunAsync("usage", "--from", from);
        Assert.True(bystander.ExitCode == ExitCodes.Success, bystander.ToString());
        Assert.DoesNotContain("scorer", bystander.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("DEPLOYMENT", bystander.Out, StringComparison.Ordinal);
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

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Strata.slnx"))) directory = directory.Parent;
        return directory!.FullName;
    }
}
