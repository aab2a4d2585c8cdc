using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Strata.Server.Hosting;

/// <summary>Bounds on the server's work with files that users name (section <c>Files</c>).</summary>
public sealed class FileWorkOptions
{
    public const string Section = "Files";
    public const int DefaultTimeoutSeconds = 300;
    public const int DefaultMaxConcurrent = 16;

    /// <summary>
    /// The longest one piece of file work (opening, copying and hashing a model file, hashing a job's data)
    /// may take, waiting for its turn included; past it the request gets a 503 with <c>Retry-After</c>.
    /// </summary>
    /// <value>The default is 300 seconds: a 4 GiB model file copied at 15 MB/s.</value>
    [Range(1, 86400)]
    public int TimeoutSeconds { get; set; } = DefaultTimeoutSeconds;

    /// <summary>
    /// The most pieces of such work at once: on a disk that hangs, the most server threads it can hold, since a
    /// thread stuck in a read is held until the disk answers whatever the time-out says.
    /// </summary>
    /// <value>The default is 16.</value>
    [Range(1, 1024)]
    public int MaxConcurrent { get; set; } = DefaultMaxConcurrent;
}

/// <summary>File work did not finish in its time (<see cref="FileWorkOptions.TimeoutSeconds"/>): a 503, try again later.</summary>
public sealed class FileWorkTimeoutException(string message, TimeSpan retryAfter) : Exception(message)
{
    /// <summary>When to try again.</summary>
    public TimeSpan RetryAfter { get; } = retryAfter;
}

/// <summary>
/// Runs the server's work on user-named files within a time and a number of slots, so a slow or stuck disk
/// (or a file that never ends) answers 503 instead of filling the thread pool. A slot is held until the work
/// really ends, not merely until its caller gave up: threads stuck in a read stay counted, and the requests
/// after them wait for a slot without a thread, then time out.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "A SemaphoreSlim whose wait handle is never taken holds nothing to dispose, and work still running after the host stops releases into it")]
public sealed class FileWork(IOptions<FileWorkOptions> options, TimeProvider time, ILogger<FileWork> logger)
{
    private readonly SemaphoreSlim _slots = new(options.Value.MaxConcurrent, options.Value.MaxConcurrent);

    /// <summary>How long a caller refused for time is told to wait: a tenth of the bound, 1 to 30 seconds.</summary>
    public TimeSpan RetryAfter { get; } = TimeSpan.FromSeconds(Math.Clamp(options.Value.TimeoutSeconds / 10, 1, 30));

    /// <summary>
    /// Runs <paramref name="work"/> on the thread pool within the bound. The token it gets is cancelled at the
    /// bound (or with <paramref name="cancellationToken"/>); what it returns after its caller was refused is
    /// disposed, when it is disposable.
    /// </summary>
    /// <param name="what">What the work is, for the message and the log: "copying the model file".</param>
    /// <exception cref="FileWorkTimeoutException">The work, or its wait for a slot, went past the bound.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<T> RunAsync<T>(string what, Func<CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        var bound = TimeSpan.FromSeconds(options.Value.TimeoutSeconds);
        var timeout = new CancellationTokenSource(bound, time);
        var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            await _slots.WaitAsync(linked.Token);
        }
        catch (OperationCanceledException)
        {
            linked.Dispose();
            timeout.Dispose();
            cancellationToken.ThrowIfCancellationRequested();
            logger.LogWarning("File work waited {Bound} for a slot ({Slots} in use, Files:MaxConcurrent): {What} refused", bound, options.Value.MaxConcurrent, what);
            throw TimedOut(what, bound);
        }

        // Run on the pool, so that a call that blocks inside the work never blocks the caller's thread.
        var token = linked.Token;
        var running = Task.Run(() => work(token), CancellationToken.None);
        // The second of the work's end and its caller's return cleans up: the token sources, and a result
        // that nobody takes because the caller gave up.
        var gaveUp = false;
        var turns = 0;
        void Finish()
        {
            if (Volatile.Read(ref gaveUp) && running.IsCompletedSuccessfully && running.Result is IDisposable result) result.Dispose();
            linked.Dispose();
            timeout.Dispose();
        }
        _ = running.ContinueWith(_ =>
        {
            _slots.Release();
            if (Interlocked.Increment(ref turns) == 2) Finish();
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        try
        {
            return await running.WaitAsync(token);
        }
        catch (OperationCanceledException)
        {
            Volatile.Write(ref gaveUp, true);
            cancellationToken.ThrowIfCancellationRequested();
            if (!timeout.IsCancellationRequested) throw;
            logger.LogWarning("File work went past {Bound} (Files:TimeoutSeconds): {What}", bound, what);
            throw TimedOut(what, bound);
        }
        finally
        {
            if (Interlocked.Increment(ref turns) == 2) Finish();
        }
    }

    private FileWorkTimeoutException TimedOut(string what, TimeSpan bound) => new(
        $"The server's disk did not finish {what} within {bound.TotalSeconds:0} seconds (Files:TimeoutSeconds); try again later.", RetryAfter);
}
