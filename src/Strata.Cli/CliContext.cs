using System.CommandLine;
using System.ComponentModel;
using Spectre.Console;
using Strata.Client;

namespace Strata.Cli;

/// <summary>Makes the SDK client a command talks through (tests give one bound to an in-process server).</summary>
public interface IStrataClientFactory
{
    StrataClient Create(Connection connection);
}

/// <summary>The real factory: HTTP to the configured URL.</summary>
public sealed class HttpStrataClientFactory : IStrataClientFactory
{
    public StrataClient Create(Connection connection) => new(connection.Url, connection.Token);
}

/// <summary>How results are printed (<c>-o</c>); docs/cli.md lists them from these descriptions.</summary>
public enum OutputFormat
{
    [Description("A table or a few lines, for people (the default).")]
    Table,
    [Description("The table with the columns it leaves out for width (a job's compute and priority, a deployment's previous version).")]
    Wide,
    [Description("The API's JSON, snake_case, unwrapped.")]
    Json,
    [Description("The same fields as `json`, as YAML.")]
    Yaml,
    [Description("One identifier per line, the one the command's `get` and `delete` take: a job's id, a deployment's or model's name, `model@version` for a version, a context's name. Not kubectl's `kind/name`: `strata jobs list -o name | xargs -n1 strata jobs cancel` works as it is. An output that names nothing (`health`, `usage`) refuses it with exit code 2.")]
    Name,
}

/// <summary>
/// What every command needs: the consoles, the client factory, the environment and the global options.
/// Commands take it (or parts of it) instead of reaching for statics, so tests can drive them.
/// </summary>
public sealed class CliContext
{
    public CliContext(IAnsiConsole output, IAnsiConsole error, IStrataClientFactory clients, Func<string, string?> environment, string workingDirectory)
    {
        Out = output;
        Error = error;
        Clients = clients;
        Environment = environment;
        WorkingDirectory = workingDirectory;
    }

    /// <summary>Standard output: results.</summary>
    public IAnsiConsole Out { get; }
    /// <summary>Standard error: errors and hints.</summary>
    public IAnsiConsole Error { get; }
    public IStrataClientFactory Clients { get; }
    public Func<string, string?> Environment { get; }
    /// <summary>Relative paths (spec files, <c>--data</c>) are resolved against this folder.</summary>
    public string WorkingDirectory { get; }
    /// <summary>Standard input: <c>login --with-token</c> reads the token from it.</summary>
    public TextReader In { get; init; } = Console.In;
    /// <summary>How often <c>jobs wait</c> polls. <value>The default is 1 second.</value></summary>
    public TimeSpan PollInterval { get; init; } = WaitOptions.DefaultPollInterval;

    public Option<string> OutputOption { get; } = new("--output", "-o")
    {
        Description = "Output format: table or wide (for people), json or yaml (the API's fields), name (one identifier per line)",
        Recursive = true,
        DefaultValueFactory = _ => "table",
    };

    public Option<string?> UrlOption { get; } = new("--url")
    {
        Description = "The server's URL (overrides STRATA_URL and the config file)",
        Recursive = true,
    };

    public Option<string?> TokenOption { get; } = new("--token")
    {
        Description = "The bearer token (overrides STRATA_TOKEN and the config file)",
        Recursive = true,
    };

    public Option<string?> ContextOption { get; } = new("--context")
    {
        Description = "The config file's context to use, instead of the current one (overrides STRATA_CONTEXT)",
        Recursive = true,
    };

    /// <summary>The config file's context names, for completion; none when the file cannot be read.</summary>
    public IEnumerable<string> ContextNames()
    {
        try
        {
            return Config.Load().Contexts.Keys.Order(StringComparer.Ordinal).ToList();
        }
        catch (Exception e) when (e is UsageException or IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    public ConfigStore Config => new(ConfigStore.ResolvePath(Environment));

    /// <summary>The <c>-o</c> choices, as typed.</summary>
    public static IReadOnlyList<string> OutputFormats { get; } = [.. Enum.GetNames<OutputFormat>().Select(n => n.ToLowerInvariant())];

    public OutputFormat Format(ParseResult parse) => Enum.Parse<OutputFormat>(parse.GetValue(OutputOption) ?? "table", ignoreCase: true);

    /// <summary>The connection from the flags, the environment and the config file.</summary>
    public Connection ResolveConnection(ParseResult parse) =>
        ConnectionResolver.Resolve(parse.GetValue(UrlOption), parse.GetValue(TokenOption), Environment, Config.Load(), parse.GetValue(ContextOption));

    /// <summary>Runs a command body that needs a client; exceptions become one error line and an exit code.</summary>
    public Task<int> RunAsync(ParseResult parse, Func<StrataClient, CancellationToken, Task<int>> body, CancellationToken cancellationToken, string? subject = null) =>
        RunAsync(async ct =>
        {
            using var client = Clients.Create(ResolveConnection(parse));
            return await body(client, ct);
        }, cancellationToken, subject);

    /// <summary>Runs a command body; exceptions become one error line and an exit code.</summary>
    public async Task<int> RunAsync(Func<CancellationToken, Task<int>> body, CancellationToken cancellationToken, string? subject = null)
    {
        try
        {
            return await body(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return ExitCodes.Interrupted;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return ErrorReporter.Report(Error, e, subject);
        }
    }
}
