using System.Text;
using Microsoft.EntityFrameworkCore;
using Strata.Contracts;

namespace Strata.Server.Storage;

/// <summary>
/// The store. Tables and columns are snake_case on every provider. Each provider has its own subclass
/// only so that each keeps its own migrations (<see cref="SqliteStrataDbContext"/>, <see cref="PostgresStrataDbContext"/>).
/// </summary>
public abstract class StrataDbContext(DbContextOptions options) : DbContext(options)
{
    public DbSet<TenantRecord> Tenants => Set<TenantRecord>();
    public DbSet<JobRecord> Jobs => Set<JobRecord>();
    public DbSet<AttemptRecord> Attempts => Set<AttemptRecord>();
    public DbSet<LeaseRecord> Leases => Set<LeaseRecord>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<TenantRecord>(tenant =>
        {
            tenant.ToTable("tenants");
            tenant.HasKey(t => t.Id);
            tenant.Property(t => t.Id).HasMaxLength(40);
            tenant.Property(t => t.Name).HasMaxLength(200);
            tenant.Property(t => t.CostCenter).HasMaxLength(100);
        });

        modelBuilder.Entity<JobRecord>(job =>
        {
            job.ToTable("jobs");
            job.HasKey(j => j.Seq);
            job.Property(j => j.Seq).ValueGeneratedOnAdd();
            job.Property(j => j.Id).HasMaxLength(36);
            job.HasIndex(j => j.Id).IsUnique();
            job.Property(j => j.TenantId).HasMaxLength(40);
            job.Property(j => j.Name).HasMaxLength(63);
            job.Property(j => j.Status).HasConversion(StatusConverter<JobStatus>()).HasMaxLength(16);
            job.Property(j => j.StatusReason).HasMaxLength(64);
            job.HasIndex(j => new { j.TenantId, j.Seq });
            job.HasIndex(j => new { j.TenantId, j.Status, j.Seq });
            job.HasIndex(j => j.Status);
            // Names are unique among a tenant's active jobs only: a finished job's name can be used again.
            job.HasIndex(j => new { j.TenantId, j.Name }).IsUnique().HasFilter("status IN ('pending', 'running')");
        });

        modelBuilder.Entity<AttemptRecord>(attempt =>
        {
            attempt.ToTable("attempts");
            attempt.HasKey(a => new { a.JobId, a.Number });
            attempt.Property(a => a.JobId).HasMaxLength(36);
            attempt.Property(a => a.TenantId).HasMaxLength(40);
            attempt.Property(a => a.Status).HasConversion(StatusConverter<AttemptStatus>()).HasMaxLength(16);
            attempt.Property(a => a.Reason).HasMaxLength(64);
            attempt.HasIndex(a => a.Status);
        });

        modelBuilder.Entity<LeaseRecord>(lease =>
        {
            lease.ToTable("leases");
            lease.HasKey(l => l.Name);
            lease.Property(l => l.Name).HasMaxLength(64);
            lease.Property(l => l.Holder).HasMaxLength(200);
        });

        foreach (var entity in modelBuilder.Model.GetEntityTypes())
        {
            foreach (var property in entity.GetProperties())
            {
                property.SetColumnName(SnakeCase(property.Name));
            }
        }
    }

    private static Microsoft.EntityFrameworkCore.Storage.ValueConversion.ValueConverter<T, string> StatusConverter<T>()
        where T : struct, Enum =>
        new(value => SnakeCase(value.ToString()), text => Enum.Parse<T>(text.Replace("_", ""), true));

    internal static string SnakeCase(string name)
    {
        var builder = new StringBuilder(name.Length + 8);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsUpper(c))
            {
                if (i > 0) builder.Append('_');
                builder.Append(char.ToLowerInvariant(c));
            }
            else
            {
                builder.Append(c);
            }
        }
        return builder.ToString();
    }
}

public sealed class SqliteStrataDbContext(DbContextOptions<SqliteStrataDbContext> options) : StrataDbContext(options);

public sealed class PostgresStrataDbContext(DbContextOptions<PostgresStrataDbContext> options) : StrataDbContext(options);
