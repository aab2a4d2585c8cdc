using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Strata.Contracts;

namespace Strata.Client;

/// <summary>A training job and the operations that follow its submission.</summary>
public sealed class JobHandle
{
    /// <summary>The longest a followed log's request waits for its first byte: the most Polly's timeout takes.</summary>
    private static readonly TimeSpan LongestWait = TimeSpan.FromHours(24);

    /// <summary>The pause before a followed log is read again (the reconnection itself is retried with backoff).</summary>
    private static readonly TimeSpan LogReconnectDelay = TimeSpan.FromMilliseconds(200);

    private readonly StrataClient _client;

    internal JobHandle(StrataClient client, string id, TrainingJob? job)
    {
        _client = client;
        Id = id;
        Job = job;
    }

    /// <summary>
    /// The job's id as the handle was made with it: a full id, or a reference the server resolves at each request
    /// (a unique id prefix, or a name; docs/tracking.md, "Naming a job"). The <see cref="TrainingJob.Id"/> of an answer is the full id.
    /// </summary>
    public string Id { get; }

    /// <summary>The job as the submission returned it; null for a handle from <see cref="JobsClient.GetHandle"/>.</summary>
    public TrainingJob? Job { get; }

    private string Path => $"{JobsClient.BasePath}/{StrataClient.Escape(Id)}";

    /// <summary>Reads the job.</summary>
    /// <exception cref="NotFoundException">No job of the tenant has this id.</exception>
    /// <exception cref="AmbiguousReferenceException">The handle's reference names several jobs; the exception lists them.</exception>
    /// <exception cref="StrataConnectionException">The server could not be reached.</exception>
    public Task<TrainingJob> GetAsync(CancellationToken cancellationToken = default) =>
        _client.SendAsync<TrainingJob>(HttpMethod.Get, Path, null, cancellationToken);

    /// <summary>
    /// Polls the job until it is succeeded, failed or cancelled, and returns it in that state. A failed or
    /// cancelled job is returned, not thrown: check <see cref="TrainingJob.Status"/>.
    /// </summary>
    /// <exception cref="TimeoutException"><see cref="WaitOptions.Timeout"/> passed first.</exception>
    /// <exception cref="NotFoundException">No job of the tenant has this id.</exception>
    /// <exception cref="StrataConnectionException">The server could not be reached.</exception>
    public async Task<TrainingJob> WaitAsync(WaitOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new WaitOptions();
        if (options.PollInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException("The poll interval must be positive.", nameof(options));
        }

        using var timeout = options.Timeout is { } limit ? new CancellationTokenSource(limit) : new CancellationTokenSource();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        TrainingJob? last = null;
        try
        {
            while (true)
            {
                TrainingJob job;
                try
                {
                    // After the first answer, by the job's own id: a reference (an id prefix, a name) could come to
                    // name another job while this one runs, as a new run of the same name would.
                    job = last is null ? await GetAsync(linked.Token)
                        : await _client.SendAsync<TrainingJob>(HttpMethod.Get, $"{JobsClient.BasePath}/{StrataClient.Escape(last.Id)}", null, linked.Token);
                }
                catch (Exception e) when (RequestRetries.IsTransient(e))
                {
                    // The client's retries ran out (a server restart, a long 503): the job goes on without us,
                    // so keep polling until the wait's own timeout.
                    await Task.Delay(options.PollInterval, linked.Token);
                    continue;
                }

                if (last is null || Changed(last, job))
                {
                    options.Progress?.Report(job);
                    options.OnChange?.Invoke(job);
                }

                last = job;
                if (IsTerminal(job.Status))
                {
                    return job;
                }

                await Task.Delay(options.PollInterval, linked.Token);
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException(
                $"job {Id} did not finish within {options.Timeout!.Value}; it is {Describe(last)}");
        }
    }

    /// <summary>
    /// Reads the job's log line by line; with <see cref="LogOptions.Follow"/> it streams until the attempt ends.
    /// A followed log (without <see cref="LogOptions.Tail"/>) survives a dropped stream and a server restart: it
    /// reconnects, reads the attempt's log again from its start and skips the bytes it has already returned,
    /// so that no line is returned twice or lost; it keeps trying for <see cref="LogOptions.ReconnectTimeout"/>.
    /// A line is returned once its newline has arrived (a last line without one, once the attempt has ended).
    /// </summary>
    /// <exception cref="NotFoundException">No job of the tenant has this id, or no such attempt.</exception>
    /// <exception cref="StrataConnectionException">The server could not be reached at first or within the reconnect timeout, or the stream broke (unfollowed, or with a tail).</exception>
    public async IAsyncEnumerable<string> ReadLogsAsync(LogOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        options ??= new LogOptions();
        var time = _client.Options.TimeProvider;
        // A followed log of a queued job answers once its attempt starts, which may be long after the client's
        // deadline: its connection waits as long as the pipeline allows; only reaching the server is retried.
        using var streamClient = options.Follow
            ? _client.WithOptions(_client.Options with { AttemptTimeout = LongestWait, Deadline = LongestWait })
            : null;
        // Resuming counts bytes from the log's start, where a tail does not start.
        var resumable = options.Follow && options.Tail is null;
        long returned = 0;
        DateTimeOffset? outageSince = null;
        bool StillTrying(Exception e) =>
            resumable && outageSince is { } since && RequestRetries.IsTransient(e) && time.GetUtcNow() - since < options.ReconnectTimeout;

        while (true)
        {
            Exception? broken = null;
            LogLine? unfinished = null;
            await using (var lines = LogLines.ReadAsync(streamClient ?? _client, LogsPath(Id, options), returned, cancellationToken).GetAsyncEnumerator(cancellationToken))
            {
                while (true)
                {
                    try
                    {
                        if (!await lines.MoveNextAsync()) break;
                    }
                    catch (Exception e) when ((resumable && e is LogStreamBrokenException) || StillTrying(e))
                    {
                        broken = e;
                        break;
                    }

                    var line = lines.Current;
                    outageSince = null;
                    if (!line.Complete)
                    {
                        unfinished = line;
                        break;
                    }

                    returned = line.End;
                    yield return line.Text;
                }
            }

            if (!resumable)
            {
                if (unfinished is not null) yield return unfinished.Text;
                yield break;
            }

            if (broken is not null && outageSince is null)
            {
                outageSince = time.GetUtcNow();
                options.OnReconnecting?.Invoke(broken);
            }

            var ended = false;
            try
            {
                // A retry may start a new attempt meanwhile: the bytes counted are those of the attempt read so far.
                options = options with { Attempt = options.Attempt ?? await LatestAttemptAsync(cancellationToken) };
                // A stream that ended cleanly while its attempt still runs was closed by a stopping server.
                ended = broken is null && await HasEndedAsync(options.Attempt, cancellationToken);
                if (broken is null) outageSince = null;
            }
            catch (Exception e) when (StillTrying(e))
            {
            }

            if (ended)
            {
                if (unfinished is not null) yield return unfinished.Text;
                yield break;
            }

            await Task.Delay(LogReconnectDelay, time, cancellationToken);
        }
    }

    private async Task<int?> LatestAttemptAsync(CancellationToken cancellationToken)
    {
        var job = await GetAsync(cancellationToken);
        return job.Attempts > 0 ? job.Attempts : null;
    }

    private async Task<bool> HasEndedAsync(int? attempt, CancellationToken cancellationToken)
    {
        var attempts = await GetAttemptsAsync(cancellationToken);
        var followed = attempt is { } number ? attempts.FirstOrDefault(a => a.Number == number) : attempts.Count > 0 ? attempts[^1] : null;
        if (followed is not null) return followed.Status is not (AttemptStatus.Starting or AttemptStatus.Running);
        return IsTerminal((await GetAsync(cancellationToken)).Status);
    }

    /// <summary>Cancels the job (idempotent on the server for a job that has ended).</summary>
    /// <exception cref="NotFoundException">No job of the tenant has this id.</exception>
    /// <exception cref="ConflictException">The job cannot be cancelled in its state.</exception>
    /// <exception cref="StrataConnectionException">The server could not be reached.</exception>
    public Task CancelAsync(CancellationToken cancellationToken = default) =>
        _client.SendAsync(HttpMethod.Delete, Path, null, cancellationToken);

    /// <summary>The job's attempts, first to last.</summary>
    /// <exception cref="NotFoundException">No job of the tenant has this id.</exception>
    /// <exception cref="StrataConnectionException">The server could not be reached.</exception>
    public async Task<IReadOnlyList<JobAttempt>> GetAttemptsAsync(CancellationToken cancellationToken = default) =>
        await _client.SendAsync<List<JobAttempt>>(HttpMethod.Get, $"{Path}/attempts", null, cancellationToken);

    /// <summary>True for succeeded, failed and cancelled (not cancelling: its processes are still stopping).</summary>
    public static bool IsTerminal(JobStatus status) =>
        status is JobStatus.Succeeded or JobStatus.Failed or JobStatus.Cancelled;

    internal static string LogsPath(string id, LogOptions options)
    {
        var query = new StringBuilder();
        if (options.Tail is { } tail)
        {
            JobsClient.Append(query, "tail", tail.ToString(CultureInfo.InvariantCulture));
        }

        JobsClient.Append(query, "follow", options.Follow ? "true" : "false");
        if (options.Attempt is { } attempt)
        {
            JobsClient.Append(query, "attempt", attempt.ToString(CultureInfo.InvariantCulture));
        }

        if (options.Rank is { } rank)
        {
            JobsClient.Append(query, "rank", rank);
        }

        return $"{JobsClient.BasePath}/{StrataClient.Escape(id)}/logs?{query}";
    }

    private static bool Changed(TrainingJob before, TrainingJob after) =>
        before.Status != after.Status
        || before.StatusReason != after.StatusReason
        || before.QueuePosition != after.QueuePosition
        || before.Attempts != after.Attempts;

    private static string Describe(TrainingJob? job) => job is null
        ? "in an unknown state"
        : job.StatusReason is null ? job.Status.ToString().ToLowerInvariant() : $"{job.Status.ToString().ToLowerInvariant()} ({job.StatusReason})";
}
