using System.Text;
using Spectre.Console;
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

    public Task<CliResult> RunAsync(params string[] args) => RunWithInputAsync("", args);

    /// <summary>Runs a command with <paramref name="input"/> on its standard input.</summary>
    public async Task<CliResult> RunWithInputAsync(string input, params string[] args)
    {
        var output = new TestConsole().Width(400);
        output.Profile.Capabilities.Ansi = false;
        return await RunAsync(output, () => output.Output, args, input);
    }

    /// <summary>Runs a command whose standard output the test reads while it runs (<c>logs -f</c>).</summary>
    public Task<CliResult> RunAsync(LiveOutput live, params string[] args)
    {
        var output = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(live),
        });
        return RunAsync(output, live.ToString, args, "");
    }

    private async Task<CliResult> RunAsync(IAnsiConsole output, Func<string> written, string[] args, string input)
    {
        var error = new TestConsole().Width(400);
        error.Profile.Capabilities.Ansi = false;
        var context = new CliContext(output, error, _clients, name => _environment.GetValueOrDefault(name), WorkingDirectory)
        {
            PollInterval = TimeSpan.FromMilliseconds(100),
            In = new StringReader(input),
        };
        var exitCode = await new CliApp(context).RunAsync(args);
        return new CliResult(exitCode, written(), error.Output);
    }
}

public sealed record CliResult(int ExitCode, string Out, string Error)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Error}";
}

/// <summary>Standard output that another thread may read while a command writes it.</summary>
public sealed class LiveOutput : TextWriter
{
    private readonly StringBuilder _text = new();

    public override Encoding Encoding => Encoding.UTF8;

    public override void Write(char value)
    {
        lock (_text) _text.Append(value);
    }

    public override void Write(string? value)
    {
        lock (_text) _text.Append(value);
    }

    public override void WriteLine(string? value)
    {
        lock (_text) _text.Append(value).Append('\n');
    }

    /// <summary>The lines written so far (a last line without its newline included).</summary>
    public string[] Lines()
    {
        lock (_text) return _text.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    public override string ToString()
    {
        lock (_text) return _text.ToString();
    }
}
