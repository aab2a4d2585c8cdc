using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.Json;
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

    /// <summary>Talks to the server at <paramref name="baseUrl"/> (without <c>/v1</c>) with a bearer token.</summary>
    public StrataClient(Uri baseUrl, string? token = null)
        : this(new HttpClient { BaseAddress = baseUrl }, token, disposeHttpClient: true)
    {
    }

    /// <summary>Talks to the server at <paramref name="baseUrl"/> through <paramref name="handler"/> (tests, proxies).</summary>
    public StrataClient(Uri baseUrl, string? token, HttpMessageHandler handler)
        : this(new HttpClient(handler, disposeHandler: false) { BaseAddress = baseUrl }, token, disposeHttpClient: true)
    {
    }

    /// <summary>
    /// Uses <paramref name="httpClient"/>, whose <see cref="HttpClient.BaseAddress"/> must be the server's
    /// URL. The token is sent on each request; the client's default headers are left untouched.
    /// </summary>
    /// <exception cref="ArgumentException">The HttpClient has no absolute BaseAddress.</exception>
    public StrataClient(HttpClient httpClient, string? token = null, bool disposeHttpClient = false)
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

    internal async Task<T> SendAsync<T>(HttpMethod method, string path, object? body, CancellationToken cancellationToken)
    {
        using var response = await SendRawAsync(method, path, body, HttpCompletionOption.ResponseContentRead, cancellationToken);
        return await ReadJsonAsync<T>(response, cancellationToken);
    }

    internal async Task SendAsync(HttpMethod method, string path, object? body, CancellationToken cancellationToken)
    {
        using var response = await SendRawAsync(method, path, body, HttpCompletionOption.ResponseContentRead, cancellationToken);
    }

    /// <summary>Sends a request and throws the typed exception for an error response. The caller disposes the response.</summary>
    internal async Task<HttpResponseMessage> SendRawAsync(
        HttpMethod method, string path, object? body, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path);
        if (_token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
        }

        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (body is not null)
        {
            // An HttpContent (an upload's stream) is sent as it is; anything else as JSON.
            request.Content = body as HttpContent ?? JsonContent.Create(body, body.GetType(), options: StrataJson.Options);
        }

        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, completion, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new StrataConnectionException(new Uri(_http.BaseAddress!, path), e);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            // HttpClient reports its own timeout as a cancellation; the caller did not cancel.
            throw new StrataConnectionException(new Uri(_http.BaseAddress!, path), new TimeoutException($"no answer within {_http.Timeout.TotalSeconds:0} s", e));
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
            throw problem.ToException(RetryAfter(response));
        }
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta)
        {
            return delta;
        }

        if (header?.Date is { } date)
        {
            var wait = date - DateTimeOffset.UtcNow;
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }

        return null;
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

    /// <summary>Reads a text response line by line as it arrives.</summary>
    internal async IAsyncEnumerable<string> ReadLinesAsync(string path, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var response = await SendRawAsync(HttpMethod.Get, path, null, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        using var reader = new StreamReader(stream);
        while (true)
        {
            string? line;
            try
            {
                line = await reader.ReadLineAsync(cancellationToken);
            }
            catch (HttpRequestException e)
            {
                throw new StrataConnectionException(new Uri(_http.BaseAddress!, path), e);
            }
            catch (IOException e)
            {
                throw new StrataConnectionException(new Uri(_http.BaseAddress!, path), e);
            }

            if (line is null)
            {
                yield break;
            }

            yield return line;
        }
    }

    internal static string Escape(string segment) => Uri.EscapeDataString(segment);
}
