using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Strata.Server.Storage;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Storage;

/// <summary>
/// The group-commit writer on a real SQLite file and a real PostgreSQL. The writes are queued before the writer
/// starts, so that they are all in its first batch: what one write does must not fail or leak into the others.
/// </summary>
public sealed class StoreWriterTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.Parse("2026-12-01T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture);

    private static TenantRecord Tenant(string id) => new() { Id = id, Name = id, CreatedAt = Now };

    /// <summary>Queues <paramref name="writes"/>, then starts the writer, so that they make one batch; returns their tasks once all have ended.</summary>
    private static async Task<Task<bool>[]> OneBatchAsync(Store store, params Func<StrataDbContext, bool>[] writes)
    {
        using var writer = new StoreWriter(store, Options.Create(new StorageOptions()), NullLogger<StoreWriter>.Instance);
        var tasks = writes.Select(w => writer.WriteAsync(w)).ToArray();
        await writer.StartAsync(CancellationToken.None);
        try
        {
            await Task.WhenAll(tasks.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
        }
        finally
        {
            await writer.StopAsync(CancellationToken.None);
        }
        return tasks;
    }

    [SkippableTheory]
    [MemberData(nameof(TestDatabase.Kinds), MemberType = typeof(TestDatabase))]
    public async Task Two_inserts_of_one_key_in_one_batch_store_the_first_and_fail_the_second_with_a_unique_violation(StorageKind kind)
    {
        Skip.If(kind == StorageKind.Postgres && PostgresDatabase.SkipReason is not null, PostgresDatabase.SkipReason);
        await using var database = await TestDatabase.OpenAsync(kind);

        var tasks = await OneBatchAsync(database.Store,
            db => { db.Tenants.Add(Tenant("same")); return true; },
            db => { db.Tenants.Add(Tenant("same")); return true; },
            db => { db.Tenants.Add(Tenant("other")); return true; });

        Assert.True(tasks[0].IsCompletedSuccessfully, tasks[0].Exception?.ToString());
        var error = await Assert.ThrowsAnyAsync<Exception>(() => tasks[1]);
        Assert.True(Store.IsUniqueViolation(error), $"Not a unique violation: {error}");
        Assert.True(tasks[2].IsCompletedSuccessfully, tasks[2].Exception?.ToString());
        await using var read = database.Store.CreateContext();
        Assert.Equal(["other", "same"], await read.Tenants.Select(t => t.Id).OrderBy(id => id).ToListAsync());
    }

    [SkippableTheory]
    [MemberData(nameof(TestDatabase.Kinds), MemberType = typeof(TestDatabase))]
    public async Task A_write_that_throws_fails_alone_and_nothing_it_did_is_stored(StorageKind kind)
    {
        Skip.If(kind == StorageKind.Postgres && PostgresDatabase.SkipReason is not null, PostgresDatabase.SkipReason);
        await using var database = await TestDatabase.OpenAsync(kind);

        var tasks = await OneBatchAsync(database.Store,
            db => { db.Tenants.Add(Tenant("before")); return true; },
            db =>
            {
                // Half made: a tracked insert and a plain statement, then a refusal.
                db.Tenants.Add(Tenant("half-made"));
                db.Database.ExecuteSqlRaw("UPDATE tenants SET name = 'changed' WHERE id = 'before'");
                throw new InvalidOperationException("refused");
            },
            db => { db.Tenants.Add(Tenant("after")); return true; });

        Assert.True(tasks[0].IsCompletedSuccessfully, tasks[0].Exception?.ToString());
        Assert.Equal("refused", (await Assert.ThrowsAsync<InvalidOperationException>(() => tasks[1])).Message);
        Assert.True(tasks[2].IsCompletedSuccessfully, tasks[2].Exception?.ToString());
        await using var read = database.Store.CreateContext();
        var stored = await read.Tenants.OrderBy(t => t.Id).Select(t => new { t.Id, t.Name }).ToListAsync();
        Assert.Equal([new { Id = "after", Name = "after" }, new { Id = "before", Name = "before" }], stored);
    }

    [SkippableFact]
    public async Task An_upsert_that_meets_the_row_another_server_committed_meanwhile_is_applied_again_and_updates_it()
    {
        // On SQLite nothing can commit between a write's read and its insert: the writer holds the write lock.
        Skip.If(PostgresDatabase.SkipReason is not null, PostgresDatabase.SkipReason);
        await using var database = await TestDatabase.OpenAsync(StorageKind.Postgres);
        var applied = 0;

        var tasks = await OneBatchAsync(database.Store, db =>
        {
            applied++;
            var existing = db.Tenants.Find("shared");
            if (applied == 1)
            {
                // Another server inserts the row after this write looked for it.
                using var other = database.Store.CreateContext();
                other.Tenants.Add(Tenant("shared"));
                other.SaveChanges();
            }
            if (existing is null) db.Tenants.Add(new TenantRecord { Id = "shared", Name = "mine", CreatedAt = Now });
            else existing.Name = "mine";
            return true;
        });

        Assert.True(tasks[0].IsCompletedSuccessfully, tasks[0].Exception?.ToString());
        Assert.Equal(2, applied);
        await using var read = database.Store.CreateContext();
        Assert.Equal("mine", (await read.Tenants.SingleAsync(t => t.Id == "shared")).Name);
    }
}
