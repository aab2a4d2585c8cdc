using System.Threading.Channels;
using Microsoft.Extensions.Options;

namespace Strata.Server.Storage;

/// <summary>
/// Group commit: every write goes through one loop that applies all the writes waiting at that moment
/// to one context and commits them in one transaction, so concurrent requests share one fsync instead
/// of each paying for its own. A write's task completes only once its transaction is committed; a
/// write that fails (a unique violation, say) fails alone: the batch is retried one write at a time.
/// </summary>
public sealed class StoreWriter(Store store, IOptions<StorageOptions> options, ILogger<StoreWriter> logger) : BackgroundService
{
    private readonly Channel<Write> _writes = Channel.CreateUnbounded<Write>(new UnboundedChannelOptions { SingleReader = true });
    private readonly int _maxBatch = options.Value.MaxBatch;

    /// <summary>Applies <paramref name="apply"/> to a context in the next batch and completes once it is committed.</summary>
    /// <param name="apply">Adds or changes tracked entities; must not save. Its result is returned after the commit.</param>
    public Task<T> WriteAsync<T>(Func<StrataDbContext, T> apply, CancellationToken cancellationToken = default)
    {
        var write = new Write<T>(apply);
        if (!_writes.Writer.TryWrite(write))
        {
            throw new InvalidOperationException("The store is shutting down.");
        }
        return write.Completion.Task.WaitAsync(cancellationToken);
    }

    public Task WriteAsync(Action<StrataDbContext> apply, CancellationToken cancellationToken = default) =>
        WriteAsync<bool>(db => { apply(db); return true; }, cancellationToken);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Keep draining after stop is requested, so that every acknowledged write is committed.
        var reader = _writes.Reader;
        var batch = new List<Write>(_maxBatch);
        while (await reader.WaitToReadAsync(CancellationToken.None))
        {
            while (batch.Count < _maxBatch && reader.TryRead(out var write))
            {
                batch.Add(write);
            }
            await CommitAsync(batch);
            batch.Clear();
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _writes.Writer.TryComplete();
        await base.StopAsync(cancellationToken);
    }

    private async Task CommitAsync(List<Write> batch)
    {
        try
        {
            await CommitTogetherAsync(batch);
            return;
        }
        catch (Exception e) when (batch.Count > 1)
        {
            logger.LogDebug(e, "A batch of {Count} writes failed; committing them one by one", batch.Count);
        }
        catch (Exception e)
        {
            batch[0].Fail(e);
            return;
        }
        foreach (var write in batch.Where(w => !w.IsDone))
        {
            try
            {
                await CommitTogetherAsync([write]);
            }
            catch (Exception e)
            {
                write.Fail(e);
            }
        }
    }

    private async Task CommitTogetherAsync(List<Write> batch)
    {
        await using var db = store.CreateContext();
        db.ChangeTracker.AutoDetectChangesEnabled = false;
        await using var transaction = await db.Database.BeginTransactionAsync();
        var applied = new List<Write>(batch.Count);
        foreach (var write in batch)
        {
            try
            {
                write.Apply(db);
                applied.Add(write);
            }
            catch (Exception e) when (e is not System.Data.Common.DbException)
            {
                // The write's own logic refused (e.g. a missing row): it fails alone; the others go on.
                // A database error instead fails the batch (PostgreSQL aborts the whole transaction),
                // which is then retried one write at a time.
                write.Fail(e);
            }
        }
        db.ChangeTracker.DetectChanges();
        await db.SaveChangesAsync();
        await transaction.CommitAsync();
        foreach (var write in applied)
        {
            write.Complete();
        }
    }

    private abstract class Write
    {
        public abstract bool IsDone { get; }
        public abstract void Apply(StrataDbContext db);
        public abstract void Complete();
        public abstract void Fail(Exception e);
    }

    private sealed class Write<T>(Func<StrataDbContext, T> apply) : Write
    {
        private T _result = default!;

        public TaskCompletionSource<T> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override bool IsDone => Completion.Task.IsCompleted;

        public override void Apply(StrataDbContext db) => _result = apply(db);

        public override void Complete() => Completion.TrySetResult(_result);

        public override void Fail(Exception e) => Completion.TrySetException(e);
    }
}
