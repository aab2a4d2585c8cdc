using System.Threading.Channels;
using k8s;
using k8s.Models;

namespace Strata.Server.Runtime.Kubernetes;

/// <summary>A change to one of Strata's Jobs, as the watch reports it.</summary>
public readonly record struct JobEvent(WatchEventType Type, V1Job Job);

/// <summary>
/// Follows Strata's Jobs in every namespace the way an informer does (<see cref="ListWatch"/>; re-listing every
/// <see cref="KubernetesRuntimeOptions.ResyncSeconds"/>). A re-list is compared with what was known, so a change
/// missed while the watch was down is still reported (a Job deleted meanwhile as DELETED). Never polls Jobs one by one.
/// </summary>
public sealed class JobWatcher(ClusterApi api, KubernetesRuntimeOptions options, TimeProvider time, ILogger<JobWatcher> logger) : IDisposable
{
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

    private Task RunAsync(CancellationToken stoppingToken) => ListWatch.RunAsync<V1Job>(
        "Jobs",
        RelistAsync,
        (version, seconds, onError, c) => api.Client.BatchV1.WatchListJobForAllNamespacesAsync(
            allowWatchBookmarks: true, labelSelector: KubernetesNames.WatchedJobsSelector, resourceVersion: version, timeoutSeconds: seconds,
            onError: onError, cancellationToken: c),
        Publish,
        TimeSpan.FromSeconds(options.ResyncSeconds),
        time,
        logger,
        stoppingToken);

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

    private void Publish(WatchEventType type, V1Job job)
    {
        if (type == WatchEventType.Deleted) _known.Remove(Key(job));
        else _known[Key(job)] = job;
        _events.Writer.TryWrite(new JobEvent(type, job));
    }

    private static string Key(V1Job job) => job.Metadata.NamespaceProperty + "/" + job.Metadata.Name;
}
