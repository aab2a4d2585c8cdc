using System.Diagnostics;
using Spectre.Console.Testing;
using Strata.Cli.Commands;
using Strata.Cli.Tests.Support;

namespace Strata.Cli.Tests.Unit;

/// <summary>`strata completion` scripts, run by the shells themselves, and docs/cli.md against the command tree.</summary>
public sealed class CompletionAndReferenceTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private CliHarness Cli() => new(new NoClients(), _dir.File("config.json"), _dir.Path);

    [Fact]
    public async Task The_bash_script_is_valid_bash()
    {
        var script = await Script("bash");

        var check = await Shell("bash", ["-n", script]);

        Assert.True(check.ExitCode == 0, check.Output);
    }

    [Theory]
    [InlineData("strata jo", "jobs")]
    [InlineData("strata jobs li", "list")]
    [InlineData("strata config use", "use-context")]
    [InlineData("strata jobs list -o y", "yaml")]
    [InlineData("strata completion f", "fish")]
    public async Task Bash_completes_commands_and_option_values_by_asking_strata(string line, string expected)
    {
        var script = await Script("bash");
        var words = line.Split(' ');
        // `strata` is the built CLI, as an installed tool would be; COMP_* are what bash sets on Tab.
        var test = $"""
            strata() {'{'} dotnet '{Path.Combine(AppContext.BaseDirectory, "strata.dll")}' "$@"; {'}'}
            source '{script}'
            COMP_LINE='{line}'
            COMP_POINT={line.Length}
            COMP_WORDS=({string.Join(' ', words.Select(w => $"'{w}'"))})
            COMP_CWORD={words.Length - 1}
            _strata_complete
            printf '%s\n' "${'{'}COMPREPLY[@]{'}'}"
            """;

        var run = await Shell("bash", ["-c", test]);

        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Equal([expected], run.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [SkippableTheory]
    [InlineData("zsh")]
    [InlineData("fish")]
    public async Task The_zsh_and_fish_scripts_parse_where_those_shells_are_installed(string shell)
    {
        Skip.If(!File.Exists($"/usr/bin/{shell}") && !File.Exists($"/bin/{shell}"), $"{shell} is not installed here");
        var script = await Script(shell);

        var check = await Shell(shell, ["-n", script]);

        Assert.True(check.ExitCode == 0, check.Output);
    }

    [Fact]
    public async Task An_unknown_shell_is_a_usage_error()
    {
        var result = await Cli().RunAsync("completion", "powershell");

        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        Assert.Contains("bash", result.Error);
    }

    [Fact]
    public void The_committed_cli_reference_is_the_one_the_command_tree_makes()
    {
        var path = Path.Combine(RepositoryRoot(), "docs", "cli.md");
        var generated = CliReference.Markdown(NewApp().Root);

        var committed = File.ReadAllText(path);

        Assert.True(committed == generated, $"docs/cli.md differs from the command tree; regenerate it with: {CliReference.RegenerateCommand}");
    }

    [Fact]
    public async Task The_reference_names_every_visible_command_and_exit_code_and_no_hidden_one()
    {
        var root = NewApp().Root;
        var result = await Cli().RunAsync("docs");
        Assert.Equal(ExitCodes.Success, result.ExitCode);

        foreach (var (code, name, _) in ExitCodes.All)
        {
            Assert.Contains($"| {code} | {name} |", result.Out);
        }

        foreach (var command in root.Subcommands.Where(c => !c.Hidden).SelectMany(c => c.Subcommands.Prepend(c)))
        {
            Assert.Contains($" {command.Name}\n", result.Out);
        }

        Assert.DoesNotContain("### strata docs", result.Out);
        var typo = await Cli().RunAsync("doc");
        Assert.DoesNotContain("strata docs", typo.Error);
    }

    private static CliApp NewApp() =>
        new(new CliContext(new TestConsole(), new TestConsole(), new NoClients(), _ => null, Environment.CurrentDirectory));

    private async Task<string> Script(string shell)
    {
        var result = await Cli().RunAsync("completion", shell);
        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        return _dir.File($"strata.{shell}", result.Out);
    }

    private static async Task<(int ExitCode, string Output)> Shell(string shell, string[] arguments)
    {
        var start = new ProcessStartInfo(shell) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output + await error);
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Strata.slnx"))) directory = directory.Parent;
        return directory!.FullName;
    }

    private sealed class NoClients : IStrataClientFactory
    {
        public Strata.Client.StrataClient Create(Connection connection) => throw new InvalidOperationException("these commands need no server");
    }
}
