using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;
using Strata.Client;
using Strata.Contracts;

namespace Strata.Cli.Tests.Unit;

/// <summary>
/// The client's retry rules against a scripted server on a fake clock: which requests are sent again, after
/// how long, with which idempotency key, and when the client gives up. Nothing here sleeps: the clock is moved
/// to the instant a retry is due, and the request must come exactly then.
/// </summary>
public sealed class RetryTests
{
    private const string JobJson = """
        {"id":"j1","spec":{"name":"n"},"status":"succeeded","created_at":"2025-01-01T00:00:00Z","started_at":null,
         "completed_at":null,"error_message":null,"kubernetes_job_name":null,"metrics":{},"status_reason":null,
         "attempts":1,"runtime":null,"queue_position":null,"output":null}
        """;

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    /// <summary>Base 1 s, cap 10 s, and a jitter that always draws half: the waits are 0.5 s, 1 s, 2 s, 4 s, 5 s, ...</summary>
    private StrataClientOptions Options(int attempts = 4) => new()
    {
        MaxAttempts = attempts,
        BaseDelay = TimeSpan.FromSeconds(1),
        MaxDelay = TimeSpan.FromSeconds(10),
        TimeProvider = _time,
        Random = () => 0.5,
    };

    [Fact]
    public async Task A_GET_is_retried_after_503_502_and_504_with_exponential_backoff_and_full_jitter()
    {
        var server = new ScriptedServer(_time, Status(503), Status(502), Status(504), Json(JobJson));
        using var client = new StrataClient(new Uri("http://strata.test"), "t", server, Options());

        var call = client.Jobs.GetAsync("j1");

        await server.ExpectRequestAfterAsync(TimeSpan.Zero);
        await server.ExpectRequestAfterAsync(TimeSpan.FromSeconds(0.5));
        await server.ExpectRequestAfterAsync(TimeSpan.FromSeconds(1));
        await server.ExpectRequestAfterAsync(TimeSpan.FromSeconds(2));
        Assert.Equal("j1", (await call).Id);
    }

    [Fact]
    public async Task A_refused_connection_is_retried()
    {
        var server = new ScriptedServer(_time, (_, _) => throw new HttpRequestException("Connection refused"), Json(JobJson));
        using var client = new StrataClient(new Uri("http://strata.test"), "t", server, Options());

        var call = client.Jobs.GetAsync("j1");

        await server.ExpectRequestAfterAsync(TimeSpan.Zero);
        await server.ExpectRequestAfterAsync(TimeSpan.FromSeconds(0.5));
        Assert.Equal("j1", (await call).Id);
    }

    [Fact]
    public async Task A_429_is_retried_after_its_Retry_After_rather_than_the_backoff()
    {
        var server = new ScriptedServer(_time, RateLimited(TimeSpan.FromSeconds(7)), Json(JobJson));
        using var client = new StrataClient(new Uri("http://strata.test"), "t", server, Options());

        var call = client.Jobs.GetAsync("j1");

        await server.ExpectRequestAfterAsync(TimeSpan.Zero);
        await server.ExpectRequestAfterAsync(TimeSpan.FromSeconds(7));
        Assert.Equal("j1", (await call).Id);
    }

    [Fact]
    public async Task A_quota_429_without_Retry_After_is_not_retried()
    {
        var server = new ScriptedServer(_time, (_, _) => Task.FromResult(Problem(HttpStatusCode.TooManyRequests, ProblemTypes.QuotaExceeded)));
        using var client = new StrataClient(new Uri("http://strata.test"), "t", server, Options());

        await Assert.ThrowsAsync<QuotaExceededException>(() => client.Jobs.GetAsync("j1"));

        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task A_Retry_After_past_the_deadline_is_not_waited_for()
    {
        var server = new ScriptedServer(_time, RateLimited(TimeSpan.FromSeconds(90)));
        using var client = new StrataClient(new Uri("http://strata.test"), "t", server, Options() with { Deadline = TimeSpan.FromSeconds(60) });

        var e = await Assert.ThrowsAsync<RateLimitedException>(() => client.Jobs.GetAsync("j1"));

        Assert.Equal(TimeSpan.FromSeconds(90), e.RetryAfter);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task The_deadline_bounds_a_call_whose_attempts_never_answer()
    {
        var server = new ScriptedServer(_time, Hang);
        using var client = new StrataClient(new Uri("http://strata.test"), "t", server,
            Options(attempts: 10) with { AttemptTimeout = TimeSpan.FromSeconds(20), Deadline = TimeSpan.FromSeconds(45) });

        var call = client.Jobs.GetAsync("j1");

        await server.ExpectRequestAfterAsync(TimeSpan.Zero);
        await server.AdvanceAsync(TimeSpan.FromSeconds(20)); // the first attempt's timeout
        await server.ExpectRequestAfterAsync(TimeSpan.FromSeconds(0.5)); // the backoff
        _time.Advance(TimeSpan.FromSeconds(45 - 20.5)); // the deadline, with the second attempt in flight
        var e = await Assert.ThrowsAsync<StrataConnectionException>(() => call);
        Assert.IsType<TimeoutException>(e.InnerException);
        Assert.Contains("45 s", e.Message);
        Assert.Equal(2, server.Requests.Count);
    }

    [Fact]
    public async Task The_attempts_are_settable()
    {
        var server = new ScriptedServer(_time, Status(503));
        using var client = new StrataClient(new Uri("http://strata.test"), "t", server, Options(attempts: 2));

        var call = client.Jobs.GetAsync("j1");

        await server.ExpectRequestAfterAsync(TimeSpan.Zero);
        await server.ExpectRequestAfterAsync(TimeSpan.FromSeconds(0.5));
        var e = await Assert.ThrowsAsync<StrataApiException>(() => call);
        Assert.Equal(503, e.Status);
        Assert.Equal(2, server.Requests.Count);
    }

    [Fact]
    public async Task A_POST_without_an_idempotency_key_is_not_retried()
    {
        var server = new ScriptedServer(_time, Status(503));
        using var client = new StrataClient(new Uri("http://strata.test"), "t", server, Options());

        var e = await Assert.ThrowsAsync<StrataApiException>(() => client.Jobs.ReportMetricsAsync("j1", [new MetricPoint { Name = "loss", Value = 1 }]));

        Assert.Equal(503, e.Status);
        var request = Assert.Single(server.Requests);
        Assert.Null(request.IdempotencyKey);
    }

    [Fact]
    public async Task A_job_submission_is_retried_with_the_same_idempotency_key_and_the_next_one_gets_another()
    {
        var server = new ScriptedServer(_time, (_, _) => throw new HttpRequestException("Connection reset"), Status(503), Json(JobJson, HttpStatusCode.Created), Json(JobJson, HttpStatusCode.Created));
        using var client = new StrataClient(new Uri("http://strata.test"), "t", server, Options());

        var first = client.Jobs.SubmitAsync(new TrainingJobSpec { Name = "n", Entrypoint = "true" });
        await server.ExpectRequestAfterAsync(TimeSpan.Zero);
        await server.ExpectRequestAfterAsync(TimeSpan.FromSeconds(0.5));
        await server.ExpectRequestAfterAsync(TimeSpan.FromSeconds(1));
        await first;
        await client.Jobs.SubmitAsync(new TrainingJobSpec { Name = "n", Entrypoint = "true" });

        var keys = server.Requests.Select(r => r.IdempotencyKey).ToList();
        Assert.True(Guid.TryParse(keys[0], out _), keys[0]);
        Assert.Equal([keys[0], keys[0], keys[0]], keys.Take(3));
        Assert.NotEqual(keys[0], keys[3]);
        Assert.All(server.Requests, r => Assert.Contains("\"name\":\"n\"", r.Body, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_deployment_creation_carries_an_idempotency_key()
    {
        var server = new ScriptedServer(_time, Status(503), Status(409));
        using var client = new StrataClient(new Uri("http://strata.test"), "t", server, Options());

        var call = client.Deployments.CreateAsync(new CreateDeploymentRequest { Name = "d", Model = "m@1" });
        await server.ExpectRequestAfterAsync(TimeSpan.Zero);
        await server.ExpectRequestAfterAsync(TimeSpan.FromSeconds(0.5));
        await Assert.ThrowsAsync<ConflictException>(() => call);

        Assert.NotNull(server.Requests[0].IdempotencyKey);
        Assert.Equal(server.Requests[0].IdempotencyKey, server.Requests[1].IdempotencyKey);
    }

    [Fact]
    public async Task An_upload_from_a_seekable_stream_is_sent_again_whole_with_one_key()
    {
        var server = new ScriptedServer(_time, Status(503), Json("""{"id":"a1","name":"data.csv","kind":"file","size_bytes":9,"sha256":"x","uri":"strata://a1","created_at":"2025-01-01T00:00:00Z"}""", HttpStatusCode.Created));
        using var client = new StrataClient(new Uri("http://strata.test"), "t", server, Options());
        using var content = new MemoryStream(Encoding.UTF8.GetBytes("a,b\n1,2\n"));

        var call = client.Artifacts.UploadAsync(content, "data.csv");
        await server.ExpectRequestAfterAsync(TimeSpan.Zero);
        await server.ExpectRequestAfterAsync(TimeSpan.FromSeconds(0.5));
        await call;

        Assert.All(server.Requests, r => Assert.Equal("a,b\n1,2\n", r.Body));
        Assert.NotNull(server.Requests[0].IdempotencyKey);
        Assert.Equal(server.Requests[0].IdempotencyKey, server.Requests[1].IdempotencyKey);
    }

    [Fact]
    public async Task An_upload_from_a_stream_that_cannot_seek_is_sent_once()
    {
        var server = new ScriptedServer(_time, Status(503));
        using var client = new StrataClient(new Uri("http://strata.test"), "t", server, Options());
        using var content = new ForwardOnlyStream(Encoding.UTF8.GetBytes("a,b\n1,2\n"));

        var e = await Assert.ThrowsAsync<StrataApiException>(() => client.Artifacts.UploadAsync(content, "data.csv"));

        Assert.Equal(503, e.Status);
        var request = Assert.Single(server.Requests);
        Assert.Null(request.IdempotencyKey);
    }

    [Fact]
    public async Task A_followed_log_waits_past_the_deadline_for_its_job_to_start()
    {
        var server = new ScriptedServer(_time,
            async (_, token) =>
            {
                await Task.Delay(TimeSpan.FromSeconds(90), _time, token); // queued: no headers until the attempt starts
                return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("started\n") };
            },
            Json(JobJson),
            Json("""[{"number":1,"status":"succeeded","created_at":"2025-01-01T00:00:00Z"}]"""));
        using var client = new StrataClient(new Uri("http://strata.test"), "t", server, Options());

        var lines = client.Jobs.GetHandle("j1").ReadLogsAsync(new LogOptions { Follow = true }).ToListAsync().AsTask();
        await server.ExpectRequestAfterAsync(TimeSpan.Zero);
        await server.AdvanceAsync(TimeSpan.FromSeconds(90));

        Assert.Equal(["started"], await lines);
        Assert.Single(server.Requests, r => r.Path.EndsWith("/logs", StringComparison.Ordinal));
    }

    [Fact]
    public async Task WithOptions_gives_some_calls_other_rules_over_the_same_connection()
    {
        var server = new ScriptedServer(_time, Status(503));
        using var client = new StrataClient(new Uri("http://strata.test"), "t", server, Options());
        using var once = client.WithOptions(client.Options with { MaxAttempts = 1 });

        await Assert.ThrowsAsync<StrataApiException>(() => once.Jobs.GetAsync("j1"));

        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task A_deployment_that_is_not_ready_is_an_answer_not_a_failure_to_retry()
    {
        var server = new ScriptedServer(_time, (_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.ServiceUnavailable)
        {
            Content = new StringContent("""{"status":"unhealthy","ready_replicas":0,"desired_replicas":1,"model_version":1}""", Encoding.UTF8, "application/json"),
        }));
        using var client = new StrataClient(new Uri("http://strata.test"), "t", server, Options());

        var health = await client.Deployments.HealthAsync("d");

        Assert.Equal("unhealthy", health.Status);
        Assert.Single(server.Requests);
    }

    private static Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> Status(int status) =>
        (_, _) => Task.FromResult(Problem((HttpStatusCode)status, ProblemTypes.Unavailable));

    private static Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> Json(string json, HttpStatusCode status = HttpStatusCode.OK) =>
        (_, _) => Task.FromResult(new HttpResponseMessage(status) { Content = new StringContent(json, Encoding.UTF8, "application/json") });

    private static Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> RateLimited(TimeSpan retryAfter) => (_, _) =>
    {
        var response = Problem(HttpStatusCode.TooManyRequests, ProblemTypes.RateLimited);
        response.Headers.RetryAfter = new RetryConditionHeaderValue(retryAfter);
        return Task.FromResult(response);
    };

    private static HttpResponseMessage Problem(HttpStatusCode status, string type) =>
        new(status) { Content = new StringContent($$"""{"type":"{{type}}","title":"t","status":{{(int)status}}}""", Encoding.UTF8, "application/problem+json") };

    /// <summary>An attempt that never answers; its timeout cancels it.</summary>
    private static async Task<HttpResponseMessage> Hang(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        await Task.Delay(Timeout.Infinite, cancellationToken);
        throw new InvalidOperationException("unreachable");
    }

    private sealed record SeenRequest(DateTimeOffset At, string Method, string Path, string? IdempotencyKey, string? Body);

    /// <summary>
    /// Answers each request with the next script step (the last one repeats), recording what came and when on
    /// the fake clock. <see cref="ExpectRequestAfterAsync"/> moves the clock to the instant the next request is
    /// due and checks it came then, not before.
    /// </summary>
    private sealed class ScriptedServer(FakeTimeProvider time, params Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>>[] script) : HttpMessageHandler
    {
        private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(1);
        private readonly Channel<SeenRequest> _arrivals = Channel.CreateUnbounded<SeenRequest>();
        private int _next;
        private DateTimeOffset _last;

        public List<SeenRequest> Requests { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var body = request.Content is null ? null : await request.Content.ReadAsStringAsync(cancellationToken);
            var key = request.Headers.TryGetValues("Idempotency-Key", out var keys) ? keys.Single() : null;
            var seen = new SeenRequest(time.GetUtcNow(), request.Method.Method, request.RequestUri!.AbsolutePath, key, body);
            lock (Requests) Requests.Add(seen);
            var step = script[Math.Min(_next++, script.Length - 1)];
            _arrivals.Writer.TryWrite(seen);
            return await step(request, cancellationToken);
        }

        /// <summary>Moves the clock, lets what was due run, and measures the next request's wait from there.</summary>
        private static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(200);

        public async Task AdvanceAsync(TimeSpan span)
        {
            time.Advance(span);
            // Lets what the clock's move set off (a timeout's cancellation, the retry's backoff timer) run on the real
            // thread pool before the next move: on a loaded machine 50 ms was not always enough, and a timer registered
            // after the move waited for good.
            await Task.Delay(Settle);
            _last = time.GetUtcNow();
        }

        /// <summary>Moves the clock <paramref name="wait"/> past the previous request and expects the next one exactly then.</summary>
        public async Task ExpectRequestAfterAsync(TimeSpan wait)
        {
            if (wait > Tick)
            {
                time.Advance(wait - Tick);
                // Lets a retry that was due too early arrive before the instant, where the check below sees it.
                await Task.Delay(Settle);
                time.Advance(Tick);
            }

            using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var seen = await _arrivals.Reader.ReadAsync(patience.Token);
            if (_last != default) Assert.Equal(wait, seen.At - _last);
            _last = seen.At;
        }
    }

    /// <summary>A stream read once from start to end, as from a pipe.</summary>
    private sealed class ForwardOnlyStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }
}
