using System.CommandLine;
using Spectre.Console;

namespace Strata.Cli.Commands;

/// <summary>
/// <c>strata config get-contexts|current-context|use-context|set-context</c>: named contexts, one per server,
/// as kubectl's. <c>strata login</c> saves the token in one; <c>--context</c> picks one for a single command.
/// </summary>
public static class ConfigCommands
{
    /// <summary>A context as <c>get-contexts</c> shows it: never its token, only whether it has one.</summary>
    public sealed record ContextView(string Name, string? Server, bool Current, bool HasToken);

    public static Command Create(CliContext cli)
    {
        var command = new Command("config", "Contexts: the servers the CLI knows, with their tokens, and which one it uses");
        command.Subcommands.Add(GetContextsCommand(cli));
        command.Subcommands.Add(CurrentContextCommand(cli));
        command.Subcommands.Add(UseContextCommand(cli));
        command.Subcommands.Add(SetContextCommand(cli));
        return command;
    }

    private static Command GetContextsCommand(CliContext cli)
    {
        var command = new Command("get-contexts", "List the contexts; the current one is marked with *");
        command.SetAction((parse, ct) => cli.RunAsync(_ => Task.FromResult(GetContexts(cli.Out, cli.Config.Load(), cli.Format(parse))), ct));
        return command;
    }

    public static int GetContexts(IAnsiConsole console, CliConfig config, OutputFormat format)
    {
        var views = config.Contexts.OrderBy(c => c.Key, StringComparer.Ordinal)
            .Select(c => new ContextView(c.Key, c.Value.Server, c.Key == config.CurrentContext, !string.IsNullOrEmpty(c.Value.Token)))
            .ToList();
        if (Output.WriteData(console, format, views, views.Select(v => v.Name)))
        {
            return ExitCodes.Success;
        }

        if (views.Count == 0)
        {
            console.WriteLine("No contexts: 'strata login <url> --with-token' or 'strata config set-context <name> --server <url>' makes one.");
            return ExitCodes.Success;
        }

        var table = new Table().AddColumns("CURRENT", "NAME", "SERVER");
        if (format == OutputFormat.Wide) table.AddColumn("TOKEN");
        foreach (var view in views)
        {
            var cells = new List<string> { view.Current ? "*" : "", Output.Esc(view.Name), Output.Esc(view.Server) };
            if (format == OutputFormat.Wide) cells.Add(view.HasToken ? "saved" : "none");
            table.AddRow([.. cells]);
        }

        console.Write(table);
        return ExitCodes.Success;
    }

    private static Command CurrentContextCommand(CliContext cli)
    {
        var command = new Command("current-context", "Print the current context's name");
        command.SetAction((parse, ct) => cli.RunAsync(_ =>
        {
            var current = cli.Config.Load().CurrentContext ?? throw new UsageException("there is no current context; choose one with 'strata config use-context <name>'");
            Output.WriteRaw(cli.Out, current);
            return Task.FromResult(ExitCodes.Success);
        }, ct));
        return command;
    }

    private static Command UseContextCommand(CliContext cli)
    {
        var name = new Argument<string>("name") { Description = "The context the next commands use" };
        name.CompletionSources.Add(_ => cli.ContextNames());
        var command = new Command("use-context", "Make a context the current one") { name };
        command.SetAction((parse, ct) => cli.RunAsync(_ => Task.FromResult(UseContext(cli.Out, cli.Config, parse.GetValue(name)!)), ct));
        return command;
    }

    /// <exception cref="UsageException">There is no such context.</exception>
    public static int UseContext(IAnsiConsole console, ConfigStore store, string name)
    {
        var config = store.Load();
        var context = config.Find(name) ?? throw ConnectionResolver.UnknownContext(name, config);
        store.Save(config with { CurrentContext = name });
        console.MarkupLine($"Switched to context [bold]{Output.Esc(name)}[/] ({Output.Esc(context.Server)}).");
        return ExitCodes.Success;
    }

    private static Command SetContextCommand(CliContext cli)
    {
        var name = new Argument<string>("name") { Description = "The context's name, such as prod or local" };
        var server = new Option<string>("--server") { Description = "The server's URL, such as https://strata.example.com", Required = true };
        var command = new Command("set-context", "Create a context, or change its server (a token saved for another server is dropped); log in to it with 'strata login --context NAME --with-token'")
        {
            name, server,
        };
        command.SetAction((parse, ct) => cli.RunAsync(_ => Task.FromResult(SetContext(cli.Out, cli.Config, parse.GetValue(name)!, parse.GetValue(server)!)), ct));
        return command;
    }

    /// <exception cref="UsageException">The URL is not an absolute http(s) URL, or the name is blank.</exception>
    public static int SetContext(IAnsiConsole console, ConfigStore store, string name, string server)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Any(char.IsWhiteSpace))
        {
            throw new UsageException($"\"{name}\" is not a context name: use letters, digits and dashes, such as prod");
        }

        var url = ConnectionResolver.ParseUrl(server).ToString();
        var config = store.Load();
        var existing = config.Find(name);
        // A token belongs to the server it was issued by: it is never sent to another one.
        var token = existing?.Server == url ? existing.Token : null;
        config = config.With(name, new ServerContext { Server = url, Token = token });
        store.Save(config with { CurrentContext = config.CurrentContext ?? name });
        console.MarkupLine($"{(existing is null ? "Created" : "Updated")} context [bold]{Output.Esc(name)}[/] ({Output.Esc(url)})"
            + (token is null ? $"; log in with 'strata login --context {Output.Esc(name)} --with-token'." : "."));
        return ExitCodes.Success;
    }
}
