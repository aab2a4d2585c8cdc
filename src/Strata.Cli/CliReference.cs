using System.CommandLine;
using System.ComponentModel;
using System.Text;

namespace Strata.Cli;

/// <summary>
/// docs/cli.md, written from the command tree itself: every command that is not hidden, its arguments and
/// options with their descriptions, the output formats and the exit codes. The hidden command
/// <c>strata docs</c> prints it, and a test fails when the committed file differs, so it cannot drift.
/// </summary>
public static class CliReference
{
    /// <summary>How to rewrite the committed file; said by the page itself and by the test that checks it.</summary>
    public const string RegenerateCommand = "dotnet run --project src/Strata.Cli -- docs > docs/cli.md";

    public static Command CreateCommand(CliContext cli, RootCommand root)
    {
        var command = new Command("docs", "Print the CLI reference (docs/cli.md) from the command tree") { Hidden = true };
        command.SetAction(_ =>
        {
            Output.WriteRaw(cli.Out, Markdown(root).TrimEnd('\n'));
            return ExitCodes.Success;
        });
        return command;
    }

    public static string Markdown(RootCommand root)
    {
        var page = new StringBuilder();
        page.Append("# The `strata` command line\n\n");
        page.Append("<!-- Generated from the command tree; do not edit. Regenerate with:\n");
        page.Append($"     {RegenerateCommand} -->\n\n");
        page.Append(root.Description).Append(".\n\n");
        page.Append("Every command takes `--help` (`-h`). Completion for bash, zsh and fish: `strata completion <shell>`.\n\n");

        page.Append("## Global options\n\nThey go anywhere on the line, before or after the command.\n\n");
        OptionTable(page, root.Options);

        page.Append("## Output formats (`-o`)\n\n");
        page.Append("Every command that prints objects takes them; messages, progress and errors go to standard error, so standard output holds the result alone.\n\n");
        page.Append("| Format | What it prints |\n| --- | --- |\n");
        foreach (var format in Enum.GetValues<OutputFormat>())
        {
            page.Append($"| `{format.ToString().ToLowerInvariant()}` | {Cell(Describe(format))} |\n");
        }

        page.Append("\n## Where the server and token come from\n\n");
        page.Append("First `--url` and `--token`, then `STRATA_URL` and `STRATA_TOKEN`, then a context of the config file ");
        page.Append("(`--context`, else `STRATA_CONTEXT`, else the current context), then a job's own `STRATA_API_URL` and `STRATA_JOB_TOKEN`. ");
        page.Append("The config file is `$STRATA_CONFIG`, else `$XDG_CONFIG_HOME/strata/config.json`, else `~/.config/strata/config.json`, ");
        page.Append("written readable by its owner only (0600). A file of the format before contexts (`{\"url\": …, \"token\": …}`) is read as the context `default`.\n\n");

        page.Append("## Exit codes\n\n| Code | Name | Meaning |\n| --- | --- | --- |\n");
        foreach (var (code, name, meaning) in ExitCodes.All)
        {
            page.Append($"| {code} | {name} | {Cell(meaning)} |\n");
        }

        page.Append("\n## Commands\n");
        foreach (var command in root.Subcommands.Where(c => !c.Hidden))
        {
            Write(page, command, "strata");
        }

        // Sections end with a blank line and headings start with one: never two in a row.
        return System.Text.RegularExpressions.Regex.Replace(page.ToString(), "\n{3,}", "\n\n").TrimEnd('\n') + "\n";
    }

    private static void Write(StringBuilder page, Command command, string parent)
    {
        var path = $"{parent} {command.Name}";
        page.Append($"\n### {path}\n\n");
        if (!string.IsNullOrEmpty(command.Description))
        {
            page.Append(Sentence(command.Description)).Append("\n\n");
        }

        var subcommands = command.Subcommands.Where(c => !c.Hidden).ToList();
        var arguments = command.Arguments.Where(a => !a.Hidden).ToList();
        var options = command.Options.Where(o => !o.Hidden && o is not System.CommandLine.Help.HelpOption).ToList();
        if (command.Action is not null || subcommands.Count == 0)
        {
            var usage = new List<string> { path };
            usage.AddRange(arguments.Select(a => a.Arity.MinimumNumberOfValues == 0 ? $"[<{a.Name}>]" : $"<{a.Name}>"));
            if (options.Count > 0) usage.Add("[options]");
            page.Append($"```\n{string.Join(' ', usage)}\n```\n\n");
        }

        if (arguments.Count > 0)
        {
            page.Append("| Argument | Description |\n| --- | --- |\n");
            foreach (var argument in arguments)
            {
                page.Append($"| `{argument.Name}` | {Cell(argument.Description ?? "")} |\n");
            }

            page.Append('\n');
        }

        OptionTable(page, options);
        if (subcommands.Count > 0)
        {
            page.Append($"Commands: {string.Join(", ", subcommands.Select(c => $"`{path} {c.Name}`"))}.\n");
            foreach (var subcommand in subcommands)
            {
                Write(page, subcommand, path);
            }
        }
    }

    private static void OptionTable(StringBuilder page, IEnumerable<Option> options)
    {
        var shown = options.Where(o => !o.Hidden && o is not System.CommandLine.Help.HelpOption).ToList();
        if (shown.Count == 0) return;
        page.Append("| Option | Description |\n| --- | --- |\n");
        foreach (var option in shown)
        {
            var names = string.Join(", ", new[] { option.Name }.Concat(option.Aliases.Order(StringComparer.Ordinal)).Select(n => $"`{n}`"));
            var description = option.Description ?? "";
            if (option.Required) description = "Required. " + description;
            page.Append($"| {names} | {Cell(description)} |\n");
        }

        page.Append('\n');
    }

    private static string Describe(OutputFormat format) =>
        typeof(OutputFormat).GetField(format.ToString())!.GetCustomAttributes(typeof(DescriptionAttribute), false)
            .Cast<DescriptionAttribute>().Single().Description;

    private static string Sentence(string text) => text.EndsWith('.') ? text : text + ".";

    /// <summary>A table cell: one line, with the table's own separator escaped.</summary>
    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);
}
