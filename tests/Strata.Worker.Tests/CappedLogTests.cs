using System.Text;

namespace Strata.Worker.Tests;

/// <summary>output.log's cap: head, dropped line and tail, metric lines kept, the file only ever appended to.</summary>
public sealed class CappedLogTests : IDisposable
{
    private const int Cap = 64 * 1024;
    private readonly string _folder = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "strata-capped-log", Guid.NewGuid().ToString("N"))).FullName;

    private string LogPath => Path.Combine(_folder, "output.log");

    private static string Line(int i) => $"line {i:D6} of the output, padded to be a little longer\n";

    private static void Write(CappedLog log, string text) => log.Write(Encoding.UTF8.GetBytes(text));

    [Fact]
    public void Output_within_the_cap_is_kept_whole_without_a_dropped_line()
    {
        var expected = string.Concat(Enumerable.Range(0, 1000).Select(Line));
        Assert.InRange(expected.Length, Cap / 2, Cap - 200);
        using (var log = CappedLog.Open(LogPath, Cap))
        {
            foreach (var i in Enumerable.Range(0, 1000))
            {
                Write(log, Line(i));
            }
            log.Finish();
            Assert.Equal(0, log.DroppedBytes);
        }

        Assert.Equal(expected, File.ReadAllText(LogPath));
        Assert.Single(Directory.GetFiles(_folder));
    }

    [Fact]
    public void Beyond_the_cap_the_head_and_the_tail_are_kept_with_the_dropped_bytes_and_lines_between()
    {
        const int Lines = 20_000;
        var all = string.Concat(Enumerable.Range(0, Lines).Select(Line));
        using var log = CappedLog.Open(LogPath, Cap);
        // In chunks of several lines, as the pump hands them over.
        foreach (var chunk in Enumerable.Range(0, Lines).Chunk(37))
        {
            Write(log, string.Concat(chunk.Select(Line)));
        }
        // While the job runs the file holds the head only.
        Assert.InRange(new FileInfo(LogPath).Length, Cap / 2 - Line(0).Length, Cap / 2);

        log.Finish();

        var text = File.ReadAllText(LogPath);
        Assert.InRange(text.Length, Cap - 2 * Line(0).Length - 128, Cap);
        var marker = System.Text.RegularExpressions.Regex.Match(text, @"\[strata: (\d+) bytes \((\d+) lines\) of output dropped\]\n");
        Assert.True(marker.Success, "no dropped line");
        var head = text[..marker.Index];
        var tail = text[(marker.Index + marker.Length)..];
        Assert.StartsWith(head, all, StringComparison.Ordinal);
        Assert.EndsWith(tail, all, StringComparison.Ordinal);
        Assert.StartsWith("line ", tail, StringComparison.Ordinal);
        Assert.Equal(all.Length - head.Length - tail.Length, long.Parse(marker.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(log.DroppedBytes, long.Parse(marker.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(Lines - head.Count(c => c == '\n') - tail.Count(c => c == '\n'), int.Parse(marker.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Single(Directory.GetFiles(_folder));
    }

    [Fact]
    public void Metric_lines_beyond_the_head_are_appended_as_they_come_and_the_file_is_never_rewritten()
    {
        using var log = CappedLog.Open(LogPath, Cap);
        for (var i = 0; i < 5000; i++)
        {
            Write(log, Line(i));
            if (i % 1000 == 999)
            {
                Write(log, $"epoch done\n2026-12-02 INFO STRATA_METRIC {{\"name\":\"loss\",\"value\":{i},\"step\":{i}}}\nmore\n");
            }
        }
        var running = File.ReadAllText(LogPath);
        Assert.Equal(5, running.Split("STRATA_METRIC").Length - 1);

        log.Finish();

        var final = File.ReadAllText(LogPath);
        // Appended to only: an offset into the file while the job ran is still good.
        Assert.StartsWith(running, final, StringComparison.Ordinal);
        Assert.Equal(5, final.Split("STRATA_METRIC").Length - 1);
        Assert.Contains("\n2026-12-02 INFO STRATA_METRIC {\"name\":\"loss\",\"value\":4999,\"step\":4999}\n", final, StringComparison.Ordinal);
        Assert.InRange(final.Length, Cap / 2, Cap);
    }

    [Fact]
    public void Metric_lines_stop_being_kept_apart_once_a_quarter_of_the_cap_is_used()
    {
        using var log = CappedLog.Open(LogPath, Cap);
        var metric = $"STRATA_METRIC {{\"name\":\"loss\",\"value\":1,\"step\":1,\"pad\":\"{new string('x', 900)}\"}}\n";
        for (var i = 0; i < 1000; i++)
        {
            Write(log, Line(i));
        }
        for (var i = 0; i < 100; i++)
        {
            Write(log, metric);
        }

        log.Finish();

        Assert.InRange(new FileInfo(LogPath).Length, Cap / 2, Cap);
    }

    [Fact]
    public void Without_a_cap_everything_is_kept()
    {
        using (var log = CappedLog.Open(LogPath, null))
        {
            for (var i = 0; i < 5000; i++)
            {
                Write(log, Line(i));
            }
            log.Finish();
        }

        Assert.Equal(string.Concat(Enumerable.Range(0, 5000).Select(Line)), File.ReadAllText(LogPath));
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
