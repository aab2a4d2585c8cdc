using System.Net;
using Strata.Cli.Tests.Support;
using Strata.Client;
using Strata.Contracts;

namespace Strata.Cli.Tests.Unit;

public sealed class ClientTests
{
    private static string Job(string id, string status = "pending") => $$"""
        {"id":"{{id}}","spec":{"name":"n-{{id}}"},"status":"{{status}}","created_at":"2025-01-01T00:00:00Z","started_at":null,
         "completed_at":null,"error_message":null,"kubernetes_job_name":null,"metrics":{},"status_reason":null,
         "attempts":0,"runtime":null,"queue_position":null,"output":null}
        """;

    /// <summary>Without retries: these tests are about single answers (RetryTests has the retries).</summary>
    private static readonly StrataClientOptions Once = new() { MaxAttempts = 1 };

    private static StrataClient Client(StubHandler handler, string baseUrl = "http://strata.test") => new(new Uri(baseUrl), "tok", handler, Once);

    [Theory]
    [InlineData("""<http://s/v1/jobs/training?limit=2&page_token=abc%3D%3D>; rel="next" """, "abc==")]
    [InlineData("""</v1/jobs/training?page_token=xyz&limit=2>; rel=next""", "xyz")]
    [InlineData("""<http://s/v1/jobs/training?page_token=first>; rel="prev", <http://s/v1/jobs/training?page_token=second>; rel="next" """, "second")]
    [InlineData("""<http://s/v1/jobs/training?page_token=p>; rel="prev" """, null)]
    [InlineData("""<http://s/v1/jobs/training?limit=2>; rel="next" """, null)]
    [InlineData("garbage", null)]
    public void The_next_page_token_is_read_from_the_Link_header(string header, string? token) =>
        Assert.Equal(token, LinkHeader.NextPageToken([header]));

    [Fact]
    public async Task ListAsync_returns_the_page_and_the_next_page_token()
    {
        var handler = new StubHandler(_ =>
        {
            var response = StubHandler.Json(HttpStatusCode.OK, $"[{Job("b")},{Job("a")}]");
            response.Headers.Add("Link", """<http://strata.test/v1/jobs/training?status=running&limit=2&page_token=t%2B1>; rel="next" """);
            return response;
        });
        using var client = Client(handler);

        var page = await client.Jobs.ListAsync(new JobListOptions { Status = JobStatus.Running, Limit = 2 });

        Assert.Equal(["b", "a"], page.Items.Select(j => j.Id));
        Assert.Equal("t+1", page.NextPageToken);
        Assert.Equal("/v1/jobs/training?status=running&limit=2", handler.Requests.Single().RequestUri!.PathAndQuery);
        Assert.Equal("tok", handler.Requests.Single().Headers.Authorization!.Parameter);
    }

    [Fact]
    public async Task ListAllAsync_follows_the_next_links_until_the_last_page()
    {
        var handler = new StubHandler(request =>
        {
            var token = LinkHeader.QueryParameter(request.RequestUri!.ToString(), "page_token");
            var (items, next) = token switch
            {
                null => ($"{Job("5")},{Job("4")}", "p 2"),
                "p 2" => ($"{Job("3")},{Job("2")}", "p3"),
                "p3" => (Job("1"), null),
                _ => throw new InvalidOperationException(token),
            };
            var response = StubHandler.Json(HttpStatusCode.OK, $"[{items}]");
            if (next is not null)
            {
                response.Headers.Add("Link", $"<http://strata.test/v1/jobs/training?limit=2&page_token={Uri.EscapeDataString(next)}>; rel=\"next\"");
            }

            return response;
        });
        using var client = Client(handler);

        var ids = new List<string>();
        await foreach (var job in client.Jobs.ListAllAsync(new JobListOptions { Limit = 2 }))
        {
            ids.Add(job.Id);
        }

        Assert.Equal(["5", "4", "3", "2", "1"], ids);
        Assert.Equal(3, handler.Requests.Count);
        Assert.Equal("/v1/jobs/training?limit=2&page_token=p%202", handler.Requests[1].RequestUri!.PathAndQuery);
    }

    [Fact]
    public async Task ListAllAsync_stops_when_a_server_repeats_a_page_token()
    {
        var handler = new StubHandler(_ =>
        {
            var response = StubHandler.Json(HttpStatusCode.OK, $"[{Job("1")}]");
            response.Headers.Add("Link", """</v1/jobs/training?page_token=same>; rel="next" """);
            return response;
        });
        using var client = Client(handler);

        var count = 0;
        await foreach (var _ in client.Jobs.ListAllAsync())
        {
            count++;
        }

        Assert.Equal(2, count);
    }

    [Theory]
    [InlineData(400, ProblemTypes.Validation, typeof(ValidationException))]
    [InlineData(413, ProblemTypes.PayloadTooLarge, typeof(ValidationException))]
    [InlineData(422, ProblemTypes.Validation, typeof(ValidationException))]
    [InlineData(401, ProblemTypes.Unauthenticated, typeof(UnauthorizedException))]
    [InlineData(403, ProblemTypes.Forbidden, typeof(ForbiddenException))]
    [InlineData(404, ProblemTypes.NotFound, typeof(NotFoundException))]
    [InlineData(409, ProblemTypes.Conflict, typeof(ConflictException))]
    [InlineData(429, ProblemTypes.QuotaExceeded, typeof(QuotaExceededException))]
    [InlineData(429, ProblemTypes.RateLimited, typeof(RateLimitedException))]
    [InlineData(503, ProblemTypes.Unavailable, typeof(StrataApiException))]
    public async Task Problem_responses_become_typed_exceptions(int status, string type, Type exceptionType)
    {
        var handler = new StubHandler(_ => StubHandler.Problem((HttpStatusCode)status,
            $$"""{"type":"{{type}}","title":"Title","status":{{status}},"detail":"Detail here.","errors":{"spec.name":["bad","worse"]},"extra":1}"""));
        using var client = Client(handler);

        var e = await Assert.ThrowsAnyAsync<StrataApiException>(() => client.Jobs.GetAsync("x"));

        Assert.Equal(exceptionType, e.GetType());
        Assert.Equal(status, e.Status);
        Assert.Equal(type, e.Type);
        Assert.Equal("Title", e.Title);
        Assert.Equal("Detail here.", e.Detail);
        Assert.Equal(["bad", "worse"], e.Errors["spec.name"]);
        Assert.Equal(1, e.ProblemDetails!.Value.GetProperty("extra").GetInt32());
        Assert.Equal($"Detail here. ({status})", e.Message);
    }

    [Fact]
    public async Task A_rate_limit_carries_Retry_After()
    {
        var handler = new StubHandler(_ =>
        {
            var response = StubHandler.Problem(HttpStatusCode.TooManyRequests, """{"type":"urn:strata:problem:rate-limited","title":"Slow down","status":429}""");
            response.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.FromSeconds(7));
            return response;
        });
        using var client = Client(handler);

        var e = await Assert.ThrowsAsync<RateLimitedException>(() => client.MeAsync());

        Assert.Equal(TimeSpan.FromSeconds(7), e.RetryAfter);
    }

    [Theory]
    [InlineData("<html>Bad Gateway</html>", "text/html")]
    [InlineData("", "text/plain")]
    [InlineData("[1,2]", "application/json")]
    public async Task A_non_problem_error_body_still_becomes_an_API_exception_with_the_status(string body, string mediaType)
    {
        var handler = new StubHandler(_ => StubHandler.Json(HttpStatusCode.BadGateway, body, mediaType));
        using var client = Client(handler);

        var e = await Assert.ThrowsAsync<StrataApiException>(() => client.HealthAsync());

        Assert.Equal(502, e.Status);
        Assert.Null(e.Type);
        Assert.Contains("(502)", e.Message);
    }

    [Fact]
    public async Task A_refused_connection_is_a_connection_exception_naming_the_URL()
    {
        using var client = new StrataClient(new Uri("http://127.0.0.1:1"), "t", Once);

        var e = await Assert.ThrowsAsync<StrataConnectionException>(() => client.MeAsync());

        Assert.Contains("http://127.0.0.1:1", e.Message);
        Assert.Equal("/v1/me", e.Url!.AbsolutePath);
    }

    [Fact]
    public async Task A_base_URL_with_a_path_keeps_it()
    {
        var handler = new StubHandler(_ => StubHandler.Json(HttpStatusCode.OK, """{"status":"healthy","service":"strata","version":null}"""));
        using var client = Client(handler, "http://proxy.test/strata");

        var health = await client.HealthAsync();

        Assert.Equal("healthy", health.Status);
        Assert.Equal("/strata/v1/health", handler.Requests.Single().RequestUri!.AbsolutePath);
    }

    [Fact]
    public async Task WaitAsync_polls_until_a_terminal_status_and_reports_each_change()
    {
        var statuses = new Queue<string>(["pending", "pending", "running", "running", "failed"]);
        var handler = new StubHandler(_ => StubHandler.Json(HttpStatusCode.OK, Job("j", statuses.Dequeue())));
        using var client = Client(handler);
        var seen = new List<JobStatus>();

        var job = await client.Jobs.GetHandle("j").WaitAsync(new WaitOptions
        {
            PollInterval = TimeSpan.FromMilliseconds(1),
            OnChange = j => seen.Add(j.Status),
        });

        Assert.Equal(JobStatus.Failed, job.Status);
        Assert.Equal([JobStatus.Pending, JobStatus.Running, JobStatus.Failed], seen);
        Assert.Equal(5, handler.Requests.Count);
    }

    [Fact]
    public async Task WaitAsync_throws_a_timeout_when_the_job_does_not_end_in_time()
    {
        var handler = new StubHandler(_ => StubHandler.Json(HttpStatusCode.OK, Job("j", "running")));
        using var client = Client(handler);

        var e = await Assert.ThrowsAsync<TimeoutException>(() => client.Jobs.GetHandle("j").WaitAsync(new WaitOptions
        {
            PollInterval = TimeSpan.FromMilliseconds(10),
            Timeout = TimeSpan.FromMilliseconds(100),
        }));

        Assert.Contains("running", e.Message);
    }

    [Fact]
    public async Task ReadLogsAsync_yields_lines_and_sends_the_options()
    {
        var handler = new StubHandler(_ => StubHandler.Json(HttpStatusCode.OK, "one\ntwo\r\nthree", "text/plain"));
        using var client = Client(handler);

        var lines = new List<string>();
        await foreach (var line in client.Jobs.GetHandle("j 1").ReadLogsAsync(new LogOptions { Tail = 3, Follow = true, Attempt = 2 }))
        {
            lines.Add(line);
        }

        Assert.Equal(["one", "two", "three"], lines);
        Assert.Equal("/v1/jobs/training/j%201/logs?tail=3&follow=true&attempt=2", handler.Requests.Single().RequestUri!.PathAndQuery);
    }
}
