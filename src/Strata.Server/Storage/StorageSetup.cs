using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.Options;
using Npgsql;
using Strata.Server.Hosting;

namespace Strata.Server.Storage;

public static class StorageSetup
{
    /// <summary>Registers the store for the configured provider: <see cref="Store"/> and the group-committing <see cref="StoreWriter"/>.</summary>
    public static WebApplicationBuilder AddStorage(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<StorageOptions>().BindConfiguration(StorageOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        var options = builder.Configuration.GetSection(StorageOptions.Section).Get<StorageOptions>() ?? new StorageOptions();
        if (options.Provider == StorageOptions.Postgres)
        {
            if (string.IsNullOrWhiteSpace(options.ConnectionString))
            {
                throw new OptionsValidationException(StorageOptions.Section, typeof(StorageOptions),
                    ["Storage:ConnectionString is required when Storage:Provider is 'postgres'."]);
            }
            var connectionString = PostgresConnectionString(options.ConnectionString);
            builder.Services.AddPooledDbContextFactory<PostgresStrataDbContext>(o => o.UseNpgsql(connectionString));
            builder.Services.AddSingleton<Store>(sp => new Store(sp.GetRequiredService<IDbContextFactory<PostgresStrataDbContext>>(), StorageOptions.Postgres));
        }
        else
        {
            builder.Services.AddPooledDbContextFactory<SqliteStrataDbContext>((sp, o) =>
            {
                var data = sp.GetRequiredService<DataFolder>();
                o.UseSqlite(options.ConnectionString ?? $"Data Source={data.Database};Pooling=True")
                 .AddInterceptors(SqliteDurability.Instance);
            });
            builder.Services.AddSingleton<Store>(sp => new Store(sp.GetRequiredService<IDbContextFactory<SqliteStrataDbContext>>(), StorageOptions.Sqlite));
        }
        builder.Services.AddSingleton<StoreWriter>();
        builder.Services.AddSingleton<JobStore>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<StoreWriter>());
        return builder;
    }

    /// <summary>Creates or upgrades the schema. Runs before the server takes requests.</summary>
    /// <exception cref="InvalidOperationException">The database holds migrations this build does not have (see <see cref="Migrate"/>).</exception>
    public static void MigrateStore(this WebApplication app) => Migrate(app.Services.GetRequiredService<Store>());

    /// <summary>
    /// Applies this build's migrations, once the database's history is known to be a part of them. A database
    /// made before the migrations were squashed into <c>Initial</c> (docs/configuration.md) has none of this
    /// build's ids; without the check, <c>Initial</c> would fail on the first table that already exists.
    /// </summary>
    /// <exception cref="InvalidOperationException">The database holds migrations this build does not have.</exception>
    internal static void Migrate(Store store)
    {
        using var db = store.CreateContext();
        var unknown = db.Database.GetAppliedMigrations().Except(db.Database.GetMigrations()).ToList();
        if (unknown.Count > 0)
        {
            throw new InvalidOperationException(
                $"The database has migrations this build of Strata does not have ({string.Join(", ", unknown)}). " +
                "A database created before the migrations were squashed (an unreleased build) must be recreated; " +
                "a database of a newer Strata needs that version. See docs/configuration.md#migrations.");
        }
        if (store.Provider == StorageOptions.Sqlite)
        {
            // WAL is a property of the database file: set once, it persists.
            db.Database.OpenConnection();
            db.Database.ExecuteSqlRaw("PRAGMA journal_mode=WAL;");
        }
        db.Database.Migrate();
    }

    /// <summary>A 201 means the row is on disk: PostgreSQL commits synchronously whatever the server's default.</summary>
    private static string PostgresConnectionString(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        builder.Options = string.IsNullOrEmpty(builder.Options)
            ? "-c synchronous_commit=on"
            : builder.Options + " -c synchronous_commit=on";
        return builder.ConnectionString;
    }

    /// <summary>Every SQLite connection commits durably (<c>synchronous=FULL</c>) and waits for the write lock.</summary>
    private sealed class SqliteDurability : DbConnectionInterceptor
    {
        public static readonly SqliteDurability Instance = new();

        public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData) => Apply(connection);

        public override Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
        {
            Apply(connection);
            return Task.CompletedTask;
        }

        private static void Apply(DbConnection connection)
        {
            if (connection is not SqliteConnection)
            {
                return;
            }
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON;";
            command.ExecuteNonQuery();
        }
    }
}
