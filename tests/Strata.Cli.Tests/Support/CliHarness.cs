using Spectre.Console.Testing;

namespace Strata.Cli.Tests.Support;

/// <summary>Runs <c>strata</c> command lines in process with Spectre's TestConsole for stdout and stderr.</summary>
public sealed class CliHarness
{
    private readonly IStrataClientFactory _clients;
    private readonly Dictionary<string, string?> _environment;

    public CliHarness(IStrataClientFactory clients, string configPath, string? workingDirectory = null, Dictionary<string, string?>? environment = null)
    {
        _clients = clients;
        _environment = environment ?? [];
        _environment["STRATA_CONFIG"] = configPath;
        WorkingDirectory = workingDirectory ?? Path.GetDirectoryName(configPath)!;
    }

    public string WorkingDirectory { get; }

    public async Task<CliResult> RunAsync(params string[] args)
    {
        var output = new TestConsole().Width(400);
        var error = new TestConsole().Width(400);
        error.Profile.Capabilities.Ansi = false;
        output.Profile.Capabilities.Ansi = false;
        var context = new CliContext(output, error, _clients, name => _environment.GetValueOrDefault(name), WorkingDirectory)
        {
            PollInterval = TimeSpan.FromMilliseconds(100),
        };
        var exitCode = await new CliApp(context).RunAsync(args);
        return new CliResult(exitCode, output.Output, error.Output);
    }
}

public sealed record CliResult(int ExitCode, string Out, string Error)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Error}";
}
