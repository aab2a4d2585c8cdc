using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace Strata.Server.Storage;

/// <summary>
/// The admission hot path's writes, as JobInserts is the submission's: for each admitted job, one plain
/// UPDATE of its row and one INSERT of its attempt, two statements prepared once and bound again for every
/// job, inside the writer's transaction instead of through the change tracker (whose per-entity work was
/// most of an admission's cost at thousands a second). Only for rows the context does not track: a
/// tracked row's pending changes would be saved over these. The SQL is the same on SQLite and PostgreSQL;
/// columns and formats are those of the EF model (the migrations own the schema).
/// </summary>
public sealed class AdmissionWrites : IDisposable
{
    private const string UpdateJob =
        "UPDATE jobs SET status = @status, status_reason = @status_reason, attempt_count = @attempt_count, not_before = NULL, runtime_kind = @runtime_kind " +
        "WHERE id = @id AND status = @pending";

    private const string InsertAttempt =
        "INSERT INTO attempts (job_id, number, tenant_id, status, created_at, runtime_kind, log_metrics_pending, log_metrics_offset, cpu_cores, memory_bytes, gpus) " +
        "VALUES (@job_id, @number, @tenant_id, @status, @created_at, @runtime_kind, @log_metrics_pending, 0, @cpu_cores, @memory_bytes, @gpus)";

    private readonly DbCommand _updateJob;
    private readonly DbCommand _insertAttempt;

    public AdmissionWrites(StrataDbContext db)
    {
        _updateJob = Command(db, UpdateJob, "@status", "@status_reason", "@attempt_count", "@runtime_kind", "@id", "@pending");
        _insertAttempt = Command(db, InsertAttempt, "@job_id", "@number", "@tenant_id", "@status", "@created_at", "@runtime_kind", "@log_metrics_pending", "@cpu_cores", "@memory_bytes", "@gpus");
    }

    /// <summary>Writes what <paramref name="job"/> (already changed in memory from pending) and its new <paramref name="attempt"/> now are.</summary>
    public void Write(JobRecord job, AttemptRecord attempt)
    {
        Bind(_updateJob, Spelled(job.Status), job.StatusReason, job.AttemptCount, job.RuntimeKind, job.Id, Spelled(Contracts.JobStatus.Pending));
        if (_updateJob.ExecuteNonQuery() != 1)
        {
            throw new InvalidOperationException($"Job {job.Id} was not pending in the store when admitted.");
        }
        Bind(_insertAttempt, attempt.JobId, attempt.Number, attempt.TenantId, Spelled(attempt.Status), attempt.CreatedAt, attempt.RuntimeKind, attempt.LogMetricsPending, attempt.CpuCores, attempt.MemoryBytes, attempt.Gpus);
        _insertAttempt.ExecuteNonQuery();
    }

    public void Dispose()
    {
        _updateJob.Dispose();
        _insertAttempt.Dispose();
    }

    private static DbCommand Command(StrataDbContext db, string sql, params string[] parameters)
    {
        var command = db.Database.GetDbConnection().CreateCommand();
        command.Transaction = db.Database.CurrentTransaction?.GetDbTransaction();
        command.CommandText = sql;
        foreach (var name in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            command.Parameters.Add(parameter);
        }
        return command;
    }

    /// <summary>Binds the values in the order the parameters were declared.</summary>
    private static void Bind(DbCommand command, params object?[] values)
    {
        for (var i = 0; i < values.Length; i++) command.Parameters[i].Value = values[i] ?? DBNull.Value;
    }

    /// <summary>A status as the store spells it (snake_case, as its EF conversion does).</summary>
    private static string Spelled<TStatus>(TStatus status) where TStatus : struct, Enum => StrataDbContext.SnakeCase(status.ToString());
}
