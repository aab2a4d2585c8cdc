using System.Buffers.Text;
using System.Globalization;
using System.Text;
using Strata.Core.Jobs;

namespace Strata.Server.Hosting;

/// <summary>Opaque keyset cursors of paged lists: the sequence number of the last item of the previous page.</summary>
public static class PageToken
{
    public static string Write(long seq) => Base64Url.EncodeToString(Encoding.ASCII.GetBytes("s:" + seq.ToString(CultureInfo.InvariantCulture)));

    public static long? Read(string token)
    {
        try
        {
            var text = Encoding.ASCII.GetString(Base64Url.DecodeFromChars(token));
            return text.StartsWith("s:", StringComparison.Ordinal) && long.TryParse(text.AsSpan(2), NumberStyles.None, CultureInfo.InvariantCulture, out var seq) ? seq : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }
}

/// <summary>What every paged list shares: its <c>limit</c> and <c>page_token</c> parameters and the <c>Link</c> to its next page.</summary>
public static class Paging
{
    /// <summary>
    /// <c>limit</c> (1 to <paramref name="maxSize"/>, else <paramref name="defaultSize"/>) and the cursor a
    /// <c>page_token</c> holds; an error is added for each parameter that is wrong.
    /// </summary>
    public static (int Limit, long? Cursor) Read(IQueryCollection query, int defaultSize, int maxSize, ValidationErrors errors)
    {
        var limit = defaultSize;
        if (query.TryGetValue("limit", out var limitText) && !string.IsNullOrEmpty(limitText)
            && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > maxSize))
        {
            errors.Add("limit", $"must be 1 to {maxSize}");
        }
        long? cursor = null;
        if (query.TryGetValue("page_token", out var token) && !string.IsNullOrEmpty(token))
        {
            cursor = PageToken.Read(token!);
            if (cursor is null) errors.Add("page_token", "is not a page token this server issued");
        }
        return (limit, cursor);
    }

    /// <summary>Announces the next page: the same path and filters, continuing after <paramref name="last"/>.</summary>
    public static void SetNextLink(HttpContext context, int limit, long last, params IEnumerable<(string Name, string? Value)> filters)
    {
        var next = new StringBuilder(context.Request.Path.Value).Append("?limit=").Append(limit);
        foreach (var (name, value) in filters)
        {
            if (!string.IsNullOrEmpty(value)) next.Append('&').Append(name).Append('=').Append(Uri.EscapeDataString(value));
        }
        next.Append("&page_token=").Append(PageToken.Write(last));
        context.Response.Headers.Link = $"<{next}>; rel=\"next\"";
    }
}
