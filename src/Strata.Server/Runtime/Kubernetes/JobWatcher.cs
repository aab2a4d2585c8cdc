using System.Net;
using System.Threading.Channels;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Strata.Server.Runtime.Kubernetes;

/// <summary>A change to one of Strata's Jobs, as the watch reports it.</summary>
public readonly record struct JobEvent(WatchEventType Type, V1Job Job);

/// <summary>
/// Follows Strata's Jobs in every namespace the way an informer does: list, then watch from the list's
/// resourceVersion; re-list when the watch expires (410 Gone) and every <see cref="KubernetesRuntimeOptions.ResyncSeconds"/>;
/// back off with jitter when the API server fails. A re-list is compared with what was known, so a change
/// missed while the watch was down is still reported (a Job deleted meanwhile as DELETED). Never polls Jobs one by one.
/// </summary>
public sealed class JobWatcher(ClusterApi api, KubernetesRuntimeOptions options, TimeProvider time, ILogger<JobWatcher> logger) : IDisposable
{
    private static readonly TimeSpan FirstErrorDelay = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan MaxErrorDelay = TimeSpan.FromSeconds(30);

    private readonly Dictionary<string, V1Job> _known = new(StringComparer.Ordinal);
    private readonly Channel<JobEvent> _events = Channel.CreateUnbounded<JobEvent>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _lock = new();
    private Task? _loop;

    /// <summary>How many times the watcher has listed (the first list included): for tests and logs.</summary>
    public int Lists { get; private set; }

    /// <summary>Changes in the order they were seen. Starts the watch on first use.</summary>
    public ChannelReader<JobEvent> Events
    {
        get
        {
            lock (_lock) _loop ??= Task.Run(() => RunAsync(_stopping.Token));
            return _events.Reader;
        }
    }

    public void Dispose()
    {
        if (_stopping.IsCancellationRequested) return;
        _stopping.Cancel();
        _events.Writer.TryComplete();
    }

    private async Task RunAsync(CancellationToken stoppingToken)
    {
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var resourceVersion = await RelistAsync(stoppingToken);
                failures = 0;
                var resyncAt = time.GetUtcNow() + TimeSpan.FromSeconds(options.ResyncSeconds);
                while (time.GetUtcNow() < resyncAt)
                {
                    var seconds = (int)Math.Max(1, (resyncAt - time.GetUtcNow()).TotalSeconds);
                    resourceVersion = await WatchAsync(resourceVersion, seconds, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (WatchExpiredException)
            {
                logger.LogInformation("The watch of Jobs expired (410 Gone); re-listing");
            }
            catch (Exception e)
            {
                failures++;
                var delay = Backoff.WithJitter(FirstErrorDelay, failures, MaxErrorDelay);
                logger.LogWarning(e, "Watching Jobs failed ({Failures} in a row); re-listing in {Delay}", failures, delay);
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

    /// <summary>Lists every watched Job, reports what changed since the last look, and returns the list's resourceVersion.</summary>
    private async Task<string> RelistAsync(CancellationToken cancellationToken)
    {
        var list = await api.ListJobsAsync(cancellationToken);
        Lists++;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var job in list.Items)
        {
            var key = Key(job);
            seen.Add(key);
            if (_known.TryGetValue(key, out var known) && known.Metadata.ResourceVersion == job.Metadata.ResourceVersion) continue;
            Publish(known is null ? WatchEventType.Added : WatchEventType.Modified, job);
        }
        foreach (var gone in _known.Keys.Where(k => !seen.Contains(k)).ToList())
        {
            Publish(WatchEventType.Deleted, _known[gone]);
        }
        return list.Metadata.ResourceVersion;
    }

    /// <summary>Watches from <paramref name="resourceVersion"/> until the server ends the watch; returns the last version seen.</summary>
    private async Task<string> WatchAsync(string resourceVersion, int timeoutSeconds, CancellationToken cancellationToken)
    {
        Exception? error = null;
        var events = api.Client.BatchV1.WatchListJobForAllNamespacesAsync(
            allowWatchBookmarks: true,
            labelSelector: KubernetesNames.WatchedJobsSelector,
            resourceVersion: resourceVersion,
            timeoutSeconds: timeoutSeconds,
            onError: e => error ??= e,
            cancellationToken: cancellationToken);
        try
        {
            await foreach (var (type, job) in events)
            {
                resourceVersion = job.Metadata?.ResourceVersion ?? resourceVersion;
                if (type != WatchEventType.Bookmark) Publish(type, job);
                ThrowIfFailed(error);
            }
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Gone)
        {
            throw new WatchExpiredException();
        }
        ThrowIfFailed(error);
        return resourceVersion;
    }

    private static void ThrowIfFailed(Exception? error)
    {
        switch (error)
        {
            case null:
                return;
            case KubernetesException { Status.Code: (int)HttpStatusCode.Gone }:
                throw new WatchExpiredException();
            default:
                throw new IOException("the watch of Jobs reported an error", error);
        }
    }

    private void Publish(WatchEventType type, V1Job job)
    {
        if (type == WatchEventType.Deleted) _known.Remove(Key(job));
        else _known[Key(job)] = job;
        _events.Writer.TryWrite(new JobEvent(type, job));
    }

    private static string Key(V1Job job) => job.Metadata.NamespaceProperty + "/" + job.Metadata.Name;

    private sealed class WatchExpiredException : Exception;
}
