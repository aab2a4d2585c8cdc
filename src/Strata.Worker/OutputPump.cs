namespace Strata.Worker;

/// <summary>
/// Copies the job's stdout and stderr into output.log. Each pipe is written a whole line at a time
/// (a line ends at <c>\n</c> or <c>\r</c>; an unterminated last line is given a <c>\n</c>), so lines of the two streams interleave but never mix,
/// and each write goes straight to the file so <c>logs -f</c> sees it at once. Beyond a cap, output
/// is dropped from the middle (see <see cref="CappedLog"/>).
/// </summary>
internal sealed class OutputPump : IDisposable
{
    /// <summary>A partial line longer than this is written without waiting for its end.</summary>
    private const int MaxPendingBytes = 16 * 1024;

    private readonly CappedLog _file;
    private readonly Lock _lock = new();
    private readonly List<Thread> _threads = [];
    private readonly WorkerLog _log;

    private OutputPump(CappedLog file, WorkerLog log)
    {
        _file = file;
        _log = log;
    }

    /// <summary>Opens (appends to) the log file; throws when it cannot be opened.</summary>
    /// <param name="maxBytes">The most bytes output.log keeps; null: all.</param>
    public static OutputPump Open(string path, WorkerLog log, long? maxBytes = null) => new(CappedLog.Open(path, maxBytes), log);

    /// <summary>Starts copying <paramref name="pipe"/> on a thread of its own until it ends.</summary>
    public void Start(Stream pipe, string name)
    {
        var thread = new Thread(() => Pump(pipe, name)) { IsBackground = true, Name = $"pump {name}" };
        _threads.Add(thread);
        thread.Start();
    }

    /// <summary>Writes one line of the worker's own into the log, between the job's lines (<c>[strata] …</c>).</summary>
    public void WriteLine(string line)
    {
        lock (_lock)
        {
            _file.Write(System.Text.Encoding.UTF8.GetBytes(line + "\n"));
        }
    }

    /// <summary>Waits until every pipe has ended (every writer has exited) or <paramref name="timeout"/> has passed.</summary>
    public bool Wait(TimeSpan timeout)
    {
        var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        foreach (var thread in _threads)
        {
            var left = Math.Max(0, deadline - Environment.TickCount64);
            if (!thread.Join(TimeSpan.FromMilliseconds(left)))
            {
                return false;
            }
        }
        return true;
    }

    private void Pump(Stream pipe, string name)
    {
        var buffer = new byte[64 * 1024];
        var pending = new MemoryStream();
        try
        {
            int read;
            while ((read = pipe.Read(buffer, 0, buffer.Length)) > 0)
            {
                var chunk = buffer.AsSpan(0, read);
                var end = chunk.LastIndexOfAny((byte)'\n', (byte)'\r');
                if (end < 0)
                {
                    pending.Write(chunk);
                    if (pending.Length >= MaxPendingBytes)
                    {
                        Flush(pending, []);
                    }
                    continue;
                }
                Flush(pending, chunk[..(end + 1)]);
                pending.Write(chunk[(end + 1)..]);
            }
            // A last line without its end still gets one, so the other stream's next line starts a line.
            if (pending.Length > 0)
            {
                pending.WriteByte((byte)'\n');
            }
            Flush(pending, []);
        }
        catch (Exception e)
        {
            _log.Write($"copying the job's {name} stopped: {e.Message}");
        }
        finally
        {
            pipe.Dispose();
        }
    }

    private void Flush(MemoryStream pending, ReadOnlySpan<byte> lines)
    {
        if (pending.Length == 0 && lines.IsEmpty)
        {
            return;
        }
        if (pending.Length > 0)
        {
            // One write of whole lines: the start of a line must not be cut from its end.
            pending.Write(lines);
            lines = pending.GetBuffer().AsSpan(0, (int)pending.Length);
        }
        lock (_lock)
        {
            _file.Write(lines);
        }
        pending.SetLength(0);
    }

    /// <summary>
    /// Completes output.log (the dropped line and the tail, where output was dropped); output that
    /// arrives later is not kept. Call once the pipes have ended, or been given up on.
    /// </summary>
    public void Finish()
    {
        lock (_lock)
        {
            try
            {
                _file.Finish();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _log.Write($"could not complete output.log with the tail of the output: {e.Message}");
            }
            if (_file.DroppedBytes > 0)
            {
                _log.Write($"{_file.DroppedBytes} bytes of output were dropped from the middle of output.log");
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _file.Dispose();
        }
    }
}
