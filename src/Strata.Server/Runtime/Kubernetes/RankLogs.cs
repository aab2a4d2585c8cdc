using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using k8s.Models;

namespace Strata.Server.Runtime.Kubernetes;

/// <summary>
/// The logs of a distributed attempt's ranks: which pod is which rank, and every rank's lines interleaved, each
/// prefixed with <c>[rank N] </c>. The pods' logs are read with Kubernetes' timestamps, which are removed: a log
/// that is read to its end is put in the order its lines were written (ties: the lower rank first); a followed
/// one is written as lines arrive.
/// </summary>
public static class RankLogs
{
    /// <summary>The newest pod of each rank, by its completion index; a pod without one (a Job of one worker) is rank 0.</summary>
    public static SortedDictionary<int, string> PodsByRank(IEnumerable<V1Pod> pods)
    {
        var byRank = new SortedDictionary<int, string>();
        foreach (var rank in pods.GroupBy(Rank))
        {
            byRank[rank.Key] = rank.OrderByDescending(p => p.Metadata.CreationTimestamp).First().Metadata.Name;
        }
        return byRank;
    }

    public static int Rank(V1Pod pod) =>
        pod.Metadata.Labels?.TryGetValue(KubernetesNames.CompletionIndexLabel, out var index) == true
        && int.TryParse(index, NumberStyles.None, CultureInfo.InvariantCulture, out var rank)
            ? rank
            : 0;

    public static string Prefix(int rank) => $"[rank {rank.ToString(CultureInfo.InvariantCulture)}] ";

    /// <summary>Reads every rank's timestamped log to its end and returns their lines in the order they were written.</summary>
    public static async Task<Stream> MergeAsync(IReadOnlyList<(int Rank, Stream Log)> logs, CancellationToken cancellationToken)
    {
        var lines = new List<(long Time, int Rank, int Order, string Text)>();
        foreach (var (rank, log) in logs)
        {
            await using var owned = log;
            using var reader = new StreamReader(log, Encoding.UTF8);
            var (order, time) = (0, 0L);
            while (await reader.ReadLineAsync(cancellationToken) is { } line)
            {
                var (stamp, text) = SplitTimestamp(line);
                // A line without a time of its own (there should be none) stays after the one before it.
                time = stamp ?? time;
                lines.Add((time, rank, order++, text));
            }
        }
        var merged = new StringBuilder();
        foreach (var line in lines.OrderBy(l => l.Time).ThenBy(l => l.Rank).ThenBy(l => l.Order))
        {
            merged.Append(Prefix(line.Rank)).Append(line.Text).Append('\n');
        }
        // Not seekable, as IJobRuntime asks of a log the runtime has applied the options to.
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        await pipe.Writer.WriteAsync(Encoding.UTF8.GetBytes(merged.ToString()), cancellationToken);
        await pipe.Writer.CompleteAsync();
        return pipe.Reader.AsStream();
    }

    /// <summary>Follows every rank's timestamped log, writing each line as it arrives, until all have ended.</summary>
    public static Stream Follow(IReadOnlyList<(int Rank, Stream Log)> logs, CancellationToken cancellationToken)
    {
        var pipe = new Pipe();
        var gate = new SemaphoreSlim(1, 1);
        _ = Task.Run(async () =>
        {
            try
            {
                await Task.WhenAll(logs.Select(l => CopyLinesAsync(l.Rank, l.Log, pipe.Writer, gate, cancellationToken)));
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException)
            {
                // The reader went away, or a pod's log ended abruptly: the stream simply ends.
            }
            finally
            {
                await pipe.Writer.CompleteAsync();
                gate.Dispose();
            }
        }, CancellationToken.None);
        return pipe.Reader.AsStream();
    }

    private static async Task CopyLinesAsync(int rank, Stream log, PipeWriter writer, SemaphoreSlim gate, CancellationToken cancellationToken)
    {
        await using var owned = log;
        using var reader = new StreamReader(log, Encoding.UTF8);
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            var bytes = Encoding.UTF8.GetBytes(Prefix(rank) + SplitTimestamp(line).Text + "\n");
            await gate.WaitAsync(cancellationToken);
            try
            {
                var flushed = await writer.WriteAsync(bytes, cancellationToken);
                if (flushed.IsCompleted) return;
            }
            finally
            {
                gate.Release();
            }
        }
    }

    /// <summary>
    /// Splits a line of a log read with <c>timestamps=true</c> into its time (ticks, UTC) and its text; a line that
    /// does not start with an RFC 3339 time (Go's, up to 9 fractional digits) has none.
    /// </summary>
    public static (long? Time, string Text) SplitTimestamp(string line)
    {
        var space = line.IndexOf(' ', StringComparison.Ordinal);
        if (space < 20 || line[space - 1] != 'Z') return (null, line);
        var stamp = line[..(space - 1)];
        var dot = stamp.IndexOf('.', StringComparison.Ordinal);
        var seconds = dot < 0 ? stamp : stamp[..dot];
        if (!DateTime.TryParseExact(seconds, "yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var time))
        {
            return (null, line);
        }
        var fraction = dot < 0 ? "" : stamp[(dot + 1)..];
        if (fraction.Length > 0 && !fraction.All(char.IsAsciiDigit)) return (null, line);
        var ticks = fraction.Length == 0 ? 0 : long.Parse(fraction.PadRight(7, '0')[..7], CultureInfo.InvariantCulture);
        return (time.Ticks + ticks, line[(space + 1)..]);
    }
}
