using System.Threading.Channels;
using Microsoft.Extensions.Options;

namespace Strata.Server.Storage;

/// <summary>
/// Group commit: every write goes through one loop that applies all the writes waiting at that moment
/// to one context and commits them in one transaction, so concurrent requests share one fsync instead
/// of each paying for its own. A write's task completes only once its transaction is committed; a
/// write that fails (a unique violation, say, or a second insert of a key another write of the batch
/// inserts) fails alone: it is committed on its own, and the others without it.
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

    /// <summary>
    /// Commits <paramref name="batch"/> together if it can. A write whose apply throws (its own logic refused,
    /// or it collided with another write of the batch: two inserts of one key make EF refuse to track the
    /// second) is set aside and the others are tried again on a fresh context, since the thrower may have
    /// left changes half made; the writes set aside are then committed alone, so that a collision becomes
    /// what it is, a unique violation of that write only. A database error (PostgreSQL aborts the whole
    /// transaction) sends every write of the batch through alone.
    /// </summary>
    private async Task CommitAsync(List<Write> batch)
    {
        var alone = new HashSet<Write>();
        var together = batch;
        while (together.Count > 1)
        {
            IReadOnlyList<(Write Write, Exception Error)> refused;
            try
            {
                refused = await TryCommitTogetherAsync(together);
            }
            catch (Exception e)
            {
                logger.LogDebug(e, "A batch of {Count} writes failed; committing them one by one", together.Count);
                alone.UnionWith(together);
                together = [];
                break;
            }
            if (refused.Count == 0)
            {
                together = [];
                break;
            }
            alone.UnionWith(refused.Select(r => r.Write));
            together = [.. together.Where(w => !alone.Contains(w))];
        }
        // A batch of one write, or what is left of one.
        alone.UnionWith(together);
        foreach (var write in batch.Where(alone.Contains))
        {
            await CommitAloneAsync(write);
        }
    }

    /// <summary>
    /// Commits one write in a transaction of its own. A unique violation gets one more try: another server on
    /// the same database may have committed the row that this write looked for and did not find (an upsert),
    /// and the write then finds it; a plain insert of a taken key fails again, and that is its answer.
    /// </summary>
    private async Task CommitAloneAsync(Write write)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                if (await TryCommitTogetherAsync([write]) is [var (_, error)]) write.Fail(error);
                return;
            }
            catch (Exception e) when (attempt == 1 && Store.IsUniqueViolation(e))
            {
                logger.LogDebug(e, "A write met a unique violation; applying it once more");
            }
            catch (Exception e)
            {
                write.Fail(e);
                return;
            }
        }
    }

    /// <summary>
    /// Applies every write to one context and commits them in one transaction, unless a write's apply throws
    /// something other than a database error: then nothing is saved (the transaction rolls back, taking any
    /// plain SQL the writes ran with it) and the writes that threw are returned. A database error is thrown.
    /// </summary>
    private async Task<IReadOnlyList<(Write Write, Exception Error)>> TryCommitTogetherAsync(List<Write> batch)
    {
        await using var db = store.CreateContext();
        db.ChangeTracker.AutoDetectChangesEnabled = false;
        await using var transaction = await db.Database.BeginTransactionAsync();
        var refused = new List<(Write, Exception)>();
        foreach (var write in batch)
        {
            try
            {
                write.Apply(db);
            }
            catch (Exception e) when (e is not System.Data.Common.DbException)
            {
                // The others are still applied: every write that throws here is found in one pass.
                refused.Add((write, e));
            }
        }
        if (refused.Count > 0) return refused;
        db.ChangeTracker.DetectChanges();
        await db.SaveChangesAsync();
        await transaction.CommitAsync();
        foreach (var write in batch)
        {
            write.Complete();
        }
        return [];
    }

    private abstract class Write
    {
        public abstract void Apply(StrataDbContext db);
        public abstract void Complete();
        public abstract void Fail(Exception e);
    }

    private sealed class Write<T>(Func<StrataDbContext, T> apply) : Write
    {
        private T _result = default!;

        public TaskCompletionSource<T> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void Apply(StrataDbContext db) => _result = apply(db);

        public override void Complete() => Completion.TrySetResult(_result);

        public override void Fail(Exception e) => Completion.TrySetException(e);
    }
}
