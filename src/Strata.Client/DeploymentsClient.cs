using System.Globalization;
using System.Text.Json;
using Strata.Contracts;

namespace Strata.Client;

/// <summary>A replica's answer to a prediction, as the platform forwarded it.</summary>
/// <param name="Body">
/// <c>{"model_name", "version", "prediction"}</c> for one instance, <c>{"model_name", "version", "predictions": [...]}</c> for a batch.
/// </param>
/// <param name="ModelVersion">The version that answered (the <c>Strata-Model-Version</c> header): with a canary, either one.</param>
/// <param name="Cache"><c>hit</c> or <c>miss</c> when the server's prediction cache is on (the <c>Strata-Cache</c> header), else null.</param>
public sealed record PredictionResult(JsonElement Body, int? ModelVersion, string? Cache);

/// <summary>Model deployments: <c>/v1/deployments</c>.</summary>
public sealed class DeploymentsClient
{
    private readonly StrataClient _client;

    internal DeploymentsClient(StrataClient client) => _client = client;

    /// <summary>
    /// Deploys a model version as a prediction endpoint; its replicas start in the background. The request carries
    /// a fresh <c>Idempotency-Key</c>, so it is retried like a GET.
    /// </summary>
    /// <exception cref="ValidationException">A field is invalid, or the model, version or alias does not exist.</exception>
    /// <exception cref="ConflictException">The tenant already has a deployment of that name.</exception>
    /// <exception cref="QuotaExceededException">It would take the tenant over <c>max_deployments</c> or <c>max_replicas</c>.</exception>
    public Task<Deployment> CreateAsync(CreateDeploymentRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return _client.SendAsync<Deployment>(HttpMethod.Post, "v1/deployments", request, cancellationToken, StrataClient.NewIdempotencyKey());
    }

    /// <summary>Lists the tenant's deployments, newest first (the first page, up to <paramref name="limit"/>).</summary>
    /// <exception cref="StrataConnectionException">The server could not be reached.</exception>
    public async Task<IReadOnlyList<Deployment>> ListAsync(int limit = 50, CancellationToken cancellationToken = default) =>
        await _client.SendAsync<List<Deployment>>(HttpMethod.Get, $"v1/deployments?limit={limit.ToString(CultureInfo.InvariantCulture)}", null, cancellationToken);

    /// <summary>Reads a deployment: version, desired and ready replicas, canary, endpoint and events.</summary>
    /// <exception cref="NotFoundException">The tenant has no such deployment.</exception>
    public Task<Deployment> GetAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return _client.SendAsync<Deployment>(HttpMethod.Get, $"v1/deployments/{StrataClient.Escape(name)}", null, cancellationToken);
    }

    /// <summary>Changes a deployment; a new <c>model</c> rolls out replica by replica (an earlier one rolls back).</summary>
    /// <exception cref="NotFoundException">The tenant has no such deployment.</exception>
    /// <exception cref="ValidationException">A field is invalid.</exception>
    /// <exception cref="QuotaExceededException">It would take the tenant over <c>max_replicas</c>.</exception>
    public Task<Deployment> UpdateAsync(string name, UpdateDeploymentRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(request);
        return _client.SendAsync<Deployment>(HttpMethod.Patch, $"v1/deployments/{StrataClient.Escape(name)}", request, cancellationToken);
    }

    /// <summary>
    /// Polls until <paramref name="deployment"/> (as created or last updated) is ready at the version it was set to, its
    /// canary included: after a rollout, every replica of the new version is ready.
    /// </summary>
    /// <param name="timeout">How long to wait; five minutes when null.</param>
    /// <param name="pollInterval">Between reads; one second when null.</param>
    /// <param name="onPoll">Told the deployment after each read (replicas ready so far, for a progress line).</param>
    /// <exception cref="TimeoutException">Not ready in time; the message gives its status, replicas and last event.</exception>
    /// <exception cref="NotFoundException">The deployment was deleted meanwhile.</exception>
    public async Task<Deployment> WaitUntilReadyAsync(Deployment deployment, TimeSpan? timeout = null, TimeSpan? pollInterval = null,
        Action<Deployment>? onPoll = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(deployment);
        var limit = timeout ?? TimeSpan.FromMinutes(5);
        var deadline = DateTimeOffset.UtcNow + limit;
        var version = deployment.ModelVersion;
        while (true)
        {
            deployment = await GetAsync(deployment.Name, cancellationToken);
            onPoll?.Invoke(deployment);
            if (deployment.Status == DeploymentStatuses.Ready && deployment.ModelVersion == version) return deployment;
            if (DateTimeOffset.UtcNow >= deadline)
            {
                var last = deployment.Events.LastOrDefault();
                throw new TimeoutException($"deployment \"{deployment.Name}\" was not ready after {limit.TotalSeconds:0} s: {deployment.Status}, "
                    + $"{deployment.ReadyReplicas} of {deployment.DesiredReplicas} replicas ready{(last is null ? "" : $"; last event: {last.Message}")}");
            }
            await Task.Delay(pollInterval ?? TimeSpan.FromSeconds(1), cancellationToken);
        }
    }

    /// <summary>Deletes a deployment and stops its replicas.</summary>
    /// <exception cref="NotFoundException">The tenant has no such deployment.</exception>
    public Task DeleteAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return _client.SendAsync(HttpMethod.Delete, $"v1/deployments/{StrataClient.Escape(name)}", null, cancellationToken);
    }

    /// <summary>Whether a replica is ready: <c>healthy</c> or <c>unhealthy</c> (which the server answers with a 503, not an error here).</summary>
    /// <exception cref="NotFoundException">The tenant has no such deployment.</exception>
    public async Task<DeploymentHealth> HealthAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        // Its 503 is an answer (not ready), not a failure to retry.
        using var once = _client.WithOptions(_client.Options with { MaxAttempts = 1 });
        try
        {
            return await once.SendAsync<DeploymentHealth>(HttpMethod.Get, $"v1/deployments/{StrataClient.Escape(name)}/health", null, cancellationToken);
        }
        catch (StrataApiException e) when (e.Status == 503 && e.ProblemDetails is { } body && body.TryGetProperty("ready_replicas", out _))
        {
            return body.Deserialize<DeploymentHealth>(StrataJson.Options)!;
        }
    }

    /// <summary>
    /// Predicts with the deployed model: <paramref name="input"/> is one instance (a JSON object of column
    /// values) or <c>{"instances": [...]}</c>.
    /// </summary>
    /// <exception cref="NotFoundException">The tenant has no such deployment.</exception>
    /// <exception cref="ValidationException">The input does not fit the model's input schema (<see cref="StrataApiException.Errors"/> names the fields).</exception>
    /// <exception cref="StrataApiException">503: no replica is ready yet.</exception>
    public async Task<PredictionResult> PredictAsync(string name, JsonElement input, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        using var response = await _client.SendRawAsync(
            HttpMethod.Post, $"v1/deployments/{StrataClient.Escape(name)}/predict", input, HttpCompletionOption.ResponseContentRead, cancellationToken);
        var body = await StrataClient.ReadJsonAsync<JsonElement>(response, cancellationToken);
        int? version = response.Headers.TryGetValues("Strata-Model-Version", out var versions)
            && int.TryParse(versions.FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : null;
        var cache = response.Headers.TryGetValues("Strata-Cache", out var caches) ? caches.FirstOrDefault() : null;
        return new PredictionResult(body, version, cache);
    }
}
