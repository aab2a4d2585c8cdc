using System.Net;
using System.Text;
using Strata.Client;
using Strata.Contracts;

namespace Strata.Cli.Tests.Unit;

/// <summary>
/// What the long calls do when the server goes away in the middle: a wait keeps polling, a followed log
/// reconnects and goes on from the last byte it returned.
/// </summary>
public sealed class OutageTests
{
    /// <summary>No retries inside the client: every outage reaches the wait and the log follower.</summary>
    private static readonly StrataClientOptions Once = new() { MaxAttempts = 1 };

    private static string Job(string status) => $$"""
        {"id":"j1","spec":{"name":"n"},"status":"{{status}}","created_at":"2025-01-01T00:00:00Z","started_at":null,
         "completed_at":null,"error_message":null,"kubernetes_job_name":null,"metrics":{},"status_reason":null,
         "attempts":1,"runtime":null,"queue_position":null,"output":null}
        """;

    private static string Attempts(string status) => $$"""[{"number":1,"status":"{{status}}","created_at":"2025-01-01T00:00:00Z"}]""";

    [Fact]
    public async Task A_wait_polls_through_a_503_a_429_and_a_refused_connection()
    {
        var answers = new Queue<Func<HttpResponseMessage>>(
        [
            () => Json(Job("running")),
            () => Problem(HttpStatusCode.ServiceUnavailable, ProblemTypes.Unavailable),
            () => Problem(HttpStatusCode.TooManyRequests, ProblemTypes.RateLimited),
            () => throw new HttpRequestException("Connection refused"),
            () => Json(Job("succeeded")),
        ]);
        using var client = new StrataClient(new Uri("http://strata.test"), "t", new Support.StubHandler(_ => answers.Dequeue()()), Once);

        var job = await client.Jobs.GetHandle("j1").WaitAsync(new WaitOptions { PollInterval = TimeSpan.FromMilliseconds(1) });

        Assert.Equal(JobStatus.Succeeded, job.Status);
        Assert.Empty(answers);
    }

    [Fact]
    public async Task A_followed_log_resumes_after_a_dropped_stream_from_the_last_byte_it_returned()
    {
        // The first stream breaks in the middle of line 3 (and of its two-byte "é"); the second is the whole log.
        var log = Encoding.UTF8.GetBytes("line 1\r\nline 2\nline 3 é\nline 4\n");
        var logReads = 0;
        var handler = new Support.StubHandler(request => request.RequestUri!.AbsolutePath switch
        {
            "/v1/jobs/training/j1/logs" => ++logReads == 1
                ? Text(new BreakingStream(log.AsSpan(0, log.Length - 9).ToArray()))
                : Text(new MemoryStream(log)),
            "/v1/jobs/training/j1" => Json(Job("succeeded")),
            "/v1/jobs/training/j1/attempts" => Json(Attempts("succeeded")),
            var path => throw new InvalidOperationException(path),
        });
        using var client = new StrataClient(new Uri("http://strata.test"), "t", handler, Once);

        var lines = new List<string>();
        await foreach (var line in client.Jobs.GetHandle("j1").ReadLogsAsync(new LogOptions { Follow = true }))
        {
            lines.Add(line);
        }

        Assert.Equal(["line 1", "line 2", "line 3 é", "line 4"], lines);
        var logRequests = handler.Requests.Where(r => r.RequestUri!.AbsolutePath.EndsWith("/logs", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, logRequests.Count);
        // The attempt read first is the one read again, even if a retry starts another meanwhile.
        Assert.Contains("attempt=1", logRequests[1].RequestUri!.Query, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_followed_log_that_ends_while_its_attempt_still_runs_is_read_again()
    {
        // A stopping server closes the stream cleanly, mid-line; the attempt goes on.
        var reads = new Queue<string>(["a\nb", "a\nb\nc\n"]);
        var attempts = new Queue<string>([Attempts("running"), Attempts("succeeded")]);
        var handler = new Support.StubHandler(request => request.RequestUri!.AbsolutePath switch
        {
            "/v1/jobs/training/j1/logs" => Text(new MemoryStream(Encoding.UTF8.GetBytes(reads.Dequeue()))),
            "/v1/jobs/training/j1" => Json(Job("running")),
            "/v1/jobs/training/j1/attempts" => Json(attempts.Dequeue()),
            var path => throw new InvalidOperationException(path),
        });
        using var client = new StrataClient(new Uri("http://strata.test"), "t", handler, Once);

        var lines = new List<string>();
        await foreach (var line in client.Jobs.GetHandle("j1").ReadLogsAsync(new LogOptions { Follow = true }))
        {
            lines.Add(line);
        }

        Assert.Equal(["a", "b", "c"], lines);
    }

    [Fact]
    public async Task An_unfollowed_log_that_breaks_is_an_error()
    {
        var handler = new Support.StubHandler(_ => Text(new BreakingStream(Encoding.UTF8.GetBytes("a\n"))));
        using var client = new StrataClient(new Uri("http://strata.test"), "t", handler, Once);

        await Assert.ThrowsAnyAsync<StrataConnectionException>(async () =>
        {
            await foreach (var _ in client.Jobs.GetHandle("j1").ReadLogsAsync()) { }
        });
    }

    private static HttpResponseMessage Json(string json) =>
        new(HttpStatusCode.OK) { Content = new StringContent(json, Encoding.UTF8, "application/json") };

    private static HttpResponseMessage Text(Stream body) => new(HttpStatusCode.OK) { Content = new StreamContent(body) };

    private static HttpResponseMessage Problem(HttpStatusCode status, string type) =>
        new(status) { Content = new StringContent($$"""{"type":"{{type}}","title":"t","status":{{(int)status}}}""", Encoding.UTF8, "application/problem+json") };

    /// <summary>Gives its bytes, then fails as a connection reset does.</summary>
    private sealed class BreakingStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override int Read(byte[] buffer, int offset, int count)
        {
            var read = base.Read(buffer, offset, count);
            return read > 0 ? read : throw new IOException("Connection reset by peer");
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = base.Read(buffer.Span);
            return read > 0 ? ValueTask.FromResult(read) : ValueTask.FromException<int>(new IOException("Connection reset by peer"));
        }
    }
}
