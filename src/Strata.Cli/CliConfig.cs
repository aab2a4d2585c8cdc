using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Strata.Cli;

/// <summary>
/// What <c>strata login</c> and <c>strata config</c> save: named contexts, each a server and its token, and the
/// current one (as kubectl's contexts).
/// </summary>
public sealed record CliConfig
{
    /// <summary>The context a command uses when neither <c>--context</c> nor <c>STRATA_CONTEXT</c> names one.</summary>
    public string? CurrentContext { get; init; }
    public Dictionary<string, ServerContext> Contexts { get; init; } = new(StringComparer.Ordinal);

    /// <summary>The context named <paramref name="name"/>, or null.</summary>
    public ServerContext? Find(string? name) => name is not null && Contexts.TryGetValue(name, out var found) ? found : null;

    /// <summary>A copy with <paramref name="name"/> set to <paramref name="context"/>.</summary>
    public CliConfig With(string name, ServerContext context) =>
        this with { Contexts = new(Contexts, StringComparer.Ordinal) { [name] = context } };
}

/// <summary>One server and the token saved for it.</summary>
public sealed record ServerContext
{
    public string? Server { get; init; }
    public string? Token { get; init; }
}

/// <summary>
/// The CLI's config file: <c>$STRATA_CONFIG</c>, else <c>$XDG_CONFIG_HOME/strata/config.json</c>, else
/// <c>~/.config/strata/config.json</c>. It holds tokens, so it is written with mode 0600 (folder 0700). A file
/// of the single-server format before contexts (<c>{"url": …, "token": …}</c>) is read as the context
/// <see cref="DefaultContext"/>, and written in the new format at the next change.
/// </summary>
public sealed class ConfigStore
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
    };

    /// <summary>The context <c>strata login</c> fills when there is none yet, and the one an old config file becomes.</summary>
    public const string DefaultContext = "default";

    public ConfigStore(string path) => Path = path;

    /// <summary>The config file's full path.</summary>
    public string Path { get; }

    /// <summary>Where the config file is, given the environment.</summary>
    public static string ResolvePath(Func<string, string?> environment)
    {
        if (environment("STRATA_CONFIG") is { Length: > 0 } explicitPath)
        {
            return System.IO.Path.GetFullPath(explicitPath);
        }

        var configHome = environment("XDG_CONFIG_HOME");
        if (string.IsNullOrEmpty(configHome))
        {
            var home = environment("HOME");
            if (string.IsNullOrEmpty(home))
            {
                home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            }

            configHome = System.IO.Path.Combine(home, ".config");
        }

        return System.IO.Path.Combine(configHome, "strata", "config.json");
    }

    /// <summary>The saved config, or an empty one when there is no file.</summary>
    /// <exception cref="UsageException">The file exists but is not valid JSON.</exception>
    public CliConfig Load()
    {
        if (!File.Exists(Path))
        {
            return new CliConfig();
        }

        try
        {
            var node = JsonNode.Parse(File.ReadAllText(Path));
            if (node is JsonObject old && !old.ContainsKey("contexts") && (old.ContainsKey("url") || old.ContainsKey("token")))
            {
                var context = new ServerContext { Server = (string?)old["url"], Token = (string?)old["token"] };
                return new CliConfig { CurrentContext = DefaultContext }.With(DefaultContext, context);
            }

            var config = node.Deserialize<CliConfig>(JsonOptions) ?? new CliConfig();
            return config with { Contexts = new(config.Contexts ?? [], StringComparer.Ordinal) };
        }
        catch (JsonException e)
        {
            throw new UsageException($"the config file {Path} is not valid JSON ({e.Message}); fix it or run 'strata login' again", e);
        }
    }

    /// <summary>Writes the config atomically, readable by its owner only.</summary>
    public void Save(CliConfig config)
    {
        var directory = System.IO.Path.GetDirectoryName(Path)!;
        if (!Directory.Exists(directory))
        {
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(directory);
            }
            else
            {
                Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }

        // Created 0600 from the start (never briefly world-readable), then renamed over the old file.
        var temporary = $"{Path}.{Environment.ProcessId}.tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(temporary, options))
        {
            JsonSerializer.Serialize(stream, config, JsonOptions);
        }

        if (!OperatingSystem.IsWindows())
        {
            // UnixCreateMode only applies to a new file; a stale temporary file keeps its old mode.
            File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        File.Move(temporary, Path, overwrite: true);
    }

    /// <summary>Saves the config, or removes the file when no context is left.</summary>
    public void SaveOrDelete(CliConfig config)
    {
        if (config.Contexts.Count > 0)
        {
            Save(config);
        }
        else if (File.Exists(Path))
        {
            File.Delete(Path);
        }
    }
}

/// <summary>The server and token a command uses.</summary>
public sealed record Connection(Uri Url, string? Token);

/// <summary>
/// Chooses the connection: <c>--url</c>/<c>--token</c>, then <c>STRATA_URL</c>/<c>STRATA_TOKEN</c>, then the config
/// file's context (<c>--context</c>, else <c>STRATA_CONTEXT</c>, else the current one), then a job's
/// <c>STRATA_API_URL</c>/<c>STRATA_JOB_TOKEN</c>.
/// </summary>
public static class ConnectionResolver
{
    /// <exception cref="NotLoggedInException">No URL is configured anywhere.</exception>
    /// <exception cref="UsageException">The URL is not an absolute http(s) URL, or the context named does not exist.</exception>
    public static Connection Resolve(string? urlFlag, string? tokenFlag, Func<string, string?> environment, CliConfig config, string? contextFlag = null)
    {
        var context = Context(contextFlag, environment, config);
        // Last, the job's own contract: inside a job, `strata models register` works with no login.
        var url = FirstSet(urlFlag, environment("STRATA_URL"), context?.Server, environment("STRATA_API_URL"))
            ?? throw new NotLoggedInException("not logged in: run 'strata login <url> --with-token' (the token on standard input), or set STRATA_URL and STRATA_TOKEN");
        var token = FirstSet(tokenFlag, environment("STRATA_TOKEN"), context?.Token, environment("STRATA_JOB_TOKEN"));
        return new Connection(ParseUrl(url), token);
    }

    /// <summary>The context named by <c>--context</c>, else <c>STRATA_CONTEXT</c>, else the current one.</summary>
    /// <exception cref="UsageException">A context named by <c>--context</c> or <c>STRATA_CONTEXT</c> does not exist.</exception>
    private static ServerContext? Context(string? contextFlag, Func<string, string?> environment, CliConfig config)
    {
        if (FirstSet(contextFlag, environment("STRATA_CONTEXT")) is { } chosen)
        {
            return config.Find(chosen) ?? throw UnknownContext(chosen, config);
        }

        // A current context that is gone (the file edited by hand) is as good as none: "not logged in".
        return config.Find(config.CurrentContext);
    }

    /// <summary>"no context X; the contexts are a, b": for a name that is not in the config file.</summary>
    public static UsageException UnknownContext(string name, CliConfig config) =>
        new(config.Contexts.Count == 0
            ? $"there is no context \"{name}\": the config file has none; create one with 'strata config set-context {name} --server <url>'"
            : $"there is no context \"{name}\"; the contexts are {string.Join(", ", config.Contexts.Keys.Order(StringComparer.Ordinal))}");

    /// <exception cref="UsageException">The URL is not an absolute http(s) URL.</exception>
    public static Uri ParseUrl(string url)
    {
        if (!Uri.TryCreate(url.Trim(), UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new UsageException($"\"{url}\" is not a server URL; expected something like http://localhost:8080");
        }

        return uri;
    }

    private static string? FirstSet(params string?[] values) =>
        values.FirstOrDefault(v => !string.IsNullOrWhiteSpace(v));
}
