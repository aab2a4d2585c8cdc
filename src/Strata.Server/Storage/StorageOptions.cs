using System.ComponentModel.DataAnnotations;

namespace Strata.Server.Storage;

/// <summary>Settings of the store (section <c>Storage</c>).</summary>
public sealed class StorageOptions
{
    public const string Section = "Storage";
    public const string Sqlite = "sqlite";
    public const string Postgres = "postgres";
    public const int DefaultMaxBatch = 512;

    /// <summary><c>sqlite</c> or <c>postgres</c>.</summary>
    /// <value>The default is <c>sqlite</c>, in the data folder.</value>
    [Required]
    [RegularExpression("^(sqlite|postgres)$", ErrorMessage = "Storage:Provider must be 'sqlite' or 'postgres'.")]
    public string Provider { get; set; } = Sqlite;

    /// <summary>An ADO.NET connection string; for SQLite the default is <c>Data Source=&lt;data folder&gt;/strata.db</c>.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>The most writes committed together in one transaction (group commit).</summary>
    /// <value>The default is 512.</value>
    [Range(1, 10_000)]
    public int MaxBatch { get; set; } = DefaultMaxBatch;
}
