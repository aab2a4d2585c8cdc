using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Strata.Contracts;

namespace Strata.Server.Storage;

/// <summary>
/// The submission hot path's insert, written as one plain parameterized statement inside the writer's
/// transaction instead of through the change tracker: at thousands of submissions a second the
/// tracker's per-entity work, not the disk, was what limited group commit. The SQL is the same on
/// SQLite and PostgreSQL; columns and formats are those of the EF model (the migrations own the schema).
/// </summary>
public static class JobInserts
{
    private const string Sql =
        "INSERT INTO jobs (id, tenant_id, name, status, status_reason, priority, cpu_cores, memory_bytes, gpus, gpu_fraction, gpu_type, workers, spec_json, created_at, attempt_count, measured_seconds, measured_cpu_seconds, measured_gpu_seconds, measured_gpu_used_seconds, preemptions) " +
        "VALUES (@id, @tenant_id, @name, @status, @status_reason, @priority, @cpu_cores, @memory_bytes, @gpus, @gpu_fraction, @gpu_type, @workers, @spec_json, @created_at, 0, 0, 0, 0, 0, 0) RETURNING seq";

    /// <summary>Inserts a new pending job and sets its <see cref="JobRecord.Seq"/>.</summary>
    public static void Insert(StrataDbContext db, JobRecord job)
    {
        var connection = db.Database.GetDbConnection();
        using var command = connection.CreateCommand();
        command.Transaction = db.Database.CurrentTransaction?.GetDbTransaction();
        command.CommandText = Sql;
        Add(command, "@id", job.Id);
        Add(command, "@tenant_id", job.TenantId);
        Add(command, "@name", job.Name);
        Add(command, "@status", StrataDbContext.SnakeCase(job.Status.ToString()));
        Add(command, "@status_reason", job.StatusReason);
        Add(command, "@priority", job.Priority);
        Add(command, "@cpu_cores", job.CpuCores);
        Add(command, "@memory_bytes", job.MemoryBytes);
        Add(command, "@gpus", job.Gpus);
        Add(command, "@gpu_fraction", job.GpuFraction);
        Add(command, "@gpu_type", job.GpuType);
        Add(command, "@workers", job.Workers);
        Add(command, "@spec_json", job.SpecJson);
        Add(command, "@created_at", job.CreatedAt);
        job.Seq = Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static void Add(DbCommand command, string name, object? value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value ?? DBNull.Value;
        command.Parameters.Add(parameter);
    }
}
