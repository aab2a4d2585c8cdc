using System.Buffers;
using Strata.Core.Tracking;

namespace Strata.Worker;

/// <summary>
/// output.log with a size cap (<see cref="Strata.Core.Runtime.Local.LaunchFile.MaxLogBytes"/>). The first
/// half of the cap is the head, written to output.log as it comes. Output beyond the head goes to
/// <c>output.tail</c>, which is rotated to <c>output.tail.1</c> whenever it holds half the cap, so the
/// two files always hold the latest output and never more than the cap; memory holds nothing of it.
/// <see cref="Finish"/> then appends to output.log one line saying what was dropped and the last of
/// the output, and removes the tail files.
/// </summary>
/// <remarks>
/// <para>
/// output.log is only ever appended to, never rewritten, so a reader that keeps an offset into it (the
/// server's <c>LogMetricsCollector</c>) neither skips nor repeats anything. <c>STRATA_METRIC</c> lines
/// beyond the head are appended to output.log as they come, after the head, instead of going to the tail
/// (up to a quarter of the cap; later ones are output like any other), so the metrics of a long, chatty
/// job are recorded while it runs even when the lines around them are dropped.
/// </para>
/// <para>
/// The final output.log is at most the cap: head, metric lines, the dropped line, and as much of the
/// tail as the rest of the cap holds, starting at a line's start. Until then only the head and metric
/// lines are in it: <c>logs -f</c> shows the tail once the attempt has ended.
/// </para>
/// </remarks>
internal sealed class CappedLog : IDisposable
{
    /// <summary>The tail files beside output.log.</summary>
    public const string TailFile = "output.tail";

    /// <summary>Room kept for the dropped line.</summary>
    private const int MarkerReserve = 128;

    private static readonly SearchValues<byte> LineEnds = SearchValues.Create("\n\r"u8);
    private static ReadOnlySpan<byte> MetricPrefix => "STRATA_METRIC "u8;

    private readonly FileStream _log;
    private readonly long? _cap;
    private readonly string _tailPath;
    private readonly string _previousTailPath;
    private long _headBytes;
    private long _metricBytes;
    private bool _atLineStart = true;
    private bool _headFull;
    private FileStream? _tail;
    private long _afterHeadBytes;
    private long _afterHeadLines;
    private bool _finished;

    private CappedLog(FileStream log, long? cap, string path)
    {
        _log = log;
        _cap = cap;
        _headBytes = log.Length;
        _headFull = cap is not null && _headBytes >= HeadCap;
        _tailPath = Path.Combine(Path.GetDirectoryName(path)!, TailFile);
        _previousTailPath = _tailPath + ".1";
    }

    /// <summary>Opens (appends to) <paramref name="path"/>; throws when it cannot be opened.</summary>
    /// <param name="maxBytes">The cap; null or not positive: none, everything is kept.</param>
    public static CappedLog Open(string path, long? maxBytes) =>
        new(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0), maxBytes is > 0 ? maxBytes : null, path);

    private long HeadCap => _cap!.Value / 2;
    private long TailCap => _cap!.Value - _cap.Value / 2;
    private long MetricCap => _cap!.Value / 4;

    /// <summary>Bytes dropped so far (known once <see cref="Finish"/> has run).</summary>
    public long DroppedBytes { get; private set; }

    /// <summary>Writes whole lines (or, for a line too long to wait for, part of one). Not thread-safe: the caller serialises.</summary>
    public void Write(ReadOnlySpan<byte> data)
    {
        if (_finished || data.IsEmpty)
        {
            return;
        }
        if (_cap is null)
        {
            _log.Write(data);
            return;
        }
        if (!_headFull)
        {
            var room = HeadCap - _headBytes;
            // Whole lines only: the head ends where a line does.
            var fit = data.Length <= room ? data.Length : data[..(int)room].LastIndexOfAny(LineEnds) + 1;
            if (fit > 0)
            {
                WriteToLog(data[..fit]);
                _headBytes += fit;
                data = data[fit..];
            }
            if (data.IsEmpty)
            {
                return;
            }
            _headFull = true;
        }
        WriteAfterHead(data);
    }

    private void WriteAfterHead(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            var at = _metricBytes < MetricCap ? data.IndexOf(MetricPrefix) : -1;
            if (at < 0)
            {
                ToTail(data);
                return;
            }
            var start = data[..at].LastIndexOfAny(LineEnds) + 1;
            var lineEnd = data[at..].IndexOfAny(LineEnds);
            if (lineEnd < 0)
            {
                // The rest of a line too long to be a metric line.
                ToTail(data);
                return;
            }
            var end = at + lineEnd + 1;
            var line = data[start..end];
            if (line.Length <= MetricLimits.MaxLineBytes + 1 && _metricBytes + line.Length <= MetricCap)
            {
                ToTail(data[..start]);
                if (!_atLineStart)
                {
                    WriteToLog("\n"u8);
                    _metricBytes++;
                }
                WriteToLog(line);
                _metricBytes += line.Length;
            }
            else
            {
                ToTail(data[..end]);
            }
            data = data[end..];
        }
    }

    private void WriteToLog(ReadOnlySpan<byte> data)
    {
        _log.Write(data);
        _atLineStart = data[^1] is (byte)'\n' or (byte)'\r';
    }

    private void ToTail(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }
        _afterHeadBytes += data.Length;
        _afterHeadLines += data.Count((byte)'\n');
        _tail ??= new FileStream(_tailPath, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 64 * 1024);
        _tail.Write(data);
        if (_tail.Length >= TailCap)
        {
            _tail.Dispose();
            _tail = null;
            File.Move(_tailPath, _previousTailPath, overwrite: true);
        }
    }

    /// <summary>
    /// Completes output.log: when output was dropped, the dropped line and the last of the output; else
    /// whatever followed the head. Later writes are ignored. Not thread-safe: the caller serialises.
    /// </summary>
    public void Finish()
    {
        if (_finished)
        {
            return;
        }
        _finished = true;
        _tail?.Dispose();
        _tail = null;
        if (_cap is not { } cap || _afterHeadBytes == 0)
        {
            DeleteTailFiles();
            return;
        }
        var tail = new ConcatenatedFiles([_previousTailPath, _tailPath]);
        var budget = Math.Max(0, cap - _headBytes - _metricBytes - MarkerReserve);
        var start = Math.Max(0, tail.Length - budget);
        if (start > 0)
        {
            // From the start of a line: the first one after the cut, unless the cut is at one already.
            start = tail.IndexAfterLineEnd(start - 1);
        }
        var kept = tail.Length - start;
        DroppedBytes = _afterHeadBytes - kept;
        if (DroppedBytes > 0)
        {
            if (!_atLineStart)
            {
                WriteToLog("\n"u8);
            }
            var droppedLines = _afterHeadLines - tail.CountLineFeeds(start);
            WriteToLog(System.Text.Encoding.UTF8.GetBytes(
                string.Create(System.Globalization.CultureInfo.InvariantCulture, $"[strata: {DroppedBytes} bytes ({droppedLines} lines) of output dropped]\n")));
        }
        tail.CopyTo(start, _log);
        DeleteTailFiles();
    }

    private void DeleteTailFiles()
    {
        File.Delete(_tailPath);
        File.Delete(_previousTailPath);
    }

    public void Dispose()
    {
        _tail?.Dispose();
        _log.Dispose();
    }

    /// <summary>Files read as one, those missing left out.</summary>
    private sealed class ConcatenatedFiles
    {
        private readonly (string Path, long Length)[] _files;

        public ConcatenatedFiles(string[] paths)
        {
            _files = paths.Where(File.Exists).Select(p => (p, new FileInfo(p).Length)).ToArray();
            Length = _files.Sum(f => f.Length);
        }

        public long Length { get; }

        /// <summary>The offset after the first line end at or after <paramref name="from"/>; <see cref="Length"/> when there is none.</summary>
        public long IndexAfterLineEnd(long from)
        {
            var offset = from;
            var found = -1L;
            Read(from, chunk =>
            {
                var end = chunk.IndexOfAny(LineEnds);
                if (end >= 0)
                {
                    found = offset + end + 1;
                    return false;
                }
                offset += chunk.Length;
                return true;
            });
            return found < 0 ? Length : found;
        }

        public long CountLineFeeds(long from)
        {
            var count = 0L;
            Read(from, chunk =>
            {
                count += chunk.Count((byte)'\n');
                return true;
            });
            return count;
        }

        public void CopyTo(long from, Stream destination) => Read(from, chunk =>
        {
            destination.Write(chunk);
            return true;
        });

        private delegate bool ChunkReader(ReadOnlySpan<byte> chunk);

        /// <summary>Hands the bytes from <paramref name="from"/> on to <paramref name="reader"/>, a chunk at a time, until it returns false.</summary>
        private void Read(long from, ChunkReader reader)
        {
            var buffer = ArrayPool<byte>.Shared.Rent(256 * 1024);
            try
            {
                foreach (var (path, length) in _files)
                {
                    if (from >= length)
                    {
                        from -= length;
                        continue;
                    }
                    using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
                    file.Position = from;
                    from = 0;
                    int read;
                    while ((read = file.Read(buffer, 0, buffer.Length)) > 0)
                    {
                        if (!reader(buffer.AsSpan(0, read)))
                        {
                            return;
                        }
                    }
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }
}
