namespace Strata.Core.Runtime;

/// <summary>Where the end of a log begins: what <c>tail=N</c> shows.</summary>
public static class LogTail
{
    /// <summary>The offset where the last <paramref name="lines"/> lines begin, found by reading back from the end.</summary>
    public static long StartOfLastLines(Stream stream, int lines)
    {
        var length = stream.Length;
        if (lines == 0) return length;
        var buffer = new byte[8192];
        var position = length;
        var newlines = 0;
        // A final newline ends the last line; it does not start another.
        var skipFinal = true;
        while (position > 0)
        {
            var size = (int)Math.Min(buffer.Length, position);
            position -= size;
            stream.Position = position;
            stream.ReadExactly(buffer, 0, size);
            for (var i = size - 1; i >= 0; i--)
            {
                if (buffer[i] != (byte)'\n') { skipFinal = false; continue; }
                if (skipFinal) { skipFinal = false; continue; }
                if (++newlines == lines) return position + i + 1;
            }
        }
        return 0;
    }
}
