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
    public DbSet<ArtifactRecord> Artifacts => Set<ArtifactRecord>();
    public DbSet<MetricRecord> Metrics => Set<MetricRecord>();
    public DbSet<MetricSeriesRecord> MetricSeries => Set<MetricSeriesRecord>();
    public DbSet<ModelRecord> Models => Set<ModelRecord>();
    public DbSet<ModelVersionRecord> ModelVersions => Set<ModelVersionRecord>();
    public DbSet<ModelAliasRecord> ModelAliases => Set<ModelAliasRecord>();
    public DbSet<LeaseRecord> Leases => Set<LeaseRecord>();
    public DbSet<DeploymentRecord> Deployments => Set<DeploymentRecord>();
    public DbSet<IdempotencyKeyRecord> IdempotencyKeys => Set<IdempotencyKeyRecord>();
    public DbSet<ReplicaUsageRecord> ReplicaUsage => Set<ReplicaUsageRecord>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<TenantRecord>(tenant =>
        {
            tenant.ToTable("tenants");
            tenant.HasKey(t => t.Id);
            tenant.Property(t => t.Id).HasMaxLength(40);
            tenant.Property(t => t.Uid).HasMaxLength(32);
            tenant.Property(t => t.Name).HasMaxLength(200);
            tenant.Property(t => t.CostCenter).HasMaxLength(100);
            tenant.Property(t => t.OnQuotaExceeded).HasMaxLength(16);
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
            // A job reference (JobStore.ResolveAsync): an id prefix is a range within the tenant; a name is looked up
            // among all the tenant's jobs, ended ones too (the index above holds active jobs only), newest (highest id)
            // first, so the id is in the name's index: without it the planner would walk the tenant's jobs in id order.
            job.HasIndex(j => new { j.TenantId, j.Id }, "IX_jobs_tenant_id_id");
            job.HasIndex(j => new { j.TenantId, j.Name, j.Id }, "IX_jobs_tenant_id_name_id");
        });

        modelBuilder.Entity<AttemptRecord>(attempt =>
        {
            attempt.ToTable("attempts");
            attempt.HasKey(a => new { a.JobId, a.Number });
            attempt.Property(a => a.JobId).HasMaxLength(36);
            attempt.Property(a => a.TenantId).HasMaxLength(40);
            attempt.Property(a => a.Status).HasConversion(StatusConverter<AttemptStatus>()).HasMaxLength(16);
            attempt.Property(a => a.Reason).HasMaxLength(64);
            attempt.Property(a => a.CheckpointPath).HasMaxLength(1024);
            attempt.HasIndex(a => a.Status);
            // GET /v1/usage: the attempts of a tenant that ended in a window.
            attempt.HasIndex(a => new { a.TenantId, a.EndedAtUnixMs });
            attempt.HasIndex(a => a.EndedAtUnixMs);
            attempt.HasIndex(a => a.LogMetricsPending).HasFilter("log_metrics_pending");
        });

        modelBuilder.Entity<ArtifactRecord>(artifact =>
        {
            artifact.ToTable("artifacts");
            artifact.HasKey(a => a.Seq);
            artifact.Property(a => a.Seq).ValueGeneratedOnAdd();
            artifact.Property(a => a.Id).HasMaxLength(36);
            artifact.HasIndex(a => a.Id).IsUnique();
            artifact.Property(a => a.TenantId).HasMaxLength(40);
            artifact.Property(a => a.Name).HasMaxLength(255);
            artifact.Property(a => a.Kind).HasMaxLength(16);
            artifact.Property(a => a.Sha256).HasMaxLength(64);
            artifact.Property(a => a.JobId).HasMaxLength(36);
            artifact.HasIndex(a => new { a.TenantId, a.Seq });
        });

        modelBuilder.Entity<IdempotencyKeyRecord>(key =>
        {
            key.ToTable("idempotency_keys");
            // Scoped to the tenant: another tenant's identical key is another key.
            key.HasKey(k => new { k.TenantId, k.Key });
            key.Property(k => k.TenantId).HasMaxLength(40);
            key.Property(k => k.Key).HasMaxLength(255);
            key.Property(k => k.Fingerprint).HasMaxLength(64);
            key.Property(k => k.Location).HasMaxLength(1024);
            // The sweep of expired keys.
            key.HasIndex(k => k.ExpiresAtUnixMs);
        });

        modelBuilder.Entity<MetricRecord>(metric =>
        {
            metric.ToTable("metrics");
            metric.HasKey(m => m.Seq);
            metric.Property(m => m.Seq).ValueGeneratedOnAdd();
            metric.Property(m => m.JobId).HasMaxLength(36);
            metric.Property(m => m.TenantId).HasMaxLength(40);
            metric.Property(m => m.Name).HasMaxLength(128);
            metric.HasIndex(m => new { m.JobId, m.Seq });
            metric.HasIndex(m => new { m.JobId, m.Name, m.Seq });
        });

        modelBuilder.Entity<MetricSeriesRecord>(series =>
        {
            series.ToTable("metric_series");
            series.HasKey(s => new { s.JobId, s.Name });
            series.Property(s => s.JobId).HasMaxLength(36);
            series.Property(s => s.Name).HasMaxLength(128);
            series.Property(s => s.TenantId).HasMaxLength(40);
        });

        modelBuilder.Entity<JobRecord>().Property(j => j.OutputModelVersion).HasMaxLength(80);

        modelBuilder.Entity<ModelRecord>(model =>
        {
            model.ToTable("models");
            model.HasKey(m => m.Seq);
            model.Property(m => m.Seq).ValueGeneratedOnAdd();
            model.Property(m => m.TenantId).HasMaxLength(40);
            model.Property(m => m.Name).HasMaxLength(63);
            model.Property(m => m.Description).HasMaxLength(1000);
            model.HasIndex(m => new { m.TenantId, m.Name }).IsUnique();
            model.HasIndex(m => new { m.TenantId, m.Seq });
        });

        modelBuilder.Entity<ModelVersionRecord>(version =>
        {
            version.ToTable("model_versions");
            version.HasKey(v => new { v.TenantId, v.ModelName, v.Version });
            version.Property(v => v.TenantId).HasMaxLength(40);
            version.Property(v => v.ModelName).HasMaxLength(63);
            version.Property(v => v.Format).HasMaxLength(16);
            version.Property(v => v.Uri).HasMaxLength(2048);
            version.Property(v => v.Sha256).HasMaxLength(64);
            version.Property(v => v.JobId).HasMaxLength(36);
            version.Property(v => v.Source).HasMaxLength(16);
            version.Property(v => v.Description).HasMaxLength(1000);
            // A built-in trainer's job registers one version, however often its success is observed.
            version.HasIndex(v => v.JobId).IsUnique().HasFilter("source = 'trainer'");
        });

        modelBuilder.Entity<ModelAliasRecord>(alias =>
        {
            alias.ToTable("model_aliases");
            alias.HasKey(a => new { a.TenantId, a.ModelName, a.Alias });
            alias.Property(a => a.TenantId).HasMaxLength(40);
            alias.Property(a => a.ModelName).HasMaxLength(63);
            alias.Property(a => a.Alias).HasMaxLength(63);
        });

        modelBuilder.Entity<LeaseRecord>(lease =>
        {
            lease.ToTable("leases");
            lease.HasKey(l => l.Name);
            lease.Property(l => l.Name).HasMaxLength(64);
            lease.Property(l => l.Holder).HasMaxLength(200);
        });

        modelBuilder.Entity<DeploymentRecord>(deployment =>
        {
            deployment.ToTable("deployments");
            deployment.HasKey(d => d.Seq);
            deployment.Property(d => d.Seq).ValueGeneratedOnAdd();
            deployment.Property(d => d.TenantId).HasMaxLength(40);
            deployment.Property(d => d.Name).HasMaxLength(63);
            deployment.Property(d => d.ModelRef).HasMaxLength(128);
            deployment.Property(d => d.ModelName).HasMaxLength(63);
            deployment.Property(d => d.CanaryModelRef).HasMaxLength(128);
            deployment.Property(d => d.ScalingMode).HasMaxLength(16);
            deployment.HasIndex(d => new { d.TenantId, d.Name }).IsUnique();
            deployment.HasIndex(d => new { d.TenantId, d.Seq });
        });

        modelBuilder.Entity<ReplicaUsageRecord>(usage =>
        {
            usage.ToTable("replica_usage");
            usage.HasKey(u => u.Seq);
            usage.Property(u => u.Seq).ValueGeneratedOnAdd();
            usage.Property(u => u.TenantId).HasMaxLength(40);
            usage.Property(u => u.DeploymentName).HasMaxLength(63);
            usage.Property(u => u.ReplicaId).HasMaxLength(100);
            // GET /v1/usage: the intervals of a tenant (or of every tenant) that end after a window's start.
            usage.HasIndex(u => new { u.TenantId, u.EndedAtUnixMs });
            usage.HasIndex(u => u.EndedAtUnixMs);
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
