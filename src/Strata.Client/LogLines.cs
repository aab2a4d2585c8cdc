using System.Runtime.CompilerServices;
using System.Text;

namespace Strata.Client;

/// <summary>A line of a log and where it ends: the bytes from the log's start up to and with its newline.</summary>
/// <param name="Complete">False for a last line that had no newline when the response ended.</param>
internal sealed record LogLine(string Text, long End, bool Complete);

/// <summary>The response broke after it had started: the server went away mid-stream.</summary>
internal sealed class LogStreamBrokenException(Uri url, Exception innerException) : StrataConnectionException(url, innerException);

/// <summary>Reads a text response as lines, counting bytes, so that a broken stream can be read again from where it broke.</summary>
internal static class LogLines
{
    /// <summary>
    /// The lines of <paramref name="path"/>'s response after its first <paramref name="skip"/> bytes (those already
    /// printed). Lines are split at <c>\n</c> bytes, which never occur inside a UTF-8 character, and a trailing
    /// <c>\r</c> is dropped.
    /// </summary>
    /// <exception cref="LogStreamBrokenException">The response broke after its headers.</exception>
    /// <exception cref="StrataConnectionException">The server could not be reached (after the client's retries).</exception>
    public static async IAsyncEnumerable<LogLine> ReadAsync(
        StrataClient client, string path, long skip, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var response = await client.SendRawAsync(HttpMethod.Get, path, null, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        var url = new Uri(client.BaseUrl, path);
        await using var stream = await ReadBodyAsync(response, url, cancellationToken);
        var buffer = new byte[16 * 1024];
        var line = new MemoryStream();
        long offset = 0;
        int read;
        while ((read = await ReadAsync(stream, buffer, url, cancellationToken)) > 0)
        {
            var chunk = buffer.AsMemory(0, read);
            if (offset < skip)
            {
                var skipped = (int)Math.Min(skip - offset, read);
                offset += skipped;
                chunk = chunk[skipped..];
            }

            while (!chunk.IsEmpty)
            {
                var newline = chunk.Span.IndexOf((byte)'\n');
                if (newline < 0)
                {
                    line.Write(chunk.Span);
                    offset += chunk.Length;
                    break;
                }

                line.Write(chunk.Span[..newline]);
                offset += newline + 1;
                chunk = chunk[(newline + 1)..];
                yield return new LogLine(Decode(line), offset, Complete: true);
                line.SetLength(0);
            }
        }

        if (line.Length > 0)
        {
            yield return new LogLine(Decode(line), offset, Complete: false);
        }
    }

    private static string Decode(MemoryStream line)
    {
        var bytes = line.GetBuffer().AsSpan(0, (int)line.Length);
        if (bytes.Length > 0 && bytes[^1] == '\r') bytes = bytes[..^1];
        return Encoding.UTF8.GetString(bytes);
    }

    private static async Task<Stream> ReadBodyAsync(HttpResponseMessage response, Uri url, CancellationToken cancellationToken)
    {
        try
        {
            return await response.Content.ReadAsStreamAsync(cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new LogStreamBrokenException(url, e);
        }
    }

    private static async Task<int> ReadAsync(Stream stream, byte[] buffer, Uri url, CancellationToken cancellationToken)
    {
        try
        {
            return await stream.ReadAsync(buffer, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new LogStreamBrokenException(url, e);
        }
        catch (IOException e)
        {
            throw new LogStreamBrokenException(url, e);
        }
    }
}
