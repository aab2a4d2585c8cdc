using Strata.Server.Tests.Dashboards;

namespace Strata.Server.Tests.Deploy;

/// <summary>What deploy/docker-compose.yml starts is also used: the Redis beside the server is the prediction cache's.</summary>
public sealed class ComposeTests
{
    [Fact]
    public void The_server_is_told_to_use_the_redis_that_compose_starts()
    {
        var lines = File.ReadAllLines(DashboardFiles.Compose);
        Assert.Contains("  redis:", lines);
        var setting = Assert.Single(lines, l => l.TrimStart().StartsWith("Serving__Cache__Redis:", StringComparison.Ordinal));
        Assert.Equal("redis:6379", setting.Split(':', 2)[1].Trim());
        Assert.DoesNotContain(lines, l => l.Contains("does not use it", StringComparison.Ordinal));
    }
}
