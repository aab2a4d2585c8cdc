using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Strata.Contracts;
using Strata.Core.Runtime;
using Strata.Core.Tracking;
using Strata.Server.Attempts;
using Strata.Server.Storage;

namespace Strata.Server.Tracking;

/// <summary>
/// Records the <c>STRATA_METRIC {...}</c> lines of jobs' output while they run. Every
/// <see cref="TrackingOptions.LogScanMilliseconds"/> it reads each started attempt's log from where it
/// stopped (the offset is stored with the attempt), records the complete lines' metrics and the new offset
/// in one write — so a restart neither loses nor repeats a point — and once a finished attempt's log has
/// been read to its end, stops looking at it. It reads through <see cref="IJobRuntime.OpenLogAsync"/>, so
/// it works on any runtime that serves logs. When an attempt ends, the lifecycle has it read the rest of the
/// attempt's log first (<see cref="CollectRemainingAsync"/>), so that the end is recorded after its metrics.
/// </summary>
public sealed class LogMetricsCollector(
    Store store,
    StoreWriter writer,
    IJobRuntime runtime,
    IOptions<TrackingOptions> options,
    TimeProvider time,
    ILogger<LogMetricsCollector> logger) : BackgroundService, IAttemptMetrics
{
    /// <summary>
    /// Passes over one ended attempt's log before its end is recorded: each records up to
    /// <see cref="TrackingOptions.MaxBytesPerScan"/>, or loses a race to a periodic pass that made the same
    /// progress; more than this many means a log still growing, whose rest the periodic passes read.
    /// </summary>
    private const int MaxPassesAtEnd = 64;

    private readonly TrackingOptions _options = options.Value;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(_options.LogScanMilliseconds), time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await ScanAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Reading metrics from job output failed; the next scan retries");
            }
        }
    }

    /// <summary>One pass over every attempt whose output may hold unread metric lines.</summary>
    public async Task ScanAsync(CancellationToken cancellationToken)
    {
        List<AttemptRecord> attempts;
        await using (var db = store.CreateContext())
        {
            attempts = await db.Attempts.AsNoTracking()
                .Where(a => a.LogMetricsPending && a.Status != AttemptStatus.Starting)
                .ToListAsync(cancellationToken);
        }
        foreach (var attempt in attempts)
        {
            await ScanAttemptAsync(attempt, cancellationToken);
        }
    }

    public async Task CollectRemainingAsync(AttemptRef attempt, CancellationToken cancellationToken)
    {
        for (var pass = 0; pass < MaxPassesAtEnd; pass++)
        {
            AttemptRecord? record;
            await using (var db = store.CreateContext())
            {
                record = await db.Attempts.AsNoTracking()
                    .FirstOrDefaultAsync(a => a.JobId == attempt.JobId && a.Number == attempt.Number, cancellationToken);
            }
            if (record is not { LogMetricsPending: true }) return;
            // The process has exited, so its log is whole even though its end is not recorded yet.
            await ScanAttemptAsync(record, cancellationToken, ended: true);
        }
    }

    /// <summary>
    /// The log as a seekable stream: the local runtime's file is one; a streamed log (pods/log on Kubernetes)
    /// is read into memory up to what one scan needs. <c>More</c> says that the streamed log goes on past
    /// what was read, so that the scan does not take the copy's end for the log's.
    /// </summary>
    private async Task<(Stream? Log, bool More)> SeekableAsync(Stream? log, long offset, CancellationToken cancellationToken)
    {
        if (log is null || log.CanSeek) return (log, false);
        await using (log)
        {
            var copy = new MemoryStream();
            var buffer = new byte[81920];
            // One byte past the limit tells whether there is more.
            var limit = offset + _options.MaxBytesPerScan + 1;
            int read;
            while (copy.Length < limit && (read = await log.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, limit - copy.Length)), cancellationToken)) > 0)
            {
                copy.Write(buffer, 0, read);
            }
            var more = copy.Length == limit;
            if (more) copy.SetLength(limit - 1);
            copy.Position = 0;
            return (copy, more);
        }
    }

    private async Task ScanAttemptAsync(AttemptRecord attempt, CancellationToken cancellationToken, bool ended = false)
    {
        var reference = new AttemptRef(attempt.TenantId, attempt.JobId, attempt.Number);
        var finished = ended || !attempt.IsLive;
        var offset = attempt.LogMetricsOffset;
        var consumed = 0;
        List<ValidMetric> points = [];
        var (opened, more) = await SeekableAsync(await runtime.OpenLogAsync(reference, new LogOptions(Follow: false, TailLines: null), cancellationToken), offset, cancellationToken);
        finished = finished && !more;
        await using (var log = opened)
        {
            if (log is null && !finished) return;
            if (log is not null && log.Length > offset)
            {
                log.Position = offset;
                var buffer = new byte[(int)Math.Min(_options.MaxBytesPerScan, log.Length - offset)];
                var read = await log.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken);
                var atEnd = offset + read >= log.Length;
                // Only whole lines, unless the attempt has ended (its last line may lack a newline) or a
                // single line fills the whole buffer (it is then skipped, not waited for).
                consumed = finished && atEnd ? read : buffer.AsSpan(0, read).LastIndexOf((byte)'\n') + 1;
                if (consumed == 0 && read == buffer.Length) consumed = read;
                points = Parse(buffer.AsSpan(0, consumed));
                finished = finished && offset + consumed >= log.Length;
            }
        }
        if (consumed == 0 && !finished) return;

        await writer.WriteAsync(db =>
        {
            var stored = db.Attempts.Find(attempt.JobId, attempt.Number);
            // Another pass got here first (a restart overlapping this one): nothing to do.
            if (stored is null || stored.LogMetricsOffset != offset || !stored.LogMetricsPending) return;
            if (points.Count > 0 && MetricWrites.Append(db, attempt.TenantId, attempt.JobId, points, out var limit) == AppendOutcome.OverLimit)
            {
                logger.LogWarning("Metric lines of attempt {Attempt} were not recorded: {Limit}", reference, limit);
            }
            stored.LogMetricsOffset = offset + consumed;
            stored.LogMetricsPending = !finished;
        }, cancellationToken);
    }

    private List<ValidMetric> Parse(ReadOnlySpan<byte> bytes)
    {
        var points = new List<ValidMetric>();
        var now = time.GetUtcNow();
        var prefix = Encoding.ASCII.GetBytes(MetricValidator.LinePrefix);
        while (bytes.Length > 0)
        {
            var end = bytes.IndexOf((byte)'\n');
            var line = end < 0 ? bytes : bytes[..end];
            bytes = end < 0 ? [] : bytes[(end + 1)..];
            if (line.Length > MetricLimits.MaxLineBytes || line.IndexOf(prefix) < 0) continue;
            if (MetricValidator.ParseLine(Encoding.UTF8.GetString(line), now) is { } point) points.Add(point);
        }
        return points;
    }
}
