using System.Globalization;

namespace Strata.Worker.Fetch;

/// <summary>The command line of <c>strata-worker fetch</c>.</summary>
internal sealed record FetchOptions(Uri Api, string Model, string Version, string OutDirectory, string Token, TimeSpan RetryFor)
{
    /// <summary>Where the token is when no <c>--token-file</c> names it.</summary>
    public const string TokenVariable = "STRATA_FETCH_TOKEN";

    /// <summary>How long the API may be unreachable (or answer 5xx) to one request before fetch gives up; the API may be starting.</summary>
    public const int DefaultRetrySeconds = 300;

    public const string Usage =
        "usage: strata-worker fetch --url <api> --model <name> --version <n|alias> --out <dir> [--token-file <file>] [--retry-for-seconds <n>]\n" +
        "       downloads the version's model file to <dir>/model.zip or <dir>/model.onnx, and its input schema to\n" +
        "       <dir>/schema.json (an earlier schema.json is removed when the version has none); an alias is resolved\n" +
        "       to its version's number once, before the file is asked for. The token is read from --token-file (a\n" +
        "       Secret's volume), else from STRATA_FETCH_TOKEN; each request is retried for --retry-for-seconds (300).";

    /// <summary>The options, or null with the <paramref name="problem"/> in one line.</summary>
    public static FetchOptions? Parse(string[] args, Func<string, string?> environment, out string? problem)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i += 2)
        {
            if (args[i] is not ("--url" or "--model" or "--version" or "--out" or "--token-file" or "--retry-for-seconds") || i + 1 >= args.Length)
            {
                problem = $"unexpected argument '{args[i]}'";
                return null;
            }
            values[args[i]] = args[i + 1];
        }
        foreach (var required in new[] { "--url", "--model", "--version", "--out" })
        {
            if (string.IsNullOrWhiteSpace(values.GetValueOrDefault(required)))
            {
                problem = $"{required} is required";
                return null;
            }
        }
        if (!Uri.TryCreate(values["--url"], UriKind.Absolute, out var api) || api.Scheme is not ("http" or "https"))
        {
            problem = $"--url must be the API's http or https address, not '{values["--url"]}'";
            return null;
        }
        // The API's routes are relative to it: behind a path prefix (http://host/strata), that prefix stays.
        if (!api.AbsolutePath.EndsWith('/')) api = new Uri(api.AbsoluteUri + "/");
        var retrySeconds = DefaultRetrySeconds;
        if (values.TryGetValue("--retry-for-seconds", out var retry)
            && !(int.TryParse(retry, NumberStyles.None, CultureInfo.InvariantCulture, out retrySeconds) && retrySeconds > 0))
        {
            problem = "--retry-for-seconds must be a whole number of seconds from 1";
            return null;
        }
        string? token;
        if (values.TryGetValue("--token-file", out var tokenFile))
        {
            try
            {
                token = File.ReadAllText(tokenFile).Trim();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                problem = $"--token-file {tokenFile}: {e.Message}";
                return null;
            }
        }
        else
        {
            token = environment(TokenVariable)?.Trim();
        }
        if (string.IsNullOrEmpty(token))
        {
            problem = $"no token: give --token-file or set {TokenVariable}";
            return null;
        }
        problem = null;
        return new FetchOptions(api, values["--model"], values["--version"], values["--out"], token, TimeSpan.FromSeconds(retrySeconds));
    }
}
