using System.Diagnostics;
using Strata.Client;
using Strata.Contracts;
using Strata.Testing;

namespace Strata.Cli.Tests.Integration;

/// <summary>
/// examples/dotnet, the .NET SDK's getting-started program, as the README runs it: built with these tests (a project
/// reference), run as its own process against a real server with a tenant member's token, it uploads the churn CSV,
/// trains, deploys and predicts.
/// </summary>
public sealed class DotnetExampleTests
{
    [Fact]
    public async Task The_getting_started_example_trains_deploys_and_predicts_against_a_real_server()
    {
        using var server = new ServerProcess();
        await server.StartAsync();
        string token;
        using (var admin = new StrataClient(server.Url, server.AdminToken))
        {
            await admin.Tenants.CreateAsync(new CreateTenantRequest { Id = "team-dotnet" });
            token = (await admin.Tokens.CreateAsync("team-dotnet", new CreateTokenRequest { Role = "member" })).Token;
        }
        var example = Path.Combine(AppContext.BaseDirectory, "GettingStarted.dll");
        Assert.True(File.Exists(example), $"{example} was not built with the tests");

        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = RepositoryRoot() };
        start.ArgumentList.Add(example);
        start.ArgumentList.Add(Path.Combine("examples", "churn", "churn.csv"));
        start.Environment["STRATA_URL"] = server.Url.ToString();
        start.Environment["STRATA_TOKEN"] = token;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var said = $"exit {process.ExitCode}\n{await output}\n{await error}\n--- server log:\n{server.LogTail(30)}";

        Assert.True(process.ExitCode == 0, said);
        Assert.Contains("registered churn-dotnet@1", await output, StringComparison.Ordinal);
        Assert.Contains("deployment churn-dotnet is ready at version 1", await output, StringComparison.Ordinal);
        Assert.Matches("""prediction \(version 1\): \{.*"probability"\s*:\s*0\.\d+""", await output);

        // What it left is the member's tenant's, as the API shows it.
        using var member = new StrataClient(server.Url, token);
        Assert.Equal(1, (await member.Deployments.GetAsync("churn-dotnet")).ReadyReplicas);
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Strata.slnx"))) directory = directory.Parent;
        return directory!.FullName;
    }
}
