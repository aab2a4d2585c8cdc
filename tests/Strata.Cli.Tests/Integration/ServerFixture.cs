using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Strata.Cli.Tests.Support;
using Strata.Client;

namespace Strata.Cli.Tests.Integration;

/// <summary>The real server in process, with its own data folder, shared by the tests of one class.</summary>
public sealed class ServerFixture : IDisposable
{
    private readonly TempDirectory _data = new();
    private readonly TempDirectory _home = new();

    public ServerFixture()
    {
        Factory = new WebApplicationFactory<global::Program>()
            .WithWebHostBuilder(b => b
                .UseSetting("Strata:DataPath", _data.Path)
                // There is no PyPI here: a job's environment installs from no index, so pip fails at once.
                .UseSetting("Runtime:Local:PipIndexUrl", "none"));
        _ = Factory.Server;
        AdminToken = File.ReadAllText(Path.Combine(_data.Path, "admin-token")).Trim();
        Clients = new TestServerClientFactory(Factory);
    }

    public WebApplicationFactory<global::Program> Factory { get; }
    public string AdminToken { get; }
    public IStrataClientFactory Clients { get; }
    public string DataPath => _data.Path;

    /// <summary>A CLI whose STRATA_URL/STRATA_TOKEN point at this server with <paramref name="token"/>.</summary>
    public CliHarness Cli(string token) =>
        new(Clients, Path.Combine(_home.Path, Guid.NewGuid().ToString("N"), "config.json"), _home.Path,
            new Dictionary<string, string?> { ["STRATA_URL"] = "http://localhost", ["STRATA_TOKEN"] = token });

    public CliHarness Admin => Cli(AdminToken);

    /// <summary>Creates a tenant and returns a CLI holding a member token for it, both through the CLI itself.</summary>
    public async Task<CliHarness> TenantMemberAsync(string tenant)
    {
        var created = await Admin.RunAsync("tenants", "create", tenant);
        Assert.True(created.ExitCode == ExitCodes.Success, created.ToString());
        var token = await Admin.RunAsync("tokens", "create", tenant, "--role", "member");
        Assert.True(token.ExitCode == ExitCodes.Success, token.ToString());
        return Cli(token.Out.Trim());
    }

    public void Dispose()
    {
        Factory.Dispose();
        _data.Dispose();
        _home.Dispose();
    }

    private sealed class TestServerClientFactory(WebApplicationFactory<global::Program> factory) : IStrataClientFactory
    {
        public StrataClient Create(Connection connection) =>
            new(new HttpClient(factory.Server.CreateHandler()) { BaseAddress = connection.Url }, connection.Token, disposeHttpClient: true);
    }
}
