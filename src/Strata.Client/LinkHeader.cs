using System.Text.RegularExpressions;

namespace Strata.Client;

/// <summary>Reads RFC 8288 <c>Link</c> headers as the API sends them: <c>&lt;url&gt;; rel="next"</c>.</summary>
public static partial class LinkHeader
{
    [GeneratedRegex("""<(?<url>[^>]*)>(?<params>[^,<]*)""")]
    private static partial Regex LinkPattern();

    [GeneratedRegex("""(?:^|;)\s*rel\s*=\s*"?(?<rel>[^";]+)"?""", RegexOptions.IgnoreCase)]
    private static partial Regex RelPattern();

    /// <summary>The target of the link with relation <paramref name="rel"/>, or null.</summary>
    public static string? FindLink(IEnumerable<string> headerValues, string rel)
    {
        foreach (var header in headerValues)
        {
            foreach (Match link in LinkPattern().Matches(header))
            {
                var relMatch = RelPattern().Match(link.Groups["params"].Value);
                if (relMatch.Success && relMatch.Groups["rel"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                        .Any(r => string.Equals(r, rel, StringComparison.OrdinalIgnoreCase)))
                {
                    return link.Groups["url"].Value.Trim();
                }
            }
        }

        return null;
    }

    /// <summary>The <c>page_token</c> query parameter of the <c>rel="next"</c> link, or null when there is none.</summary>
    public static string? NextPageToken(IEnumerable<string> headerValues)
    {
        var url = FindLink(headerValues, "next");
        return url is null ? null : QueryParameter(url, "page_token");
    }

    /// <summary>A query parameter of an absolute or relative URL, unescaped; null when absent.</summary>
    public static string? QueryParameter(string url, string name)
    {
        var queryStart = url.IndexOf('?', StringComparison.Ordinal);
        if (queryStart < 0)
        {
            return null;
        }

        var query = url[(queryStart + 1)..];
        var fragment = query.IndexOf('#', StringComparison.Ordinal);
        if (fragment >= 0)
        {
            query = query[..fragment];
        }

        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Uri.UnescapeDataString((eq < 0 ? pair : pair[..eq]).Replace('+', ' '));
            if (key == name)
            {
                return eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..].Replace('+', ' '));
            }
        }

        return null;
    }
}
