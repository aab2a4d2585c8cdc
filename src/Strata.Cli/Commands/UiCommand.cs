using System.CommandLine;
using System.Diagnostics;
using Spectre.Console;
using Strata.Client;

namespace Strata.Cli.Commands;

/// <summary>
/// <c>strata ui</c>: a one-time link that signs a browser in to the dashboard as the saved token (docs/dashboard.md).
/// The link works once, within a minute; the token itself never appears in it.
/// </summary>
public static class UiCommand
{
    public static Command Create(CliContext cli)
    {
        var open = new Option<bool>("--open") { Description = "Also open the link in this machine's browser (xdg-open, or open on macOS)" };
        var command = new Command("ui", "Print a one-time link that signs a browser in to the web dashboard") { open };
        command.SetAction((parse, ct) => cli.RunAsync(parse, (client, token) => ExecuteAsync(cli.Out, client, parse.GetValue(open), token), ct));
        return command;
    }

    public static async Task<int> ExecuteAsync(IAnsiConsole console, StrataClient client, bool open, CancellationToken cancellationToken)
    {
        var code = await client.DashboardSignInCodeAsync(cancellationToken);
        // The server as this CLI reaches it (behind a proxy, the server's own view of its address may differ).
        var link = new Uri(client.BaseUrl, $"ui/signin?code={Uri.EscapeDataString(code.Code)}").ToString();
        console.WriteLine(link);
        console.MarkupLine("[grey]Opens the dashboard signed in as this token; it works once, within a minute.[/]");
        if (open && !TryOpen(link))
        {
            console.MarkupLine("[yellow]Could not open a browser here: open the link above yourself.[/]");
        }
        return ExitCodes.Success;
    }

    private static bool TryOpen(string link)
    {
        try
        {
            var start = new ProcessStartInfo(OperatingSystem.IsMacOS() ? "open" : "xdg-open") { UseShellExecute = false };
            start.ArgumentList.Add(link);
            using var process = Process.Start(start);
            return process is not null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
