using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Strata.Server.Storage;

/// <summary>Creates contexts for reads (and for the writer) whatever the provider.</summary>
public sealed class Store
{
    private readonly Func<StrataDbContext> _create;

    public Store(IDbContextFactory<SqliteStrataDbContext> factory, string provider) : this(() => factory.CreateDbContext(), provider) { }

    public Store(IDbContextFactory<PostgresStrataDbContext> factory, string provider) : this(() => factory.CreateDbContext(), provider) { }

    private Store(Func<StrataDbContext> create, string provider)
    {
        _create = create;
        Provider = provider;
    }

    public string Provider { get; }

    public StrataDbContext CreateContext() => _create();

    /// <summary>True when <paramref name="exception"/> is a unique-constraint violation on either provider.</summary>
    public static bool IsUniqueViolation(Exception exception) => exception switch
    {
        DbUpdateException { InnerException: { } inner } => IsUniqueViolation(inner),
        SqliteException sqlite => sqlite.SqliteErrorCode == 19 && sqlite.SqliteExtendedErrorCode is 2067 or 1555,
        PostgresException postgres => postgres.SqlState == PostgresErrorCodes.UniqueViolation,
        _ => false,
    };
}
