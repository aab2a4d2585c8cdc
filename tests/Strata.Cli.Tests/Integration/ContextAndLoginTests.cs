using System.Text.Json;
using Strata.Cli.Tests.Support;

namespace Strata.Cli.Tests.Integration;

/// <summary>
/// `strata login --with-token` and named contexts against the server. Both contexts reach the same test server;
/// they differ by their tokens (admin and a tenant's member), which `strata me` tells apart.
/// </summary>
public sealed class ContextAndLoginTests(ServerFixture server) : IClassFixture<ServerFixture>, IDisposable
{
    private readonly TempDirectory _home = new();

    public void Dispose() => _home.Dispose();

    private string ConfigPath => Path.Combine(_home.Path, "strata", "config.json");

    /// <summary>A CLI with no STRATA_URL or STRATA_TOKEN: only its config file says where to go.</summary>
    private CliHarness Cli() => new(server.Clients, ConfigPath, _home.Path);

    [Fact]
    public async Task Login_with_token_reads_standard_input_and_saves_it_in_a_private_config_file()
    {
        var cli = Cli();

        var login = await cli.RunWithInputAsync(server.AdminToken + "\n", "login", "http://strata.test:8080", "--with-token");

        Assert.True(login.ExitCode == ExitCodes.Success, login.ToString());
        Assert.Contains("Logged in to http://strata.test:8080/", login.Out);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(ConfigPath));
        var saved = new ConfigStore(ConfigPath).Load();
        Assert.Equal(ConfigStore.DefaultContext, saved.CurrentContext);
        Assert.Equal(server.AdminToken, saved.Find(ConfigStore.DefaultContext)?.Token);
        var me = await cli.RunAsync("me", "-o", "json");
        Assert.True(me.ExitCode == ExitCodes.Success, me.ToString());
        using var document = JsonDocument.Parse(me.Out);
        Assert.Equal("admin", document.RootElement.GetProperty("role").GetString());
    }

    [Theory]
    [InlineData("", "standard input is empty")]
    [InlineData("  \n\n", "standard input is empty")]
    [InlineData("one two", "more than one word")]
    public async Task Login_with_token_refuses_an_empty_or_odd_input_and_saves_nothing(string input, string message)
    {
        var result = await Cli().RunWithInputAsync(input, "login", "http://strata.test", "--with-token");

        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        Assert.Contains(message, result.Error);
        Assert.False(File.Exists(ConfigPath));
    }

    [Fact]
    public async Task A_token_given_both_ways_is_refused()
    {
        var result = await Cli().RunWithInputAsync(server.AdminToken, "login", "http://strata.test", "--with-token", "--token", server.AdminToken);

        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        Assert.Contains("not both", result.Error);
        Assert.False(File.Exists(ConfigPath));
    }

    [Fact]
    public async Task Contexts_hold_a_server_and_token_each_and_choose_which_one_a_command_uses()
    {
        var member = (await server.Admin.RunAsync("tenants", "create", "team-contexts")).ExitCode;
        Assert.Equal(ExitCodes.Success, member);
        var memberToken = (await server.Admin.RunAsync("tokens", "create", "team-contexts", "--role", "member")).Out.Trim();
        var cli = Cli();

        // The admin logs in first: that context becomes the current one.
        Assert.Equal(ExitCodes.Success, (await cli.RunWithInputAsync(server.AdminToken, "login", "http://admin.test", "--with-token", "--context", "ops")).ExitCode);
        var created = await cli.RunAsync("config", "set-context", "team", "--server", "http://team.test");
        Assert.True(created.ExitCode == ExitCodes.Success, created.ToString());
        // login takes the named context's server when no URL is given.
        var teamLogin = await cli.RunWithInputAsync(memberToken, "login", "--with-token", "--context", "team");
        Assert.True(teamLogin.ExitCode == ExitCodes.Success, teamLogin.ToString());
        Assert.Contains("config use-context team", teamLogin.Out);

        var contexts = await cli.RunAsync("config", "get-contexts", "-o", "json");
        Assert.True(contexts.ExitCode == ExitCodes.Success, contexts.ToString());
        Assert.DoesNotContain(memberToken, contexts.Out);
        using (var listed = JsonDocument.Parse(contexts.Out))
        {
            Assert.Equal(["ops", "team"], listed.RootElement.EnumerateArray().Select(c => c.GetProperty("name").GetString()));
            Assert.True(listed.RootElement[0].GetProperty("current").GetBoolean());
            Assert.Equal("http://team.test/", listed.RootElement[1].GetProperty("server").GetString());
        }
        Assert.Equal("ops\nteam", (await cli.RunAsync("config", "get-contexts", "-o", "name")).Out.Trim());
        // Completion offers the contexts by name.
        const string line = "strata config use-context ";
        var suggested = await cli.RunAsync($"[suggest:{line.Length}]", line);
        Assert.Equal(["ops", "team"], suggested.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(s => !s.StartsWith('-') && !s.StartsWith('/')));

        Assert.Contains("admin", await Role(cli));
        Assert.Equal("member", await Role(cli, "--context", "team"));
        var used = await cli.RunAsync("config", "use-context", "team");
        Assert.True(used.ExitCode == ExitCodes.Success, used.ToString());
        Assert.Equal("team", (await cli.RunAsync("config", "current-context")).Out.Trim());
        Assert.Equal("member", await Role(cli));

        var unknown = await cli.RunAsync("config", "use-context", "nope");
        Assert.Equal(ExitCodes.UsageError, unknown.ExitCode);
        Assert.Contains("the contexts are ops, team", unknown.Error);
        var unknownFlag = await cli.RunAsync("me", "--context", "nope");
        Assert.Equal(ExitCodes.UsageError, unknownFlag.ExitCode);

        // Logging out forgets one context; the other stays.
        Assert.Equal(ExitCodes.Success, (await cli.RunAsync("logout")).ExitCode);
        Assert.Equal("ops", (await cli.RunAsync("config", "get-contexts", "-o", "name")).Out.Trim());
    }

    private static async Task<string?> Role(CliHarness cli, params string[] more)
    {
        var me = await cli.RunAsync(["me", "-o", "json", .. more]);
        Assert.True(me.ExitCode == ExitCodes.Success, me.ToString());
        using var document = JsonDocument.Parse(me.Out);
        return document.RootElement.GetProperty("role").GetString();
    }
}
