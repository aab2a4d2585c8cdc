using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Strata.Server.Storage;

/// <summary>Used only by <c>dotnet ef migrations add</c> (see docs/configuration.md); never at run time.</summary>
public sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteStrataDbContext>
{
    public SqliteStrataDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqliteStrataDbContext>().UseSqlite("Data Source=design-time.db").Options);
}

/// <inheritdoc cref="SqliteDesignTimeFactory"/>
public sealed class PostgresDesignTimeFactory : IDesignTimeDbContextFactory<PostgresStrataDbContext>
{
    public PostgresStrataDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PostgresStrataDbContext>().UseNpgsql("Host=localhost;Database=design_time").Options);
}
