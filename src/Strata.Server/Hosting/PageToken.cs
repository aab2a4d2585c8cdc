using System.Buffers.Text;
using System.Globalization;
using System.Text;

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
