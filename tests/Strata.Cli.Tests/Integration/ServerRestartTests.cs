using System.Globalization;
using System.Text.Json;
using Strata.Cli.Tests.Support;

namespace Strata.Cli.Tests.Integration;

/// <summary>
/// <c>strata jobs logs -f</c> and <c>strata jobs wait</c> while the server is killed and started again on its
/// port and data folder (issue 17): a real server process, a real job, the CLI talking HTTP.
/// </summary>
public sealed class ServerRestartTests
{
    private const int Lines = 40;

    [Fact]
    public async Task Logs_follow_and_wait_outlive_a_server_restart_and_print_every_line_once()
    {
        using var server = new ServerProcess();
        using var home = new TempDirectory();
        await server.StartAsync();
        CliHarness Cli(string token) => new(new HttpStrataClientFactory(), Path.Combine(home.Path, Guid.NewGuid().ToString("N"), "config.json"), home.Path,
            new Dictionary<string, string?> { ["STRATA_URL"] = server.Url.ToString(), ["STRATA_TOKEN"] = token });
        var admin = Cli(server.AdminToken);
        Assert.Equal(ExitCodes.Success, (await admin.RunAsync("tenants", "create", "team-restart")).ExitCode);
        var token = await admin.RunAsync("tokens", "create", "team-restart", "--role", "member");
        Assert.True(token.ExitCode == ExitCodes.Success, token.ToString());
        var cli = Cli(token.Out.Trim());

        // Half its lines, then it waits for the test; the other half comes slowly, while the server is down.
        const string entrypoint = """
            for i in $(seq 1 20); do echo "line $i"; done
            while [ ! -f "$MARKER_DIR/release" ]; do sleep 0.1; done
            for i in $(seq 21 40); do echo "line $i"; sleep 0.05; done
            """;
        var submitted = await cli.RunAsync("jobs", "submit", "--name", "restart", "--entrypoint", entrypoint, "--env", $"MARKER_DIR={server.MarkerPath}", "-o", "json");
        Assert.True(submitted.ExitCode == ExitCodes.Success, submitted.ToString());
        var id = JsonDocument.Parse(submitted.Out).RootElement.GetProperty("id").GetString()!;

        var followed = new LiveOutput();
        var logs = cli.RunAsync(followed, "jobs", "logs", id, "-f");
        var wait = cli.RunAsync("jobs", "wait", id, "--timeout", "300s");
        await Until(() => followed.Lines().Contains("line 20"), "logs -f to print line 20", followed, server);

        server.Kill();
        await File.WriteAllTextAsync(Path.Combine(server.MarkerPath, "release"), "");
        await server.StartAsync();

        var waited = await wait;
        var printed = await logs;
        Assert.True(waited.ExitCode == ExitCodes.Success, $"{waited}\n{server.LogTail()}");
        Assert.True(printed.ExitCode == ExitCodes.Success, $"{printed}\n{server.LogTail()}");
        var expected = Enumerable.Range(1, Lines).Select(i => "line " + i.ToString(CultureInfo.InvariantCulture));
        Assert.Equal(expected, printed.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        // The restart did break the stream: the lines after it came through a reconnection.
        Assert.Contains("reconnecting", printed.Error, StringComparison.Ordinal);
    }

    /// <summary>Polls a condition for up to a minute: a condition, never a timed assertion.</summary>
    private static async Task Until(Func<bool> condition, string what, LiveOutput output, ServerProcess server)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"waited 60 s for {what}; printed:\n{output}\n{server.LogTail()}");
            }

            await Task.Delay(100);
        }
    }
}
