using Strata.Contracts;

namespace Strata.Client;

/// <summary>Options of <see cref="JobsClient.ListAsync"/>.</summary>
public sealed record JobListOptions
{
    /// <summary>Only jobs in this status; all when null.</summary>
    public JobStatus? Status { get; init; }
    /// <summary>Page size; the server's default (and cap) when null.</summary>
    public int? Limit { get; init; }
    /// <summary>The opaque token of the page to read, from <see cref="JobPage.NextPageToken"/>; the first page when null.</summary>
    public string? PageToken { get; init; }
}

/// <summary>One page of jobs, newest first.</summary>
public sealed record JobPage
{
    public required IReadOnlyList<TrainingJob> Items { get; init; }
    /// <summary>The token of the next page (from the <c>Link: rel="next"</c> header); null on the last page.</summary>
    public string? NextPageToken { get; init; }
}

/// <summary>Options of <see cref="JobHandle.WaitAsync"/>.</summary>
public sealed record WaitOptions
{
    /// <summary>The default poll interval: 1 second.</summary>
    public static readonly TimeSpan DefaultPollInterval = TimeSpan.FromSeconds(1);

    /// <summary>How often the job is read. <value>The default is 1 second.</value></summary>
    public TimeSpan PollInterval { get; init; } = DefaultPollInterval;
    /// <summary>Give up after this long with a <see cref="TimeoutException"/>; never when null (the default).</summary>
    public TimeSpan? Timeout { get; init; }
    /// <summary>Told of the job each time its status, reason, queue position or attempt count changes.</summary>
    public IProgress<TrainingJob>? Progress { get; init; }
    /// <summary>Called like <see cref="Progress"/>, synchronously on the waiting task (no SynchronizationContext hop).</summary>
    public Action<TrainingJob>? OnChange { get; init; }
}

/// <summary>Options of <see cref="JobHandle.ReadLogsAsync"/>.</summary>
public sealed record LogOptions
{
    /// <summary>Only the last N lines; all when null.</summary>
    public int? Tail { get; init; }
    /// <summary>Keep streaming until the attempt ends. <value>The default is false.</value></summary>
    public bool Follow { get; init; }
    /// <summary>The attempt's number (1-based); the latest when null.</summary>
    public int? Attempt { get; init; }
    /// <summary>
    /// Whose log, for a distributed job: a worker's rank (<c>"0"</c>, <c>"1"</c>, ...) or <c>"all"</c>, interleaved
    /// with a <c>[rank N]</c> prefix; rank 0 when null.
    /// </summary>
    public string? Rank { get; init; }

    /// <summary>The default of <see cref="ReconnectTimeout"/>: 5 minutes.</summary>
    public static readonly TimeSpan DefaultReconnectTimeout = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long a followed log keeps trying to reconnect after its stream dropped (a server restart); past it,
    /// the connection error is thrown. <value>The default is 5 minutes.</value>
    /// </summary>
    public TimeSpan ReconnectTimeout { get; init; } = DefaultReconnectTimeout;

    /// <summary>Told, once an outage, that a followed log's stream broke and is being reconnected (the CLI says so on stderr).</summary>
    public Action<Exception>? OnReconnecting { get; init; }
}

/// <summary>A file copied from the server: the name it sent, the bytes copied, the length it announced, and its ETag (unquoted).</summary>
public sealed record DownloadedFile(string? FileName, long BytesCopied, long? ContentLength, string? ETag);
