using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Strata.Core.Runtime;

namespace Strata.Server.Runtime.Local;

/// <summary>
/// The logs of a gang's ranks as one stream (<c>rank=all</c>): whole lines, each prefixed with <c>[rank N] </c>,
/// taken from the ranks in turn, a line at a time, as they are written. A finished gang's logs are interleaved
/// the same way, so lines of different ranks come in turn rather than in the order they were written.
/// </summary>
internal static class RankLogs
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan EndCheckInterval = TimeSpan.FromMilliseconds(500);

    /// <param name="paths">Each rank's log, by rank; a missing one is opened once it exists.</param>
    /// <param name="options">Its tail applies to each rank's log; followed, the stream ends after <paramref name="ended"/> does.</param>
    /// <param name="ended">Whether every rank has ended (nothing more will be written).</param>
    public static Stream Interleave(IReadOnlyList<string> paths, LogOptions options, Func<bool> ended, TimeProvider time, CancellationToken cancellationToken)
    {
        var pipe = new Pipe();
        _ = Task.Run(async () =>
        {
            var ranks = paths.Select((path, rank) => new RankLog(path, rank, options.TailLines)).ToList();
            try
            {
                await PumpAsync(ranks, pipe.Writer, options.Follow, ended, time, cancellationToken);
                await pipe.Writer.CompleteAsync();
            }
            catch (Exception e)
            {
                // The reader sees the failure (or has gone, which is what cancelled the pump).
                await pipe.Writer.CompleteAsync(e);
            }
            finally
            {
                foreach (var rank in ranks) rank.Dispose();
            }
        }, CancellationToken.None);
        return pipe.Reader.AsStream();
    }

    private static async Task PumpAsync(List<RankLog> ranks, PipeWriter writer, bool follow, Func<bool> ended, TimeProvider time, CancellationToken cancellationToken)
    {
        // Not followed: what is there now, partial last lines included.
        var final = !follow;
        var lastEndCheck = time.GetUtcNow();
        while (true)
        {
            var wrote = false;
            foreach (var rank in ranks)
            {
                if (!rank.TryReadLine(final, out var line)) continue;
                writer.Write(rank.Prefix);
                writer.Write(line.Span);
                writer.Write("\n"u8);
                wrote = true;
            }
            if (wrote)
            {
                if (writer.UnflushedBytes >= 64 * 1024) await writer.FlushAsync(cancellationToken);
                continue;
            }
            var flushed = await writer.FlushAsync(cancellationToken);
            if (final || flushed.IsCompleted) return;
            await Task.Delay(PollInterval, time, cancellationToken);
            if (time.GetUtcNow() - lastEndCheck >= EndCheckInterval)
            {
                lastEndCheck = time.GetUtcNow();
                // One more pass once the end is seen, so that the last output (and a last line with no newline) is kept.
                final = ended();
            }
        }
    }

    /// <summary>One rank's log, read a whole line at a time as it grows.</summary>
    private sealed class RankLog(string path, int rank, int? tailLines) : IDisposable
    {
        private const int MaxLine = 64 * 1024;
        private readonly byte[] _buffer = new byte[MaxLine];
        private FileStream? _stream;
        private int _start;
        private int _end;

        public byte[] Prefix { get; } = Encoding.UTF8.GetBytes($"[rank {rank}] ");

        /// <summary>The next whole line (without its newline); with <paramref name="final"/>, a last partial line too.</summary>
        public bool TryReadLine(bool final, out ReadOnlyMemory<byte> line)
        {
            line = default;
            while (true)
            {
                var newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
                if (newline >= 0)
                {
                    line = _buffer.AsMemory(_start, newline - _start);
                    _start = newline + 1;
                    return true;
                }
                // A line longer than the buffer is cut where the buffer ends.
                if (_end - _start == MaxLine) return Take(out line);
                if (!Fill()) return final && _end > _start && Take(out line);
            }
        }

        private bool Take(out ReadOnlyMemory<byte> line)
        {
            line = _buffer.AsMemory(_start, _end - _start);
            _start = _end;
            return true;
        }

        /// <summary>Reads more of the log into the buffer; false when there is nothing more yet.</summary>
        private bool Fill()
        {
            if (_stream is null && !TryOpen()) return false;
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            var read = _stream!.Read(_buffer, _end, _buffer.Length - _end);
            _end += read;
            return read > 0;
        }

        private bool TryOpen()
        {
            try
            {
                _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                return false;
            }
            if (tailLines is { } lines) _stream.Position = LogTail.StartOfLastLines(_stream, lines);
            return true;
        }

        public void Dispose() => _stream?.Dispose();
    }
}
