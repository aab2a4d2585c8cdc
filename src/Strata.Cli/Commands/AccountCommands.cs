using System.CommandLine;
using Spectre.Console;
using Strata.Client;
using Strata.Contracts;

namespace Strata.Cli.Commands;

/// <summary><c>strata login &lt;url&gt; --token &lt;t&gt;</c>: checks the token with <c>GET /v1/me</c>, then saves URL and token.</summary>
public static class LoginCommand
{
    public static Command Create(CliContext cli)
    {
        var url = new Argument<string>("url") { Description = "The server's URL, such as http://localhost:8080" };
        var command = new Command("login", "Check a token against a server and save both in the config file") { url };
        command.SetAction((parse, ct) => cli.RunAsync(async token =>
        {
            var jwt = parse.GetValue(cli.TokenOption) ?? cli.Environment("STRATA_TOKEN");
            return await ExecuteAsync(cli.Out, cli.Clients, cli.Config, parse.GetValue(url)!, jwt, cli.Format(parse), token);
        }, ct));
        return command;
    }

    public static async Task<int> ExecuteAsync(
        IAnsiConsole console, IStrataClientFactory clients, ConfigStore config, string url, string? token, OutputFormat format, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(token))
        {
            throw new UsageException("login needs a token: strata login <url> --token <token> (or set STRATA_TOKEN)");
        }

        var uri = ConnectionResolver.ParseUrl(url);
        Me me;
        using (var client = clients.Create(new Connection(uri, token.Trim())))
        {
            me = await client.MeAsync(cancellationToken);
        }

        config.Save(new CliConfig { Url = uri.ToString(), Token = token.Trim() });
        if (format == OutputFormat.Json)
        {
            Output.WriteJson(console, me);
        }
        else
        {
            var tenant = me.TenantId is null ? "" : $", tenant [bold]{Output.Esc(me.TenantId)}[/]";
            console.MarkupLine($"Logged in to [bold]{Output.Esc(uri.ToString())}[/] as [bold]{Output.Esc(me.Subject)}[/] (role {Output.Esc(me.Role)}{tenant}).");
            console.MarkupLine($"[grey]Saved to {Output.Esc(config.Path)}[/]");
        }

        return ExitCodes.Success;
    }
}

/// <summary><c>strata logout</c>: forgets the saved URL and token.</summary>
public static class LogoutCommand
{
    public static Command Create(CliContext cli)
    {
        var command = new Command("logout", "Remove the saved server URL and token");
        command.SetAction((parse, ct) => cli.RunAsync(_ => Task.FromResult(Execute(cli.Out, cli.Config)), ct));
        return command;
    }

    public static int Execute(IAnsiConsole console, ConfigStore config)
    {
        console.WriteLine(config.Delete() ? $"Logged out (removed {config.Path})." : "Not logged in.");
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
        if (format == OutputFormat.Json)
        {
            Output.WriteJson(console, me);
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
            if (cli.Format(parse) == OutputFormat.Json)
            {
                Output.WriteJson(cli.Out, health);
            }
            else
            {
                cli.Out.MarkupLine($"{Output.Esc(health.Service)} at {Output.Esc(client.BaseUrl.ToString())}: [bold]{Output.Esc(health.Status)}[/]{(health.Version is null ? "" : $" (version {Output.Esc(health.Version)})")}");
            }

            return ExitCodes.Success;
        }, ct));
        return command;
    }
}
