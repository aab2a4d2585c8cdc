using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Strata.Server.Storage;

namespace Strata.Server.Tests.Support;

/// <summary>A migrated store of its own, without a server: a fresh SQLite file, or a fresh database on the PostgreSQL of STRATA_TEST_POSTGRES.</summary>
public sealed record TestDatabase(Store Store, PostgresDatabase? Postgres) : IAsyncDisposable
{
    public static TheoryData<StorageKind> Kinds => new() { StorageKind.Sqlite, StorageKind.Postgres };

    public static async Task<TestDatabase> OpenAsync(StorageKind kind)
    {
        if (kind == StorageKind.Postgres)
        {
            var postgres = await PostgresDatabase.CreateAsync();
            var options = new DbContextOptionsBuilder<PostgresStrataDbContext>().UseNpgsql(postgres.ConnectionString).Options;
            var factory = new PooledDbContextFactory<PostgresStrataDbContext>(options);
            await using (var db = factory.CreateDbContext()) await db.Database.MigrateAsync();
            return new TestDatabase(new Store(factory, "postgres"), postgres);
        }
        var folder = Path.Combine(Path.GetTempPath(), "strata-store-tests", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(folder);
        var sqlite = new DbContextOptionsBuilder<SqliteStrataDbContext>().UseSqlite($"Data Source={Path.Combine(folder, "strata.db")};Default Timeout=30").Options;
        var sqliteFactory = new PooledDbContextFactory<SqliteStrataDbContext>(sqlite);
        await using (var db = sqliteFactory.CreateDbContext()) await db.Database.MigrateAsync();
        return new TestDatabase(new Store(sqliteFactory, "sqlite"), null);
    }

    public async ValueTask DisposeAsync()
    {
        if (Postgres is not null) await Postgres.DisposeAsync();
    }
}
