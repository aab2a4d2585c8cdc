using System.Net;
using System.Runtime.Versioning;
using Strata.Cli.Tests.Support;

namespace Strata.Cli.Tests.Unit;

public sealed class ConfigTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static CliConfig OneServer(string url, string token) =>
        new CliConfig { CurrentContext = ConfigStore.DefaultContext }.With(ConfigStore.DefaultContext, new ServerContext { Server = url, Token = token });

    private static ServerContext? Current(CliConfig config) => config.Find(config.CurrentContext);

    private static Func<string, string?> Env(Dictionary<string, string?> values) => name => values.GetValueOrDefault(name);

    [SkippableFact]
    [UnsupportedOSPlatform("windows")]
    public void The_config_file_is_written_readable_by_its_owner_only()
    {
        Skip.If(OperatingSystem.IsWindows(), "Unix file modes only");
        var store = new ConfigStore(Path.Combine(_dir.Path, "nested", "strata", "config.json"));

        store.Save(OneServer("http://localhost:8080/", "secret"));

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(store.Path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute,
            File.GetUnixFileMode(Path.GetDirectoryName(store.Path)!));
        Assert.Equal(new ServerContext { Server = "http://localhost:8080/", Token = "secret" }, Current(store.Load()));
    }

    [SkippableFact]
    [UnsupportedOSPlatform("windows")]
    public void Saving_over_a_world_readable_file_makes_it_private()
    {
        Skip.If(OperatingSystem.IsWindows(), "Unix file modes only");
        var path = _dir.File("config.json", "{}");
        File.SetUnixFileMode(path, (UnixFileMode)0b110_100_100);

        new ConfigStore(path).Save(OneServer("http://localhost:8080/", "secret"));

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
    }

    [Fact]
    public void A_missing_config_file_is_an_empty_config()
    {
        var config = new ConfigStore(Path.Combine(_dir.Path, "none.json")).Load();
        Assert.Null(config.CurrentContext);
        Assert.Empty(config.Contexts);
    }

    [Fact]
    public void A_corrupt_config_file_is_a_usage_error_naming_it()
    {
        var path = _dir.File("config.json", "{ nope");

        var e = Assert.Throws<UsageException>(() => new ConfigStore(path).Load());
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void STRATA_CONFIG_chooses_the_config_path()
    {
        var path = ConfigStore.ResolvePath(Env(new() { ["STRATA_CONFIG"] = "/tmp/x/c.json", ["XDG_CONFIG_HOME"] = "/xdg", ["HOME"] = "/home/u" }));

        Assert.Equal("/tmp/x/c.json", path);
    }

    [Fact]
    public void XDG_CONFIG_HOME_comes_before_the_home_folder()
    {
        Assert.Equal("/xdg/strata/config.json", ConfigStore.ResolvePath(Env(new() { ["XDG_CONFIG_HOME"] = "/xdg", ["HOME"] = "/home/u" })));
        Assert.Equal("/home/u/.config/strata/config.json", ConfigStore.ResolvePath(Env(new() { ["HOME"] = "/home/u" })));
    }

    [Theory]
    [InlineData("http://flag", "tflag", "http://env", "tenv", "http://flag/", "tflag")]
    [InlineData(null, null, "http://env", "tenv", "http://env/", "tenv")]
    [InlineData(null, null, null, null, "http://file/", "tfile")]
    [InlineData(null, "tflag", null, null, "http://file/", "tflag")]
    [InlineData("http://flag", null, null, "tenv", "http://flag/", "tenv")]
    public void Flags_override_environment_variables_which_override_the_config_file(
        string? urlFlag, string? tokenFlag, string? urlEnv, string? tokenEnv, string url, string token)
    {
        var connection = ConnectionResolver.Resolve(urlFlag, tokenFlag,
            Env(new() { ["STRATA_URL"] = urlEnv, ["STRATA_TOKEN"] = tokenEnv }),
            OneServer("http://file", "tfile"));

        Assert.Equal(new Uri(url), connection.Url);
        Assert.Equal(token, connection.Token);
    }

    [Theory]
    [InlineData("localhost:8080")]
    [InlineData("ftp://server")]
    [InlineData("not a url")]
    public void A_URL_that_is_not_http_is_a_usage_error(string url) =>
        Assert.Throws<UsageException>(() => ConnectionResolver.ParseUrl(url));

    [Fact]
    public async Task Login_checks_the_token_then_saves_url_and_token()
    {
        var server = new StubHandler(request => request.Headers.Authorization?.Parameter == "good"
            ? StubHandler.Json(HttpStatusCode.OK, """{"subject":"admin","tenant_id":null,"role":"admin","expires_at":null}""")
            : StubHandler.Problem(HttpStatusCode.Unauthorized, """{"type":"urn:strata:problem:unauthenticated","title":"Unauthorized","status":401,"detail":"The token is invalid."}"""));
        var configPath = Path.Combine(_dir.Path, "cfg", "config.json");
        var cli = new CliHarness(new HandlerFactory(server), configPath, _dir.Path);

        var bad = await cli.RunAsync("login", "http://strata.test:8080", "--token", "bad");
        Assert.Equal(ExitCodes.Unauthorized, bad.ExitCode);
        Assert.False(File.Exists(configPath));

        var good = await cli.RunAsync("login", "http://strata.test:8080", "--token", "good");
        Assert.True(good.ExitCode == ExitCodes.Success, good.ToString());
        Assert.Contains("admin", good.Out);
        Assert.Equal("/v1/me", server.Requests[^1].RequestUri!.AbsolutePath);
        Assert.Equal(new ServerContext { Server = "http://strata.test:8080/", Token = "good" }, Current(new ConfigStore(configPath).Load()));

        var me = await cli.RunAsync("me");
        Assert.True(me.ExitCode == ExitCodes.Success, me.ToString());
        Assert.Equal("good", server.Requests[^1].Headers.Authorization?.Parameter);
        Assert.Equal("strata.test", server.Requests[^1].RequestUri!.Host);

        var logout = await cli.RunAsync("logout");
        Assert.Equal(ExitCodes.Success, logout.ExitCode);
        Assert.False(File.Exists(configPath));
    }

    [Fact]
    public async Task STRATA_TOKEN_overrides_the_saved_token()
    {
        var server = new StubHandler(_ => StubHandler.Json(HttpStatusCode.OK, """{"subject":"s","tenant_id":"t","role":"member","expires_at":null}"""));
        var configPath = _dir.File("config.json");
        new ConfigStore(configPath).Save(OneServer("http://saved.test", "saved"));
        var cli = new CliHarness(new HandlerFactory(server), configPath, _dir.Path, new() { ["STRATA_TOKEN"] = "from-env" });

        var result = await cli.RunAsync("me");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Equal("from-env", server.Requests.Single().Headers.Authorization?.Parameter);
        Assert.Equal("saved.test", server.Requests.Single().RequestUri!.Host);
    }
}

/// <summary>A config file of the single-server format before contexts.</summary>
public sealed class OldConfigFileTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void An_old_single_server_file_is_read_as_the_default_context_and_rewritten_in_the_new_format_at_the_next_change()
    {
        var path = _dir.File("config.json", """{"url": "http://old.test:8080/", "token": "old-token"}""");
        var store = new ConfigStore(path);

        var config = store.Load();
        Assert.Equal(ConfigStore.DefaultContext, config.CurrentContext);
        Assert.Equal(new ServerContext { Server = "http://old.test:8080/", Token = "old-token" }, config.Find(ConfigStore.DefaultContext));
        var connection = ConnectionResolver.Resolve(null, null, _ => null, config);
        Assert.Equal(new Uri("http://old.test:8080/"), connection.Url);
        Assert.Equal("old-token", connection.Token);

        store.Save(config.With("prod", new ServerContext { Server = "https://prod.test/" }));
        var text = File.ReadAllText(path);
        Assert.Contains("\"current_context\": \"default\"", text);
        Assert.DoesNotContain("\"url\"", text);
        Assert.Equal("old-token", store.Load().Find(ConfigStore.DefaultContext)?.Token);
    }
}
