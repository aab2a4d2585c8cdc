using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Strata.Server.Runtime.Kubernetes;

/// <summary>
/// The informer loop Strata follows the cluster with (<see cref="JobWatcher"/>, <see cref="ClusterCapacity"/>): list, then
/// watch from the list's resourceVersion; re-list when the watch expires (410 Gone) and every resync; back off with
/// jitter when the API server fails. Never polls objects one by one.
/// </summary>
internal static class ListWatch
{
    private static readonly TimeSpan FirstErrorDelay = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan MaxErrorDelay = TimeSpan.FromSeconds(30);

    /// <summary>A watch from a resourceVersion for some seconds, reporting its errors to the callback (the client's watch methods).</summary>
    public delegate IAsyncEnumerable<(WatchEventType, T)> Watch<T>(string resourceVersion, int timeoutSeconds, Action<Exception> onError, CancellationToken cancellationToken);

    /// <summary>
    /// Runs until <paramref name="stoppingToken"/> is cancelled. <paramref name="relist"/> replaces what was known and
    /// returns the list's resourceVersion; <paramref name="change"/> gets each watched change (bookmarks only move the
    /// version). With <paramref name="forbidden"/>, a 403 ends the loop for good after telling it; without, a 403 is
    /// one more failure to back off from.
    /// </summary>
    public static async Task RunAsync<T>(
        string what,
        Func<CancellationToken, Task<string>> relist,
        Watch<T> watch,
        Action<WatchEventType, T> change,
        TimeSpan resync,
        TimeProvider time,
        ILogger logger,
        CancellationToken stoppingToken,
        Action<HttpOperationException>? forbidden = null)
        where T : IKubernetesObject<V1ObjectMeta>
    {
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var version = await relist(stoppingToken);
                failures = 0;
                var resyncAt = time.GetUtcNow() + resync;
                while (time.GetUtcNow() < resyncAt)
                {
                    var seconds = (int)Math.Max(1, (resyncAt - time.GetUtcNow()).TotalSeconds);
                    version = await WatchAsync(what, watch, change, version, seconds, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (HttpOperationException e) when (forbidden is not null && e.Response.StatusCode == HttpStatusCode.Forbidden)
            {
                forbidden(e);
                return;
            }
            catch (WatchExpiredException)
            {
                logger.LogInformation("The watch of {What} expired (410 Gone); re-listing", what);
            }
            catch (Exception e)
            {
                failures++;
                var delay = Backoff.WithJitter(FirstErrorDelay, failures, MaxErrorDelay);
                logger.LogWarning(e, "Watching {What} failed ({Failures} in a row); re-listing in {Delay}", what, failures, delay);
                try
                {
                    await Task.Delay(delay, time, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Watches from <paramref name="version"/> until the server ends the watch; returns the last version seen.</summary>
    private static async Task<string> WatchAsync<T>(
        string what, Watch<T> watch, Action<WatchEventType, T> change, string version, int seconds, CancellationToken cancellationToken)
        where T : IKubernetesObject<V1ObjectMeta>
    {
        Exception? error = null;
        try
        {
            await foreach (var (type, item) in watch(version, seconds, e => error ??= e, cancellationToken))
            {
                version = item.Metadata?.ResourceVersion ?? version;
                if (type != WatchEventType.Bookmark) change(type, item);
                ThrowIfFailed(what, error);
            }
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Gone)
        {
            throw new WatchExpiredException();
        }
        ThrowIfFailed(what, error);
        return version;
    }

    private static void ThrowIfFailed(string what, Exception? error)
    {
        switch (error)
        {
            case null:
                return;
            case KubernetesException { Status.Code: (int)HttpStatusCode.Gone }:
                throw new WatchExpiredException();
            default:
                throw new IOException($"the watch of {what} reported an error", error);
        }
    }

    private sealed class WatchExpiredException : Exception;
}
