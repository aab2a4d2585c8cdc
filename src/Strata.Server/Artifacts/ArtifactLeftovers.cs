namespace Strata.Server.Artifacts;

/// <summary>
/// At start, on every replica, removes what a server that was killed mid-way left in the data folder: partial
/// uploads in <c>uploads/</c> and half-built or half-removed input cache entries. Only those unchanged for
/// <see cref="Age"/>: replicas may share a data folder (the local runtime on one machine), and another may be
/// receiving an upload or extracting an archive right now.
/// </summary>
public sealed class ArtifactLeftovers(ArtifactStore artifacts, InputCache cache, TimeProvider time, ILogger<ArtifactLeftovers> logger) : IHostedService
{
    /// <summary>How long a leftover must have been left alone. An upload in progress writes its file continuously.</summary>
    public static readonly TimeSpan Age = TimeSpan.FromHours(1);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var olderThan = time.GetUtcNow() - Age;
        try
        {
            var uploads = artifacts.RemoveUploadLeftovers(olderThan);
            var extractions = cache.RemoveLeftovers(olderThan);
            if (uploads + extractions > 0)
            {
                logger.LogInformation("Removed {Uploads} partial uploads and {Extractions} half-built input cache entries left by an earlier run", uploads, extractions);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning(e, "Could not remove what an earlier run left in the data folder; the next start retries");
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
