using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Polly;
using Polly.Timeout;
using Strata.Contracts;

namespace Strata.Client;

/// <summary>
/// The .NET SDK of the Strata API. One instance per server and token; thread-safe; dispose it when done
/// (it disposes the <see cref="HttpClient"/> it created, never one it was given).
/// </summary>
/// <example>
/// <code>
/// using var strata = new StrataClient(new Uri("http://localhost:8080"), token);
/// var job = await strata.Jobs.SubmitAsync(new TrainingJobSpec { Name = "churn", Entrypoint = "python train.py" });
/// var done = await job.WaitAsync();
/// </code>
/// </example>
public sealed class StrataClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly string? _token;
    private readonly ResiliencePipeline<HttpResponseMessage> _pipeline;

    /// <summary>Talks to the server at <paramref name="baseUrl"/> (without <c>/v1</c>) with a bearer token.</summary>
    /// <param name="options">Retries and deadlines; <see cref="StrataClientOptions"/>' defaults when null.</param>
    public StrataClient(Uri baseUrl, string? token = null, StrataClientOptions? options = null)
        : this(Unbounded(new HttpClient { BaseAddress = baseUrl }), token, disposeHttpClient: true, options)
    {
    }

    /// <summary>Talks to the server at <paramref name="baseUrl"/> through <paramref name="handler"/> (tests, proxies).</summary>
    public StrataClient(Uri baseUrl, string? token, HttpMessageHandler handler, StrataClientOptions? options = null)
        : this(Unbounded(new HttpClient(handler, disposeHandler: false) { BaseAddress = baseUrl }), token, disposeHttpClient: true, options)
    {
    }

    /// <summary>
    /// Uses <paramref name="httpClient"/>, whose <see cref="HttpClient.BaseAddress"/> must be the server's
    /// URL. The token is sent on each request; the client's default headers are left untouched. Its
    /// <see cref="HttpClient.Timeout"/> still bounds each attempt.
    /// </summary>
    /// <exception cref="ArgumentException">The HttpClient has no absolute BaseAddress, or an option is out of range.</exception>
    public StrataClient(HttpClient httpClient, string? token = null, bool disposeHttpClient = false, StrataClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(httpClient);
        if (httpClient.BaseAddress is not { IsAbsoluteUri: true } baseAddress)
        {
            throw new ArgumentException("The HttpClient must have an absolute BaseAddress (the server's URL).", nameof(httpClient));
        }

        // A base address without a trailing slash would drop its last segment when v1/... is resolved against it.
        if (!baseAddress.AbsolutePath.EndsWith('/'))
        {
            httpClient.BaseAddress = new Uri(baseAddress.GetLeftPart(UriPartial.Path) + "/");
        }

        Options = options ?? new StrataClientOptions();
        Options.Validate();
        _pipeline = RequestRetries.Build(Options);
        _http = httpClient;
        _ownsHttp = disposeHttpClient;
        _token = string.IsNullOrWhiteSpace(token) ? null : token.Trim();
        Tenants = new TenantsClient(this);
        Tokens = new TokensClient(this);
        Jobs = new JobsClient(this);
        Usage = new UsageClient(this);
        Artifacts = new ArtifactsClient(this);
        Models = new ModelsClient(this);
        Deployments = new DeploymentsClient(this);
    }

    /// <summary>How this client retries and how long its calls may take.</summary>
    public StrataClientOptions Options { get; }

    /// <summary>
    /// A client over the same connection and token with other options, for calls that need another deadline
    /// or no retries: <c>strata.WithOptions(strata.Options with { Deadline = TimeSpan.FromSeconds(5) })</c>.
    /// Disposing it leaves the connection open; this client owns it.
    /// </summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public StrataClient WithOptions(StrataClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new StrataClient(_http, _token, disposeHttpClient: false, options);
    }

    /// <summary>The deadline and the attempt timeout bound the calls, not the HttpClient's own 100 s.</summary>
    private static HttpClient Unbounded(HttpClient http)
    {
        http.Timeout = Timeout.InfiniteTimeSpan;
        return http;
    }

    /// <summary>The server's URL.</summary>
    public Uri BaseUrl => _http.BaseAddress!;

    /// <summary>Tenants (admin).</summary>
    public TenantsClient Tenants { get; }

    /// <summary>Tokens of a tenant.</summary>
    public TokensClient Tokens { get; }

    /// <summary>Training jobs of the caller's tenant.</summary>
    public JobsClient Jobs { get; }

    /// <summary>Usage and its price, of the caller's tenant (admins: of every tenant).</summary>
    public UsageClient Usage { get; }

    /// <summary>Uploaded files and archives of the caller's tenant.</summary>
    public ArtifactsClient Artifacts { get; }

    /// <summary>The caller's tenant's quota: limit, used and pending per resource (<c>GET /v1/quota</c>).</summary>
    /// <exception cref="ForbiddenException">The token belongs to no tenant (an admin's).</exception>
    /// <exception cref="StrataConnectionException">The server could not be reached.</exception>
    public Task<QuotaStatus> QuotaAsync(CancellationToken cancellationToken = default) =>
        SendAsync<QuotaStatus>(HttpMethod.Get, "v1/quota", null, cancellationToken);

    /// <summary>
    /// The compute a workload should ask for (shared, dedicated or distributed), with the reasons:
    /// <c>POST /v1/recommendations/compute</c>. The answer's <c>Compute</c> and <c>Distributed</c> go into a job spec as they are.
    /// </summary>
    /// <exception cref="ValidationException">A field is missing or out of range, or the framework is unknown.</exception>
    /// <exception cref="ForbiddenException">The token is not a member's or owner's of a tenant.</exception>
    /// <exception cref="StrataConnectionException">The server could not be reached.</exception>
    public Task<ComputeRecommendation> RecommendComputeAsync(ComputeRecommendationRequest request, CancellationToken cancellationToken = default) =>
        SendAsync<ComputeRecommendation>(HttpMethod.Post, "v1/recommendations/compute", request, cancellationToken);

    /// <summary>The model registry of the caller's tenant.</summary>
    public ModelsClient Models { get; }

    /// <summary>Deployed models (prediction endpoints) of the caller's tenant.</summary>
    public DeploymentsClient Deployments { get; }

    /// <summary>Who the token belongs to: <c>GET /v1/me</c>.</summary>
    /// <exception cref="UnauthorizedException">The token is missing, invalid or expired.</exception>
    /// <exception cref="StrataConnectionException">The server could not be reached.</exception>
    public Task<Me> MeAsync(CancellationToken cancellationToken = default) =>
        SendAsync<Me>(HttpMethod.Get, "v1/me", null, cancellationToken);

    /// <summary>
    /// A one-time code that signs a browser in to the dashboard as this token, for a minute:
    /// <c>POST /v1/ui/signin-codes</c>. The link to open is <c>{server}/ui/signin?code={code}</c>.
    /// </summary>
    /// <exception cref="ForbiddenException">The token is not a person's (a job's or the metrics reader's).</exception>
    /// <exception cref="StrataConnectionException">The server could not be reached.</exception>
    public Task<DashboardSignInCode> DashboardSignInCodeAsync(CancellationToken cancellationToken = default) =>
        SendAsync<DashboardSignInCode>(HttpMethod.Post, "v1/ui/signin-codes", null, cancellationToken);

    /// <summary>The server's health: <c>GET /v1/health</c>.</summary>
    /// <exception cref="StrataConnectionException">The server could not be reached.</exception>
    public Task<HealthResponse> HealthAsync(CancellationToken cancellationToken = default) =>
        SendAsync<HealthResponse>(HttpMethod.Get, "v1/health", null, cancellationToken);

    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }

    internal async Task<T> SendAsync<T>(HttpMethod method, string path, object? body, CancellationToken cancellationToken, string? idempotencyKey = null)
    {
        using var response = await SendRawAsync(method, path, body, HttpCompletionOption.ResponseContentRead, cancellationToken, idempotencyKey);
        return await ReadJsonAsync<T>(response, cancellationToken);
    }

    /// <summary>
    /// Copies a file the server sends (a model version's, a job output) to <paramref name="destination"/>, reporting
    /// the bytes copied so far; returns the file's name, length and ETag as the server gave them.
    /// </summary>
    internal async Task<DownloadedFile> DownloadAsync(string path, Stream destination, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        using var response = await SendRawAsync(HttpMethod.Get, path, null, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        await using var content = await response.Content.ReadAsStreamAsync(cancellationToken);
        var buffer = new byte[81920];
        long copied = 0;
        int read;
        while ((read = await content.ReadAsync(buffer, cancellationToken)) > 0)
        {
            await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            copied += read;
            progress?.Report(copied);
        }
        var disposition = response.Content.Headers.ContentDisposition;
        var name = (disposition?.FileNameStar ?? disposition?.FileName)?.Trim('"');
        return new DownloadedFile(name, copied, response.Content.Headers.ContentLength, response.Headers.ETag?.Tag.Trim('"'));
    }

    internal async Task SendAsync(HttpMethod method, string path, object? body, CancellationToken cancellationToken)
    {
        using var response = await SendRawAsync(method, path, body, HttpCompletionOption.ResponseContentRead, cancellationToken);
    }

    /// <summary>
    /// Sends a request, retried by <see cref="RequestRetries"/> when it may be sent twice, and throws the typed
    /// exception for an error response. The caller disposes the response.
    /// </summary>
    /// <param name="body">An <see cref="HttpContent"/> (an upload) is sent as it is, so it must be able to send itself
    /// again when <paramref name="idempotencyKey"/> makes a POST repeatable; anything else is sent as JSON.</param>
    /// <param name="idempotencyKey">Sent as <c>Idempotency-Key</c>, the same on every attempt of this call.</param>
    internal async Task<HttpResponseMessage> SendRawAsync(
        HttpMethod method, string path, object? body, HttpCompletionOption completion, CancellationToken cancellationToken, string? idempotencyKey = null)
    {
        var context = RequestRetries.StartCall(RequestRetries.MayRepeat(method, idempotencyKey), Options.TimeProvider, cancellationToken);
        HttpResponseMessage response;
        try
        {
            response = await _pipeline.ExecuteAsync(
                async attempt => await SendOnceAsync(method, path, body, completion, idempotencyKey, attempt.CancellationToken), context);
        }
        catch (HttpRequestException e)
        {
            throw new StrataConnectionException(new Uri(_http.BaseAddress!, path), e);
        }
        catch (TimeoutRejectedException e)
        {
            throw new StrataConnectionException(new Uri(_http.BaseAddress!, path), RequestRetries.Describe(e));
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            // HttpClient reports its own timeout as a cancellation; the caller did not cancel.
            throw new StrataConnectionException(new Uri(_http.BaseAddress!, path), new TimeoutException($"no answer within {_http.Timeout.TotalSeconds:0} s", e));
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }

        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        using (response)
        {
            string? text;
            try
            {
                text = await response.Content.ReadAsStringAsync(cancellationToken);
            }
            catch (HttpRequestException)
            {
                text = null;
            }

            var problem = ApiProblem.Parse((int)response.StatusCode, text);
            throw problem.ToException(RequestRetries.RetryAfter(response, Options.TimeProvider));
        }
    }

    /// <summary>One attempt: a request of its own (a sent request cannot be sent again), the same body and key.</summary>
    private async Task<HttpResponseMessage> SendOnceAsync(
        HttpMethod method, string path, object? body, HttpCompletionOption completion, string? idempotencyKey, CancellationToken cancellationToken)
    {
        var request = new HttpRequestMessage(method, path);
        if (_token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
        }

        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (idempotencyKey is not null)
        {
            request.Headers.Add(RequestRetries.IdempotencyKeyHeader, idempotencyKey);
        }

        if (body is not null)
        {
            request.Content = body as HttpContent ?? JsonContent.Create(body, body.GetType(), options: StrataJson.Options);
        }

        try
        {
            return await _http.SendAsync(request, completion, cancellationToken);
        }
        finally
        {
            // Disposing the request would dispose an upload's content, which the next attempt sends again
            // (its owner disposes it); a request without content holds nothing else.
            if (body is not HttpContent)
            {
                request.Dispose();
            }
        }
    }

    internal static async Task<T> ReadJsonAsync<T>(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var value = await response.Content.ReadFromJsonAsync<T>(StrataJson.Options, cancellationToken);
            return value ?? throw new StrataApiException($"the server answered {(int)response.StatusCode} with an empty body");
        }
        catch (JsonException e)
        {
            throw new StrataApiException($"the server's answer could not be read: {e.Message}", e);
        }
    }

    internal static string Escape(string segment) => Uri.EscapeDataString(segment);

    /// <summary>A fresh idempotency key: one per logical call, the same on each of its attempts.</summary>
    internal static string NewIdempotencyKey() => Guid.NewGuid().ToString();
}
