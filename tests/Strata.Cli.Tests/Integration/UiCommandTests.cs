using System.Net;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Strata.Cli.Tests.Integration;

public sealed class UiCommandTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Strata_ui_prints_a_link_that_signs_a_browser_in_once()
    {
        var cli = await server.TenantMemberAsync("team-ui");

        var ui = await cli.RunAsync("ui");

        Assert.True(ui.ExitCode == ExitCodes.Success, ui.ToString());
        var link = new Uri(ui.Out.Split('\n')[0].Trim());
        Assert.Equal("/ui/signin", link.AbsolutePath);
        Assert.StartsWith("?code=", link.Query, StringComparison.Ordinal);
        using var browser = server.Factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        using var first = await browser.GetAsync(link.PathAndQuery);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Contains(first.Headers.GetValues("Set-Cookie"), c => c.StartsWith("strata_ui=", StringComparison.Ordinal));
        using var again = await browser.GetAsync(link.PathAndQuery);
        Assert.Equal(HttpStatusCode.Unauthorized, again.StatusCode);
    }
}
