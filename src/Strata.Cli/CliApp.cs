using System.CommandLine;
using Spectre.Console;
using Strata.Cli.Commands;
using Strata.Contracts;

namespace Strata.Cli;

/// <summary>The <c>strata</c> command tree. Parse errors are reported as one line each with <see cref="ExitCodes.UsageError"/>.</summary>
public sealed class CliApp
{
    private readonly CliContext _cli;
    private readonly RootCommand _root;

    public CliApp(CliContext cli)
    {
        _cli = cli;
        _root = new RootCommand("strata: submit and follow training jobs on a Strata server")
        {
            cli.OutputOption,
            cli.UrlOption,
            cli.TokenOption,
            cli.ContextOption,
        };
        cli.OutputOption.CompletionSources.Add([.. CliContext.OutputFormats]);
        cli.ContextOption.CompletionSources.Add(_ => cli.ContextNames());
        // One line naming the choices (AcceptOnlyFromAmong's message spans six).
        cli.OutputOption.Validators.Add(result =>
        {
            if (result.Tokens is [.., var given] && !CliContext.OutputFormats.Contains(given.Value, StringComparer.OrdinalIgnoreCase))
            {
                result.AddError($"-o \"{given.Value}\" is not an output format; choose {string.Join(", ", CliContext.OutputFormats)}");
            }
        });
        _root.Subcommands.Add(LoginCommand.Create(cli));
        _root.Subcommands.Add(LogoutCommand.Create(cli));
        _root.Subcommands.Add(ConfigCommands.Create(cli));
        _root.Subcommands.Add(MeCommand.Create(cli));
        _root.Subcommands.Add(HealthCommand.Create(cli));
        _root.Subcommands.Add(TenantCommands.Create(cli));
        _root.Subcommands.Add(TokenCommands.Create(cli));
        _root.Subcommands.Add(JobCommands.Create(cli));
        _root.Subcommands.Add(UsageCommand.Create(cli));
        _root.Subcommands.Add(RecommendCommand.Create(cli));
        _root.Subcommands.Add(RunCommand.Create(cli));
        _root.Subcommands.Add(QuotaCommands.Create(cli));
        _root.Subcommands.Add(TrainCommand.Create(cli));
        _root.Subcommands.Add(ModelCommands.Create(cli));
        _root.Subcommands.Add(DeploymentCommands.CreateDeploy(cli));
        _root.Subcommands.Add(DeploymentCommands.CreateDeployments(cli));
        _root.Subcommands.Add(DeploymentCommands.CreatePredict(cli));
        _root.Subcommands.Add(UiCommand.Create(cli));
        _root.Subcommands.Add(CompletionCommand.Create(cli));
        _root.Subcommands.Add(CliReference.CreateCommand(cli, _root));
    }

    /// <summary>The CLI on the process's console and environment.</summary>
    public static CliApp CreateDefault()
    {
        var output = AnsiConsole.Console;
        if (Console.IsOutputRedirected)
        {
            // Spectre assumes 80 columns without a terminal; piped tables and lines should not be wrapped at 80.
            output.Profile.Width = 240;
        }

        var error = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        if (Console.IsErrorRedirected)
        {
            // The same for messages: "Uploaded … as artifact://…" is one line in a log, not two.
            error.Profile.Width = 240;
        }
        return new CliApp(new CliContext(output, error, new HttpStrataClientFactory(), Environment.GetEnvironmentVariable, Environment.CurrentDirectory));
    }

    public RootCommand Root => _root;

    public async Task<int> RunAsync(IReadOnlyList<string> args, CancellationToken cancellationToken = default)
    {
        // No response files: an argument starting with @ is a command's own (strata predict churn @input.json).
        var parse = _root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        var configuration = new InvocationConfiguration
        {
            Output = _cli.Out.Profile.Out.Writer,
            Error = _cli.Error.Profile.Out.Writer,
        };
        if (parse.Errors.Count > 0)
        {
            var command = parse.CommandResult.Command;
            var path = CommandPath(parse);
            if (command.Subcommands.Count > 0 && parse.UnmatchedTokens.Count == 0 && args.Count == path.Count - 1)
            {
                // `strata` or `strata jobs` alone: what can follow, as kubectl and gh answer.
                return await _root.Parse([.. path.Skip(1), "--help"]).InvokeAsync(configuration, cancellationToken);
            }
            if (command.Subcommands.Count > 0 && parse.UnmatchedTokens.Count > 0 && args.Contains(parse.UnmatchedTokens[0]))
            {
                ErrorReporter.WriteError(_cli.Error, UnknownCommand(command, path, parse.UnmatchedTokens));
                return ExitCodes.UsageError;
            }
            foreach (var error in parse.Errors)
            {
                ErrorReporter.WriteError(_cli.Error, error.Message);
            }

            ErrorReporter.WriteError(_cli.Error, $"run '{string.Join(' ', path)} --help' for usage");
            return ExitCodes.UsageError;
        }

        return await parse.InvokeAsync(configuration, cancellationToken);
    }

    /// <summary>
    /// One line for a command that does not exist, naming the nearest one with the rest of the line
    /// (<c>strata job list</c>: did you mean <c>strata jobs list</c>?).
    /// </summary>
    private static string UnknownCommand(Command command, List<string> path, IReadOnlyList<string> unmatched)
    {
        var typed = unmatched[0];
        var nearest = Words.Nearest(typed, command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name));
        var where = string.Join(' ', path);
        return nearest is not null
            ? $"unknown command \"{typed}\" for \"{where}\"; did you mean \"{string.Join(' ', [.. path, nearest, .. unmatched.Skip(1)])}\"?"
            : $"unknown command \"{typed}\" for \"{where}\"; run '{where} --help' for its commands";
    }

    private static List<string> CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var result = parse.CommandResult; result is not null; result = result.Parent as System.CommandLine.Parsing.CommandResult)
        {
            names.Add(result.Command is RootCommand ? "strata" : result.Command.Name);
        }

        names.Reverse();
        return names;
    }
}
