using System.CommandLine;
using Spectre.Console;
using Strata.Client;
using Strata.Contracts;

namespace Strata.Cli.Commands;

/// <summary>
/// <c>strata login [url] --with-token</c> (the token on standard input) or <c>--token &lt;t&gt;</c>: checks the token
/// with <c>GET /v1/me</c>, then saves the server and token in a context: <c>--context</c>'s (or
/// <c>STRATA_CONTEXT</c>'s), else the current one, else <see cref="ConfigStore.DefaultContext"/>.
/// </summary>
public static class LoginCommand
{
    public static Command Create(CliContext cli)
    {
        var url = new Argument<string?>("url")
        {
            Description = "The server's URL, such as http://localhost:8080 (default: the context's server)",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var withToken = new Option<bool>("--with-token")
        {
            Description = "Read the token from standard input, so that it stays out of the shell's history and of ps",
        };
        var command = new Command("login", "Check a token against a server and save both in a context of the config file") { url, withToken };
        command.SetAction((parse, ct) => cli.RunAsync(async token =>
        {
            var flag = parse.GetValue(cli.TokenOption);
            if (parse.GetValue(withToken))
            {
                if (flag is not null)
                {
                    throw new UsageException("give the token with --token or with --with-token (standard input), not both");
                }

                if (cli.In == Console.In && !Console.IsInputRedirected)
                {
                    // Typed or pasted on a terminal rather than piped: say how to end the input.
                    cli.Error.WriteLine("Paste the token, then press Enter and Ctrl+D.");
                }

                flag = ReadToken(cli.In);
            }

            var jwt = flag ?? cli.Environment("STRATA_TOKEN");
            return await ExecuteAsync(cli.Out, cli.Clients, cli.Config, parse.GetValue(url), jwt, parse.GetValue(cli.ContextOption) ?? cli.Environment("STRATA_CONTEXT"), cli.Format(parse), token);
        }, ct));
        return command;
    }

    /// <summary>The token piped in: the whole input, trimmed.</summary>
    /// <exception cref="UsageException">The input is empty, or is more than one word.</exception>
    public static string ReadToken(TextReader input)
    {
        var text = input.ReadToEnd().Trim();
        if (text.Length == 0)
        {
            throw new UsageException("--with-token: standard input is empty; pipe the token in, such as: strata login <url> --with-token < token.txt");
        }

        if (text.Any(char.IsWhiteSpace))
        {
            throw new UsageException("--with-token: standard input holds more than one word; give the token alone");
        }

        return text;
    }

    public static async Task<int> ExecuteAsync(
        IAnsiConsole console, IStrataClientFactory clients, ConfigStore store, string? url, string? token, string? contextFlag, OutputFormat format,
        CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(token))
        {
            throw new UsageException("login needs a token: strata login <url> --with-token < token.txt (or --token <token>, or set STRATA_TOKEN)");
        }

        var config = store.Load();
        var name = contextFlag ?? config.CurrentContext ?? ConfigStore.DefaultContext;
        var server = url ?? config.Find(name)?.Server
            ?? throw new UsageException($"login needs the server's URL: strata login <url>, or 'strata config set-context {name} --server <url>' first");
        var uri = ConnectionResolver.ParseUrl(server);
        Me me;
        using (var client = clients.Create(new Connection(uri, token.Trim())))
        {
            me = await client.MeAsync(cancellationToken);
        }

        config = config.With(name, new ServerContext { Server = uri.ToString(), Token = token.Trim() });
        // The first context becomes the current one; another is used with --context or 'config use-context'.
        config = config with { CurrentContext = config.CurrentContext ?? name };
        store.Save(config);
        if (Output.WriteData(console, format, me, [name]))
        {
            return ExitCodes.Success;
        }

        var tenant = me.TenantId is null ? "" : $", tenant [bold]{Output.Esc(me.TenantId)}[/]";
        console.MarkupLine($"Logged in to [bold]{Output.Esc(uri.ToString())}[/] as [bold]{Output.Esc(me.Subject)}[/] (role {Output.Esc(me.Role)}{tenant}).");
        console.MarkupLine(config.CurrentContext == name
            ? $"[grey]Saved as context {Output.Esc(name)} in {Output.Esc(store.Path)}[/]"
            : $"[grey]Saved as context {Output.Esc(name)} in {Output.Esc(store.Path)}; use it with --context {Output.Esc(name)} or 'strata config use-context {Output.Esc(name)}'[/]");
        return ExitCodes.Success;
    }
}

/// <summary><c>strata logout</c>: forgets the current context (or <c>--context</c>'s): its server and token.</summary>
public static class LogoutCommand
{
    public static Command Create(CliContext cli)
    {
        var command = new Command("logout", "Remove the current context (or --context's) from the config file: its server and token");
        command.SetAction((parse, ct) => cli.RunAsync(_ => Task.FromResult(Execute(cli.Out, cli.Config, parse.GetValue(cli.ContextOption) ?? cli.Environment("STRATA_CONTEXT"))), ct));
        return command;
    }

    public static int Execute(IAnsiConsole console, ConfigStore store, string? contextFlag)
    {
        var config = store.Load();
        var name = contextFlag ?? config.CurrentContext;
        if (name is null || config.Find(name) is not { } context)
        {
            console.WriteLine("Not logged in.");
            return ExitCodes.Success;
        }

        var contexts = new Dictionary<string, ServerContext>(config.Contexts, StringComparer.Ordinal);
        contexts.Remove(name);
        store.SaveOrDelete(config with { Contexts = contexts, CurrentContext = config.CurrentContext == name ? null : config.CurrentContext });
        console.WriteLine($"Logged out of {context.Server} (removed the context {name} from {store.Path}).");
        return ExitCodes.Success;
    }
}

/// <summary><c>strata me</c>: who the token belongs to.</summary>
public static class MeCommand
{
    public static Command Create(CliContext cli)
    {
        var command = new Command("me", "Show who the current token belongs to");
        command.SetAction((parse, ct) => cli.RunAsync(parse, (client, token) => ExecuteAsync(cli.Out, client, cli.Format(parse), token), ct));
        return command;
    }

    public static async Task<int> ExecuteAsync(IAnsiConsole console, StrataClient client, OutputFormat format, CancellationToken cancellationToken)
    {
        var me = await client.MeAsync(cancellationToken);
        if (Output.WriteData(console, format, me, [me.Subject]))
        {
            return ExitCodes.Success;
        }

        var grid = new Grid().AddColumn().AddColumn();
        grid.AddRow("[bold]Server[/]", Output.Esc(client.BaseUrl.ToString()));
        grid.AddRow("[bold]Subject[/]", Output.Esc(me.Subject));
        grid.AddRow("[bold]Tenant[/]", Output.Esc(me.TenantId));
        grid.AddRow("[bold]Role[/]", Output.Esc(me.Role));
        grid.AddRow("[bold]Expires[/]", Output.Time(me.ExpiresAt));
        console.Write(grid);
        return ExitCodes.Success;
    }
}

/// <summary><c>strata health</c>: the server's health.</summary>
public static class HealthCommand
{
    public static Command Create(CliContext cli)
    {
        var command = new Command("health", "Check that the server is up");
        command.SetAction((parse, ct) => cli.RunAsync(parse, async (client, token) =>
        {
            var health = await client.HealthAsync(token);
            if (!Output.WriteData(cli.Out, cli.Format(parse), health))
            {
                cli.Out.MarkupLine($"{Output.Esc(health.Service)} at {Output.Esc(client.BaseUrl.ToString())}: [bold]{Output.Esc(health.Status)}[/]{(health.Version is null ? "" : $" (version {Output.Esc(health.Version)})")}");
            }

            return ExitCodes.Success;
        }, ct));
        return command;
    }
}
