using System.Net;
using Spectre.Console.Testing;
using Strata.Cli.Commands;
using Strata.Cli.Tests.Support;
using Strata.Client;

namespace Strata.Cli.Tests.Unit;

/// <summary>The wait command's handler, driven directly with TestConsole and a stub server.</summary>
public sealed class WaitCommandTests
{
    private static StubHandler Server(params string[] states)
    {
        var queue = new Queue<string>(states);
        return new StubHandler(_ =>
        {
            var parts = queue.Count > 1 ? queue.Dequeue() : queue.Peek();
            var (status, reason, position) = parts.Split(':') switch
            {
                [var s, var r, var p] => (s, $"\"{r}\"", p),
                [var s, var r] => (s, $"\"{r}\"", "null"),
                [var s] => (s, "null", "null"),
                _ => throw new InvalidOperationException(),
            };
            return StubHandler.Json(HttpStatusCode.OK, $$"""
                {"id":"j1","spec":{"name":"n"},"status":"{{status}}","created_at":"2025-01-01T00:00:00Z","started_at":"2025-01-01T00:00:01Z",
                 "completed_at":null,"error_message":{{(status == "failed" ? "\"exit code 3\"" : "null")}},"kubernetes_job_name":null,"metrics":{},
                 "status_reason":{{reason}},"attempts":1,"runtime":null,"queue_position":{{position}},"output":null}
                """);
        });
    }

    private static readonly WaitOptions Fast = new() { PollInterval = TimeSpan.FromMilliseconds(1) };

    [Fact]
    public async Task Without_a_terminal_wait_prints_one_line_per_change_and_succeeds()
    {
        using var client = new StrataClient(new Uri("http://strata.test"), "t", Server("pending:waiting_for_capacity:2", "pending:waiting_for_capacity:1", "running", "running", "succeeded:completed"));
        var console = new TestConsole().Width(200);
        var error = new TestConsole();

        var exit = await JobCommands.WaitAsync(console, error, client, "j1", Fast, OutputFormat.Table, CancellationToken.None);

        Assert.Equal(ExitCodes.Success, exit);
        var lines = console.Lines.Select(l => l.TrimEnd()).ToList();
        Assert.Equal("job j1: pending (waiting_for_capacity, #2 in queue)", lines[0]);
        Assert.Equal("job j1: pending (waiting_for_capacity, #1 in queue)", lines[1]);
        Assert.Equal("job j1: running", lines[2]);
        // The end is said once.
        Assert.StartsWith("Job j1 succeeded", lines[3]);
        Assert.Single(lines, l => l.Contains("succeeded", StringComparison.Ordinal));
        Assert.Equal("", error.Output);
    }

    [Fact]
    public async Task With_a_terminal_wait_shows_a_live_status_and_reports_a_failure_on_stderr()
    {
        using var client = new StrataClient(new Uri("http://strata.test"), "t", Server("running", "failed:exited_with_error"));
        var console = new TestConsole().Interactive().EmitAnsiSequences();
        var error = new TestConsole();
        error.Profile.Capabilities.Ansi = false;

        var exit = await JobCommands.WaitAsync(console, error, client, "j1", Fast, OutputFormat.Table, CancellationToken.None);

        Assert.Equal(ExitCodes.Failure, exit);
        Assert.Equal("error: job \"j1\" failed (exited_with_error: exit code 3)", error.Output.TrimEnd());
    }

    [Fact]
    public async Task A_timeout_ends_the_wait_with_the_timeout_exit_code()
    {
        var server = Server("running");
        var cli = new CliHarness(new HandlerFactory(server), Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N"), "config.json"),
            environment: new() { ["STRATA_URL"] = "http://strata.test" });

        var result = await cli.RunAsync("jobs", "wait", "j1", "--timeout", "1s");

        Assert.True(result.ExitCode == ExitCodes.Timeout, result.ToString());
        Assert.Contains("did not finish", result.Error);
    }
}
