using Strata.Contracts;

namespace Strata.Client;

/// <summary>The model registry: <c>/v1/models</c>.</summary>
public sealed class ModelsClient
{
    private readonly StrataClient _client;

    internal ModelsClient(StrataClient client) => _client = client;

    /// <summary>Lists the tenant's models, newest first (the first page, up to <paramref name="limit"/>).</summary>
    /// <exception cref="StrataConnectionException">The server could not be reached.</exception>
    public async Task<IReadOnlyList<Model>> ListAsync(int limit = 50, CancellationToken cancellationToken = default) =>
        await _client.SendAsync<List<Model>>(HttpMethod.Get, $"v1/models?limit={limit}", null, cancellationToken);

    /// <summary>Reads a model with its aliases.</summary>
    /// <exception cref="NotFoundException">The tenant has no such model.</exception>
    public Task<Model> GetAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return _client.SendAsync<Model>(HttpMethod.Get, $"v1/models/{StrataClient.Escape(name)}", null, cancellationToken);
    }

    /// <summary>Lists a model's versions, newest first (the first page, up to <paramref name="limit"/>).</summary>
    /// <exception cref="NotFoundException">The tenant has no such model.</exception>
    public async Task<IReadOnlyList<ModelVersion>> ListVersionsAsync(string name, int limit = 50, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return await _client.SendAsync<List<ModelVersion>>(HttpMethod.Get, $"v1/models/{StrataClient.Escape(name)}/versions?limit={limit}", null, cancellationToken);
    }

    /// <summary>Reads a version by number or alias (<c>3</c>, <c>production</c>, <c>latest</c>).</summary>
    /// <exception cref="NotFoundException">No such model, version or alias.</exception>
    public Task<ModelVersion> GetVersionAsync(string name, string version, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(version);
        return _client.SendAsync<ModelVersion>(HttpMethod.Get, $"v1/models/{StrataClient.Escape(name)}/versions/{StrataClient.Escape(version)}", null, cancellationToken);
    }

    /// <summary>
    /// Copies a version's model file (by number or alias) to <paramref name="destination"/>. The answer's
    /// <see cref="DownloadedFile.ETag"/> is the file's sha256, as the version records it.
    /// </summary>
    /// <exception cref="NotFoundException">No such model, version or alias.</exception>
    public Task<DownloadedFile> DownloadFileAsync(string name, string version, Stream destination, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(version);
        ArgumentNullException.ThrowIfNull(destination);
        return _client.DownloadAsync($"v1/models/{StrataClient.Escape(name)}/versions/{StrataClient.Escape(version)}/file", destination, progress, cancellationToken);
    }

    /// <summary>Registers a model file (on the server's disk) as the model's next version; creates the model on its first.</summary>
    /// <exception cref="ValidationException">The path is refused, the file is not of its format, or a field is invalid.</exception>
    /// <exception cref="ForbiddenException">A job's token registering for another job, or after its job ended.</exception>
    public Task<ModelVersion> RegisterAsync(string name, RegisterModelVersionRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(request);
        return _client.SendAsync<ModelVersion>(HttpMethod.Post, $"v1/models/{StrataClient.Escape(name)}/versions", request, cancellationToken);
    }

    /// <summary>Points <paramref name="alias"/> at <paramref name="version"/>.</summary>
    /// <exception cref="ValidationException">The alias is not allowed or the version does not exist.</exception>
    /// <exception cref="NotFoundException">The tenant has no such model.</exception>
    public Task<Model> SetAliasAsync(string name, string alias, int version, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(alias);
        return _client.SendAsync<Model>(HttpMethod.Put, $"v1/models/{StrataClient.Escape(name)}/aliases/{StrataClient.Escape(alias)}",
            new SetModelAliasRequest { Version = version }, cancellationToken);
    }

    /// <summary>Removes an alias.</summary>
    /// <exception cref="NotFoundException">No such model or alias.</exception>
    public Task DeleteAliasAsync(string name, string alias, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(alias);
        return _client.SendAsync(HttpMethod.Delete, $"v1/models/{StrataClient.Escape(name)}/aliases/{StrataClient.Escape(alias)}", null, cancellationToken);
    }
}
