using System.Net.Http.Headers;
using System.Text;
using Strata.Contracts;

namespace Strata.Client;

/// <summary>What to upload with <see cref="ArtifactsClient.UploadAsync"/>.</summary>
public sealed record UploadOptions
{
    /// <summary><c>file</c> or <c>archive</c> (a tar.gz); null lets the server decide from the name (<c>.tar.gz</c>, <c>.tgz</c>: archive).</summary>
    public string? Kind { get; init; }
    /// <summary>Told the bytes sent so far, as they are sent.</summary>
    public IProgress<long>? Progress { get; init; }
}

/// <summary>The tenant's artifacts: <c>/v1/artifacts</c>.</summary>
public sealed class ArtifactsClient
{
    internal const string BasePath = "v1/artifacts";
    private readonly StrataClient _client;

    internal ArtifactsClient(StrataClient client) => _client = client;

    /// <summary>
    /// Uploads <paramref name="content"/> (streamed, never buffered whole) as an artifact named <paramref name="name"/>.
    /// A stream that can seek (a file) can be sent again: the request then carries a fresh <c>Idempotency-Key</c>
    /// and is retried like a GET; any other stream is sent once.
    /// </summary>
    /// <exception cref="ValidationException">The name or kind is invalid, an archive is not one the server extracts, or the upload is larger than the server accepts (413).</exception>
    /// <exception cref="StrataConnectionException">The server could not be reached.</exception>
    public async Task<Artifact> UploadAsync(Stream content, string name, UploadOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentException.ThrowIfNullOrEmpty(name);
        options ??= new UploadOptions();
        var query = new StringBuilder();
        JobsClient.Append(query, "name", name);
        if (options.Kind is not null) JobsClient.Append(query, "kind", options.Kind);
        using var body = new ProgressContent(content, options.Progress);
        var key = content.CanSeek ? StrataClient.NewIdempotencyKey() : null;
        return await _client.SendAsync<Artifact>(HttpMethod.Post, $"{BasePath}?{query}", body, cancellationToken, key);
    }

    /// <summary>Uploads the file at <paramref name="path"/>, named after it.</summary>
    /// <exception cref="FileNotFoundException">There is no such file.</exception>
    public async Task<Artifact> UploadFileAsync(string path, UploadOptions? options = null, CancellationToken cancellationToken = default)
    {
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 128 * 1024, useAsync: true);
        return await UploadAsync(file, Path.GetFileName(path), options, cancellationToken);
    }

    /// <summary>Reads one artifact's metadata.</summary>
    /// <exception cref="NotFoundException">The tenant has no artifact with this id.</exception>
    public Task<Artifact> GetAsync(string id, CancellationToken cancellationToken = default) =>
        _client.SendAsync<Artifact>(HttpMethod.Get, $"{BasePath}/{StrataClient.Escape(id)}", null, cancellationToken);

    /// <summary>The tenant's artifacts, newest first (the first page of at most <paramref name="limit"/>).</summary>
    public Task<List<Artifact>> ListAsync(int? limit = null, CancellationToken cancellationToken = default) =>
        _client.SendAsync<List<Artifact>>(HttpMethod.Get, limit is { } l ? $"{BasePath}?limit={l}" : BasePath, null, cancellationToken);

    /// <summary>Copies an artifact's bytes to <paramref name="destination"/>.</summary>
    /// <exception cref="NotFoundException">The tenant has no artifact with this id.</exception>
    public Task DownloadAsync(string id, Stream destination, CancellationToken cancellationToken = default) =>
        _client.DownloadAsync($"{BasePath}/{StrataClient.Escape(id)}/content", destination, progress: null, cancellationToken);

    /// <summary>A streamed body that reports how much has been sent; over a seekable stream, it can be sent again.</summary>
    private sealed class ProgressContent : HttpContent
    {
        private readonly Stream _content;
        private readonly long _start;
        private readonly IProgress<long>? _progress;

        public ProgressContent(Stream content, IProgress<long>? progress)
        {
            _content = content;
            _start = content.CanSeek ? content.Position : 0;
            _progress = progress;
            Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        }

        protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context, CancellationToken cancellationToken)
        {
            // A retry sends the body again from where the first attempt started.
            if (_content.CanSeek) _content.Position = _start;
            var buffer = new byte[128 * 1024];
            long sent = 0;
            int read;
            while ((read = await _content.ReadAsync(buffer, cancellationToken)) > 0)
            {
                await stream.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                sent += read;
                _progress?.Report(sent);
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            if (_content.CanSeek)
            {
                length = _content.Length - _start;
                return true;
            }
            length = 0;
            return false;
        }
    }
}
