using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Strata.Contracts;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Problems;

/// <summary>
/// Issue 15, item 5: malformed input is a 4xx problem every time, on real Kestrel (whose body limit and
/// request-line parsing the in-memory test server does not have). Each case here once gave a 500, or a
/// 400 without a body.
/// </summary>
public sealed class MalformedInputTests(KestrelApp app) : IClassFixture<KestrelApp>
{
    private const int MiB = 1024 * 1024;

    [Theory]
    [InlineData("/v1/tenants")]
    [InlineData("/v1/jobs/training")]
    [InlineData("/v1/models")]
    public async Task A_chunked_json_body_over_the_limit_is_a_413_problem(string route)
    {
        var (_, member) = await app.TenantClientAsync("chunk", Roles.Owner);
        using var client = route == "/v1/tenants" ? app.AdminClient() : member;
        using var content = new ChunkedContent(Encoding.UTF8.GetBytes("{\"name\": \"" + new string('a', 2 * MiB) + "\"}"));

        using var response = await client.PostAsync(route, content);

        await Http.ExpectProblemAsync(response, 413, ProblemTypes.PayloadTooLarge);
    }

    [Fact]
    public async Task A_body_with_a_content_length_over_the_server_limit_is_a_413_problem()
    {
        using var admin = app.AdminClient();
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes("{\"id\": \"" + new string('a', 2 * MiB) + "\"}"));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

        using var response = await admin.PostAsync("/v1/tenants", content);

        await Http.ExpectProblemAsync(response, 413, ProblemTypes.PayloadTooLarge);
    }

    [Theory]
    [InlineData("\"\\ud800\"")]
    [InlineData("\"a\\udc00b\"")]
    [InlineData("\"\\u0000\"")]
    [InlineData("\"x\xff\"")]
    public async Task A_hyperparameter_that_is_not_text_is_refused_and_nothing_is_stored(string value)
    {
        var (_, client) = await app.TenantClientAsync("hp");
        using var _ = client;
        var body = "{\"name\": \"bad-hp\", \"entrypoint\": \"true\", \"hyperparameters\": {\"lr\": " + value + "}}";

        using var response = await client.PostAsync("/v1/jobs/training", Latin1Json(body));

        var problem = await Http.ExpectAsync(response, 400);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(problem.GetProperty("type").GetString(), new[] { ProblemTypes.Validation, ProblemTypes.MalformedRequest });
        using var list = await client.GetAsync("/v1/jobs/training");
        Assert.Empty((await Http.ExpectAsync(list, 200)).EnumerateArray());
    }

    [Fact]
    public async Task An_input_schema_with_invalid_utf8_is_a_400_problem()
    {
        var (_, client) = await app.TenantClientAsync("schema");
        using var _ = client;
        var body = "{\"path\": \"out/model.zip\", \"input_schema\": {\"columns\": [\"\xff\"]}}";

        using var response = await client.PostAsync("/v1/models/churn/versions", Latin1Json(body));

        await Http.ExpectProblemAsync(response, 400, ProblemTypes.MalformedRequest);
    }

    [Fact]
    public async Task Nul_is_refused_in_tenant_names_token_subjects_descriptions_and_hyperparameters()
    {
        using var admin = app.AdminClient();
        using (var tenant = await admin.PostAsJsonAsync("/v1/tenants", new { id = StrataApp.UniqueId("nul"), name = "a\0b" }))
        {
            await Http.ExpectValidationAsync(tenant, "name");
        }
        using (var tenant = await admin.PostAsJsonAsync("/v1/tenants", new { id = StrataApp.UniqueId("ctl"), name = "a\u001bb" }))
        {
            await Http.ExpectValidationAsync(tenant, "name");
        }
        var (tenantId, owner) = await app.TenantClientAsync("nul", Roles.Owner);
        using var _ = owner;
        using (var token = await owner.PostAsJsonAsync($"/v1/tenants/{tenantId}/tokens", new { subject = "ci\0bot" }))
        {
            await Http.ExpectValidationAsync(token, "subject");
        }
        using (var model = await owner.PostAsJsonAsync("/v1/models", new { name = "nul-model", description = "one\0two" }))
        {
            await Http.ExpectValidationAsync(model, "description");
        }
        using (var job = await owner.PostAsJsonAsync("/v1/jobs/training", new { name = "nul-job", entrypoint = "true", hyperparameters = new { lr = "0.1\0" } }))
        {
            await Http.ExpectValidationAsync(job, "hyperparameters.lr");
        }
        using (var models = await owner.GetAsync("/v1/models"))
        {
            Assert.Empty((await Http.ExpectAsync(models, 200)).EnumerateArray());
        }
    }

    [Theory]
    [InlineData("0001-01-01T00:00:00Z")]
    [InlineData("9999-12-31T00:00:00Z")]
    public async Task A_metric_time_outside_the_sane_range_is_refused(string time)
    {
        var (_, client) = await app.TenantClientAsync("mtime");
        using var _ = client;

        using var response = await client.PostAsync("/v1/jobs/training/any-job/metrics",
            Http.JsonText($"{{\"name\": \"loss\", \"value\": 1, \"time\": \"{time}\"}}"));

        await Http.ExpectValidationAsync(response, "time");
    }

    /// <summary>
    /// Kestrel refuses a request target that decodes to NUL while it parses the request line, before any
    /// middleware runs, so its 400 has no body (the app's status-code pages cannot reach it). What this pins
    /// is that it stays a 400 and never reaches a route; the in-memory fuzzer (Fuzz/) checks that every 400
    /// the app itself gives, NUL in a path included, is a problem.
    /// </summary>
    [Theory]
    [InlineData("/v1/models/churn/aliases/a%00b")]
    [InlineData("/v1/deployments/a%00b")]
    public async Task A_path_with_an_encoded_nul_is_a_400(string path)
    {
        var (_, client) = await app.TenantClientAsync("pathnul");
        using var _ = client;
        using var request = new HttpRequestMessage(HttpMethod.Put, new Uri(client.BaseAddress!, path));
        request.Content = Http.JsonText("{\"version\": 1}");

        using var response = await client.SendAsync(request);

        Assert.Equal(400, (int)response.StatusCode);
    }

    [Fact]
    public async Task An_unhandled_exception_is_a_500_problem_with_a_trace_id_and_is_counted()
    {
        using var counted = new UnhandledErrorCount(app.Services);
        var handler = app.Services.GetServices<IExceptionHandler>().Single();
        var context = new DefaultHttpContext { RequestServices = app.Services, TraceIdentifier = "trace-for-test" };
        context.Request.Method = "GET";
        context.Request.Path = "/v1/broken";
        context.Response.Body = new MemoryStream();

        var handled = await handler.TryHandleAsync(context, new InvalidOperationException("a bug"), CancellationToken.None);

        Assert.True(handled);
        Assert.Equal(500, context.Response.StatusCode);
        Assert.StartsWith("application/problem+json", context.Response.ContentType, StringComparison.Ordinal);
        context.Response.Body.Position = 0;
        var text = Encoding.UTF8.GetString(((MemoryStream)context.Response.Body).ToArray());
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(text, "\"trace_id\""));
        var problem = System.Text.Json.JsonDocument.Parse(text).RootElement;
        Assert.Equal(ProblemTypes.Internal, problem.GetProperty("type").GetString());
        Assert.Equal("trace-for-test", problem.GetProperty("trace_id").GetString());
        Assert.DoesNotContain("a bug", problem.ToString(), StringComparison.Ordinal);
        Assert.Equal(1, counted.Total);
    }

    [Fact]
    public async Task A_request_the_framework_could_not_read_keeps_its_4xx_and_is_not_counted()
    {
        using var counted = new UnhandledErrorCount(app.Services);
        var handler = app.Services.GetServices<IExceptionHandler>().Single();
        var context = new DefaultHttpContext { RequestServices = app.Services };
        context.Response.Body = new MemoryStream();

        Assert.True(await handler.TryHandleAsync(context, new BadHttpRequestException("too big", 413), CancellationToken.None));

        Assert.Equal(413, context.Response.StatusCode);
        Assert.Equal(0, counted.Total);
    }

    /// <summary>A body sent byte for byte as written (each char one byte), so that invalid UTF-8 reaches the server.</summary>
    private static ByteArrayContent Latin1Json(string body)
    {
        var content = new ByteArrayContent(Encoding.Latin1.GetBytes(body));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }
}

/// <summary>
/// Counts <c>ml_platform_unhandled_errors</c> of one app only: the meters of every app in the test process
/// share the name <c>Strata</c>, so the listener takes the one its app's meter factory made.
/// </summary>
internal sealed class UnhandledErrorCount : IDisposable
{
    private readonly System.Diagnostics.Metrics.MeterListener _listener = new();
    private long _total;

    public UnhandledErrorCount(IServiceProvider services)
    {
        var factory = services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Name == "ml_platform_unhandled_errors" && ReferenceEquals(instrument.Meter.Scope, factory)) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _total, value));
        _listener.Start();
    }

    public long Total => Interlocked.Read(ref _total);

    public void Dispose() => _listener.Dispose();
}

/// <summary>A JSON body sent without a Content-Length (chunked).</summary>
public sealed class ChunkedContent : HttpContent
{
    private readonly byte[] _bytes;

    public ChunkedContent(byte[] bytes, string mediaType = "application/json")
    {
        _bytes = bytes;
        Headers.ContentType = new MediaTypeHeaderValue(mediaType);
    }

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        try
        {
            for (var i = 0; i < _bytes.Length; i += 64 * 1024)
            {
                await stream.WriteAsync(_bytes.AsMemory(i, Math.Min(64 * 1024, _bytes.Length - i)));
            }
        }
        catch (Exception e) when (e is IOException or HttpRequestException or SocketException)
        {
            // The server may answer 413 and close before it has read the whole body.
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = -1;
        return false;
    }
}
