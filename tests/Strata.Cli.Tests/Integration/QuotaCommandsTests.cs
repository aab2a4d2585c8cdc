using System.Text.Json;

namespace Strata.Cli.Tests.Integration;

public sealed class QuotaCommandsTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task An_admin_sets_a_quota_the_tenant_sees_it_and_a_submission_over_it_is_explained()
    {
        var member = await server.TenantMemberAsync("team-quota");

        var set = await server.Admin.RunAsync("quota", "set", "team-quota", "--cpu", "2", "--max-pending-jobs", "0", "--weight", "2");
        Assert.True(set.ExitCode == ExitCodes.Success, set.ToString());
        Assert.Contains("2 cores", set.Out);

        var denied = await member.RunAsync("quota", "set", "team-quota", "--cpu", "100");
        Assert.True(denied.ExitCode != ExitCodes.Success, denied.ToString());

        var invalid = await server.Admin.RunAsync("quota", "set", "team-quota", "--cpu", "-1");
        Assert.True(invalid.ExitCode != ExitCodes.Success, invalid.ToString());
        Assert.Contains("cpu_cores", invalid.Error);

        var table = await member.RunAsync("quota");
        Assert.True(table.ExitCode == ExitCodes.Success, table.ToString());
        Assert.Contains("cpu_cores", table.Out);
        Assert.Contains("max_pending_jobs", table.Out);
        Assert.Contains("reject", table.Out);

        var json = await member.RunAsync("quota", "-o", "json");
        using (var document = JsonDocument.Parse(json.Out))
        {
            var cpu = document.RootElement.GetProperty("resources").GetProperty("cpu_cores");
            Assert.Equal(2, cpu.GetProperty("limit").GetDouble());
            Assert.Equal(2, document.RootElement.GetProperty("fair_share_weight").GetDouble());
        }

        // No room for a single pending job: every submission is refused, and the error says which limit.
        var over = await member.RunAsync("jobs", "submit", "--name", "refused", "--entrypoint", "true", "--cpu", "1", "--memory", "1");
        Assert.True(over.ExitCode != ExitCodes.Success, over.ToString());
        Assert.Contains("max_pending_jobs", over.Error);
    }

    [Fact]
    public async Task A_submission_over_the_quota_queues_when_asked_and_says_what_holds_the_quota()
    {
        var member = await server.TenantMemberAsync("team-queue");
        var set = await server.Admin.RunAsync("quota", "set", "team-queue", "--cpu", "2");
        Assert.True(set.ExitCode == ExitCodes.Success, set.ToString());
        var holder = await member.RunAsync("jobs", "submit", "--name", "holder", "--entrypoint", "sleep 300", "--cpu", "2", "--memory", "1", "-o", "name");
        Assert.True(holder.ExitCode == ExitCodes.Success, holder.ToString());

        var refused = await member.RunAsync("jobs", "submit", "--name", "refused", "--entrypoint", "true", "--cpu", "1", "--memory", "1", "--on-quota-exceeded", "reject");
        Assert.True(refused.ExitCode != ExitCodes.Success, refused.ToString());
        Assert.Contains("2 in use (2 by 1 job)", refused.Error, StringComparison.Ordinal);

        var queued = await member.RunAsync("jobs", "submit", "--name", "queued", "--entrypoint", "true", "--cpu", "1", "--memory", "1", "--on-quota-exceeded", "queue", "-o", "name");
        Assert.True(queued.ExitCode == ExitCodes.Success, queued.ToString());
        var get = await member.RunAsync("jobs", "get", queued.Out.Trim());
        Assert.Contains("waiting_for_quota", get.Out, StringComparison.Ordinal);
        Assert.Contains("waiting for quota: cpu_cores: the quota is 2, 2 in use (2 by 1 job)", string.Join(' ', get.Out.Split('\n').Select(l => l.Trim())), StringComparison.Ordinal);

        var table = await member.RunAsync("quota");
        Assert.Contains("BY DEPLOYMENTS", table.Out, StringComparison.Ordinal);
        var bad = await member.RunAsync("train", "--model", "lightgbm", "--data", "x.csv", "--label", "y", "--on-quota-exceeded", "later");
        Assert.Equal(ExitCodes.UsageError, bad.ExitCode);

        foreach (var id in new[] { holder.Out.Trim(), queued.Out.Trim() }) await member.RunAsync("jobs", "cancel", id);
    }
}
