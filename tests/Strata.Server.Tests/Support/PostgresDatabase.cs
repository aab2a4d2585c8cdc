using Npgsql;

namespace Strata.Server.Tests.Support;

/// <summary>
/// A fresh PostgreSQL database for one app under test, on the server named by <c>STRATA_TEST_POSTGRES</c>
/// (an Npgsql connection string; <c>scripts/test</c> starts a server and sets it). Dropped on dispose.
/// </summary>
public sealed class PostgresDatabase : IAsyncDisposable
{
    public const string Variable = "STRATA_TEST_POSTGRES";

    private readonly string _server;
    private readonly string _name;

    private PostgresDatabase(string server, string name)
    {
        _server = server;
        _name = name;
        ConnectionString = new NpgsqlConnectionStringBuilder(server) { Database = name }.ConnectionString;
    }

    /// <summary>Why PostgreSQL tests cannot run here, or null when they can.</summary>
    public static string? SkipReason => string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(Variable))
        ? $"PostgreSQL is not configured: set {Variable} to an Npgsql connection string (scripts/test starts one and sets it)."
        : null;

    public string ConnectionString { get; }

    public static async Task<PostgresDatabase> CreateAsync()
    {
        var server = Environment.GetEnvironmentVariable(Variable)
            ?? throw new InvalidOperationException(SkipReason);
        var name = "strata_" + Guid.NewGuid().ToString("N")[..16];
        await using var connection = new NpgsqlConnection(server);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        await command.ExecuteNonQueryAsync();
        return new PostgresDatabase(server, name);
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(_server);
        await connection.OpenAsync();
        // FORCE: a connection the stopped server's pool still held must not keep the database alive.
        await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{_name}\" WITH (FORCE)", connection);
        await command.ExecuteNonQueryAsync();
    }
}
