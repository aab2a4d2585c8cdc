using System.Text.Json;
using System.Text.Json.Serialization;

namespace Strata.Cli;

/// <summary>What <c>strata login</c> saves.</summary>
public sealed record CliConfig
{
    public string? Url { get; init; }
    public string? Token { get; init; }
}

/// <summary>
/// The CLI's config file: <c>$STRATA_CONFIG</c>, else <c>$XDG_CONFIG_HOME/strata/config.json</c>, else
/// <c>~/.config/strata/config.json</c>. It holds a token, so it is written with mode 0600 (folder 0700).
/// </summary>
public sealed class ConfigStore
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
    };

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
            return JsonSerializer.Deserialize<CliConfig>(File.ReadAllText(Path), JsonOptions) ?? new CliConfig();
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

    /// <summary>Removes the config file; false when there was none.</summary>
    public bool Delete()
    {
        if (!File.Exists(Path))
        {
            return false;
        }

        File.Delete(Path);
        return true;
    }
}

/// <summary>The server and token a command uses.</summary>
public sealed record Connection(Uri Url, string? Token);

/// <summary>
/// Chooses the connection: <c>--url</c>/<c>--token</c>, then <c>STRATA_URL</c>/<c>STRATA_TOKEN</c>, then the config
/// file, then a job's <c>STRATA_API_URL</c>/<c>STRATA_JOB_TOKEN</c>.
/// </summary>
public static class ConnectionResolver
{
    /// <exception cref="NotLoggedInException">No URL is configured anywhere.</exception>
    /// <exception cref="UsageException">The URL is not an absolute http(s) URL.</exception>
    public static Connection Resolve(string? urlFlag, string? tokenFlag, Func<string, string?> environment, CliConfig config)
    {
        // Last, the job's own contract: inside a job, `strata models register` works with no login.
        var url = FirstSet(urlFlag, environment("STRATA_URL"), config.Url, environment("STRATA_API_URL"))
            ?? throw new NotLoggedInException("not logged in: run 'strata login <url> --token <token>', or set STRATA_URL and STRATA_TOKEN");
        var token = FirstSet(tokenFlag, environment("STRATA_TOKEN"), config.Token, environment("STRATA_JOB_TOKEN"));
        return new Connection(ParseUrl(url), token);
    }

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
