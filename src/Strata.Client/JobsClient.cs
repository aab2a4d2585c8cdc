using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Strata.Contracts;

namespace Strata.Client;

/// <summary>Training jobs of the caller's tenant: <c>/v1/jobs/training</c>.</summary>
public sealed class JobsClient
{
    internal const string BasePath = "v1/jobs/training";
    private readonly StrataClient _client;

    internal JobsClient(StrataClient client) => _client = client;

    /// <summary>
    /// Submits a training job and returns a handle to follow it. The request carries a fresh <c>Idempotency-Key</c>,
    /// so it is retried like a GET: a retry after a lost answer gets the job the first attempt created.
    /// </summary>
    /// <exception cref="ValidationException">The spec is invalid; <see cref="StrataApiException.Errors"/> names the fields.</exception>
    /// <exception cref="ForbiddenException">The spec's tenant_id is not the token's tenant, or the role may not submit.</exception>
    /// <exception cref="ConflictException">An active job of the tenant has this name.</exception>
    /// <exception cref="QuotaExceededException">The job, added to what the tenant uses, exceeds its quota.</exception>
    /// <exception cref="RateLimitedException">Too many requests.</exception>
    /// <exception cref="StrataConnectionException">The server could not be reached.</exception>
    public async Task<JobHandle> SubmitAsync(TrainingJobSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var job = await _client.SendAsync<TrainingJob>(HttpMethod.Post, BasePath, spec, cancellationToken, StrataClient.NewIdempotencyKey());
        return new JobHandle(_client, job.Id, job);
    }

    /// <summary>
    /// Checks a submission without making it (<c>dry_run=true</c>): the spec, its paths and the quota as it stands.
    /// Name what is about to be uploaded <see cref="ArtifactUri.ToBeUploaded"/>, so nothing is uploaded for a job
    /// that would be refused.
    /// </summary>
    /// <exception cref="ValidationException">The spec is invalid.</exception>
    /// <exception cref="QuotaExceededException">The quota has no room and the job would not wait for it.</exception>
    public Task<DryRunResult> CheckAsync(TrainingJobSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return _client.SendAsync<DryRunResult>(HttpMethod.Post, BasePath + "?dry_run=true", spec, cancellationToken);
    }

    /// <summary>
    /// A handle to an existing job; no request is made until it is used. <paramref name="id"/> may be a reference: a
    /// unique id prefix (4 characters at least) or a job's name (docs/tracking.md, "Naming a job"); each request resolves it again.
    /// </summary>
    public JobHandle GetHandle(string id)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        return new JobHandle(_client, id, null);
    }

    /// <summary>Reads one job, by its id or a reference (a unique id prefix, or its name).</summary>
    /// <exception cref="NotFoundException">No job of the tenant has this id.</exception>
    /// <exception cref="AmbiguousReferenceException">The reference names several jobs; the exception lists them.</exception>
    /// <exception cref="StrataConnectionException">The server could not be reached.</exception>
    public Task<TrainingJob> GetAsync(string id, CancellationToken cancellationToken = default) =>
        GetHandle(id).GetAsync(cancellationToken);

    /// <summary>Reads one page of jobs, newest first.</summary>
    /// <exception cref="ValidationException">A filter or the page token is invalid.</exception>
    /// <exception cref="StrataConnectionException">The server could not be reached.</exception>
    public async Task<JobPage> ListAsync(JobListOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new JobListOptions();
        using var response = await _client.SendRawAsync(HttpMethod.Get, ListPath(options), null, HttpCompletionOption.ResponseContentRead, cancellationToken);
        var items = await StrataClient.ReadJsonAsync<List<TrainingJob>>(response, cancellationToken);
        var next = response.Headers.TryGetValues("Link", out var links) ? LinkHeader.NextPageToken(links) : null;
        return new JobPage { Items = items, NextPageToken = string.IsNullOrEmpty(next) ? null : next };
    }

    /// <summary>Every job matching <paramref name="options"/>, newest first, reading pages as they are needed.</summary>
    /// <exception cref="ValidationException">A filter is invalid.</exception>
    /// <exception cref="StrataConnectionException">The server could not be reached.</exception>
    public async IAsyncEnumerable<TrainingJob> ListAllAsync(JobListOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        options ??= new JobListOptions();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (true)
        {
            var page = await ListAsync(options, cancellationToken);
            foreach (var job in page.Items)
            {
                yield return job;
            }

            // A server that repeats a token would otherwise loop forever.
            if (page.NextPageToken is null || !seen.Add(page.NextPageToken))
            {
                yield break;
            }

            options = options with { PageToken = page.NextPageToken };
        }
    }

    /// <summary>Records metric points of a job (its own token, or a member's).</summary>
    /// <exception cref="ValidationException">A point is invalid, or there are more than the server takes at once.</exception>
    /// <exception cref="ConflictException">The job has reached its limit of metric names or points.</exception>
    /// <exception cref="NotFoundException">No job of the tenant has this id.</exception>
    public async Task<int> ReportMetricsAsync(string id, IEnumerable<MetricPoint> points, CancellationToken cancellationToken = default)
    {
        var recorded = await _client.SendAsync<MetricsRecorded>(HttpMethod.Post, $"{BasePath}/{StrataClient.Escape(id)}/metrics", points.ToArray(), cancellationToken);
        return recorded.Recorded;
    }

    /// <summary>Every metric point of a job in the order recorded, or those of one <paramref name="name"/>.</summary>
    /// <exception cref="NotFoundException">No job of the tenant has this id.</exception>
    public async Task<List<MetricPoint>> GetMetricsAsync(string id, string? name = null, CancellationToken cancellationToken = default)
    {
        var points = new List<MetricPoint>();
        var query = new StringBuilder();
        if (name is not null) Append(query, "name", name);
        string? path = query.Length == 0 ? $"{BasePath}/{StrataClient.Escape(id)}/metrics" : $"{BasePath}/{StrataClient.Escape(id)}/metrics?{query}";
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (path is not null)
        {
            using var response = await _client.SendRawAsync(HttpMethod.Get, path, null, HttpCompletionOption.ResponseContentRead, cancellationToken);
            points.AddRange(await StrataClient.ReadJsonAsync<List<MetricPoint>>(response, cancellationToken));
            var next = response.Headers.TryGetValues("Link", out var links) ? LinkHeader.FindLink(links, "next") : null;
            path = next is not null && seen.Add(next) ? next.TrimStart('/') : null;
        }

        return points;
    }

    internal static string ListPath(JobListOptions options)
    {
        var query = new StringBuilder();
        if (options.Status is { } status)
        {
            Append(query, "status", JsonNamingPolicy.SnakeCaseLower.ConvertName(status.ToString()));
        }

        if (options.Limit is { } limit)
        {
            Append(query, "limit", limit.ToString(CultureInfo.InvariantCulture));
        }

        if (!string.IsNullOrEmpty(options.PageToken))
        {
            Append(query, "page_token", options.PageToken);
        }

        return query.Length == 0 ? BasePath : $"{BasePath}?{query}";
    }

    internal static void Append(StringBuilder query, string name, string value)
    {
        if (query.Length > 0)
        {
            query.Append('&');
        }

        query.Append(name).Append('=').Append(Uri.EscapeDataString(value));
    }

    /// <summary>The files the job wrote to its output folder, by path.</summary>
    /// <exception cref="NotFoundException">No such job, or its outputs are not kept on the server.</exception>
    public Task<JobOutputListing> ListOutputsAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        return _client.SendAsync<JobOutputListing>(HttpMethod.Get, $"v1/jobs/training/{StrataClient.Escape(id)}/outputs", null, cancellationToken);
    }

    /// <summary>Copies one output file (its <see cref="JobOutputFile.Path"/>) to <paramref name="destination"/>.</summary>
    /// <exception cref="NotFoundException">No such job or output file.</exception>
    public Task<DownloadedFile> DownloadOutputAsync(string id, string path, Stream destination, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(destination);
        var escaped = string.Join('/', path.Split('/').Select(StrataClient.Escape));
        return _client.DownloadAsync($"v1/jobs/training/{StrataClient.Escape(id)}/outputs/{escaped}", destination, progress, cancellationToken);
    }
}
