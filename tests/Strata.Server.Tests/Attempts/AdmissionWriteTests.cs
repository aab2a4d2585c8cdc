using Microsoft.EntityFrameworkCore;
using Strata.Contracts;
using Strata.Server.Attempts;
using Strata.Server.Storage;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Attempts;

/// <summary>
/// Admission as the store writer applies it, on a real SQLite file and a real PostgreSQL: most jobs are
/// written by plain statements, and a job another write of the same batch changed keeps that change.
/// </summary>
public sealed class AdmissionWriteTests
{
    // Microseconds: what PostgreSQL keeps of a time.
    private static readonly DateTimeOffset Now = DateTimeOffset.Parse("2026-12-01T10:00:00.123456Z", System.Globalization.CultureInfo.InvariantCulture);

    [SkippableTheory]
    [MemberData(nameof(TestDatabase.Kinds), MemberType = typeof(TestDatabase))]
    public async Task Admitted_jobs_run_their_next_attempt_and_a_job_cancelled_earlier_in_the_batch_stays_cancelled(StorageKind kind)
    {
        Skip.If(kind == StorageKind.Postgres && PostgresDatabase.SkipReason is not null, PostgresDatabase.SkipReason);
        await using var database = await TestDatabase.OpenAsync(kind);
        await using (var db = database.Store.CreateContext())
        {
            db.Tenants.Add(new TenantRecord { Id = "team-a", Name = "Team A", CreatedAt = Now });
            await db.SaveChangesAsync();
            await db.Database.OpenConnectionAsync();
            foreach (var (id, attempts) in new[] { ("first", 0), ("cancelled", 0), ("retried", 2) })
            {
                JobInserts.Insert(db, new JobRecord { Id = id, TenantId = "team-a", Name = id, SpecJson = "{}", CreatedAt = Now, StatusReason = StatusReasons.WaitingForCapacity });
                if (attempts > 0) await db.Jobs.Where(j => j.Id == id).ExecuteUpdateAsync(set => set.SetProperty(j => j.AttemptCount, attempts).SetProperty(j => j.NotBefore, Now));
            }
        }

        List<(JobRecord Job, AttemptRecord Attempt)?> admitted;
        await using (var db = database.Store.CreateContext())
        {
            // As the store writer runs a batch: one transaction, changes detected once before saving.
            db.ChangeTracker.AutoDetectChangesEnabled = false;
            await using var transaction = await db.Database.BeginTransactionAsync();
            var cancel = await db.Jobs.SingleAsync(j => j.Id == "cancelled");
            cancel.Status = JobStatus.Cancelled;
            admitted = AttemptTransitions.Admit(db, ["first", "cancelled", "retried"], "local", Now);
            db.ChangeTracker.DetectChanges();
            await db.SaveChangesAsync();
            await transaction.CommitAsync();
        }

        Assert.Equal([1, 0, 3], admitted.Select(a => a?.Attempt.Number ?? 0));
        await using (var db = database.Store.CreateContext())
        {
            var jobs = await db.Jobs.AsNoTracking().ToDictionaryAsync(j => j.Id);
            var attempts = await db.Attempts.AsNoTracking().ToListAsync();
            foreach (var (id, number) in new[] { ("first", 1), ("retried", 3) })
            {
                var job = jobs[id];
                Assert.Equal((JobStatus.Running, StatusReasons.Starting, number, "local", null), (job.Status, job.StatusReason, job.AttemptCount, job.RuntimeKind, job.NotBefore));
                var attempt = Assert.Single(attempts, a => a.JobId == id);
                Assert.Equal((number, "team-a", AttemptStatus.Starting, "local", true, 0L), (attempt.Number, attempt.TenantId, attempt.Status, attempt.RuntimeKind, attempt.LogMetricsPending, attempt.LogMetricsOffset));
                Assert.Equal(Now, attempt.CreatedAt);
            }
            Assert.Equal(JobStatus.Cancelled, jobs["cancelled"].Status);
            Assert.Equal(0, jobs["cancelled"].AttemptCount);
            Assert.DoesNotContain(attempts, a => a.JobId == "cancelled");
        }
    }
}
