using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Strata.Contracts;
using Strata.Server.Storage;

namespace Strata.Server.Tests.Storage;

/// <summary>How a job reference is looked up (JobStore): which references are tried as id prefixes, and that every query is indexed.</summary>
public sealed class JobReferenceQueryTests
{
    [Theory]
    [InlineData("01a2", true)]
    [InlineData("01a25206", true)]
    [InlineData("01a25206-", true)]
    [InlineData("01a25206-a3c5-75b4-a731-5dd571d2eca", true)]
    [InlineData("01a", false)]
    [InlineData("01a25206-a3c5-75b4-a731-5dd571d2ecac", false)]
    [InlineData("01A2", false)]
    [InlineData("01a2-", false)]
    [InlineData("01a252060", false)]
    [InlineData("nightly", false)]
    [InlineData("beef", true)]
    public void A_prefix_has_the_form_of_an_ids_start_in_lower_case(string reference, bool isPrefix) =>
        Assert.Equal(isPrefix, JobStore.IsIdPrefix(reference));

    [Fact]
    public async Task Every_lookup_of_a_reference_searches_an_index_rather_than_scanning_the_jobs()
    {
        var folder = Directory.CreateTempSubdirectory("strata-reference-plans-");
        var plans = new QueryPlans();
        var options = new DbContextOptionsBuilder<SqliteStrataDbContext>()
            .UseSqlite($"Data Source={Path.Combine(folder.FullName, "strata.db")}").AddInterceptors(plans).Options;
        var factory = new PooledDbContextFactory<SqliteStrataDbContext>(options);
        await using (var db = factory.CreateDbContext())
        {
            await db.Database.MigrateAsync();
            // Enough jobs of one prefix and one name that the candidates are counted, and another tenant's beside them.
            var now = DateTimeOffset.UtcNow;
            for (var i = 0; i < 12; i++)
            {
                foreach (var tenant in new[] { "team-a", "team-b" })
                {
                    db.Jobs.Add(new JobRecord
                    {
                        Id = Guid.CreateVersion7(now).ToString(), TenantId = tenant, Name = "nightly", SpecJson = "{}",
                        Status = JobStatus.Succeeded, CreatedAt = now,
                    });
                }
            }
            await db.SaveChangesAsync();
        }
        var store = new JobStore(new Store(factory, "sqlite"));
        string anId;
        await using (var db = factory.CreateDbContext()) anId = (await db.Jobs.FirstAsync(j => j.TenantId == "team-a")).Id;
        plans.Clear();

        Assert.Equal(anId, (await store.ResolveAsync("team-a", anId.ToUpperInvariant(), CancellationToken.None)).Job?.Id);
        Assert.Equal(12, (await store.ResolveAsync("team-a", anId[..8], CancellationToken.None)).Count);
        Assert.Equal(12, (await store.ResolveAsync("team-a", "nightly", CancellationToken.None)).Count);

        // An exact id, a prefix's candidates and count, a name's among active jobs and then all, with their counts.
        Assert.True(plans.All.Count >= 6, string.Join("\n\n", plans.All));
        Assert.All(plans.All, plan => Assert.True(plan.Contains("SEARCH j USING", StringComparison.Ordinal) && !plan.Contains("SCAN", StringComparison.Ordinal), plan));
        // A prefix is a range of the tenant's ids; a name is an equality on the name's index, which gives the newest first
        // (not a walk of all the tenant's jobs in id order that looks for the name).
        var prefixes = plans.All.Where(plan => plan.Contains("\"id\" >=", StringComparison.Ordinal)).ToList();
        var names = plans.All.Where(plan => plan.Contains("\"name\" =", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, prefixes.Count);
        Assert.All(prefixes, plan => Assert.Contains("IX_jobs_tenant_id_id (tenant_id=? AND id>? AND id<?)", plan, StringComparison.Ordinal));
        Assert.Equal(3, names.Count);
        Assert.All(names, plan => Assert.Contains("IX_jobs_tenant_id_name_id (tenant_id=? AND name=?)", plan, StringComparison.Ordinal));
    }

    /// <summary>Asks SQLite how it would run each query EF sends (EXPLAIN QUERY PLAN), before it runs it.</summary>
    private sealed class QueryPlans : DbCommandInterceptor
    {
        private readonly List<string> _plans = [];

        public IReadOnlyList<string> All
        {
            get { lock (_plans) return [.. _plans]; }
        }

        public void Clear()
        {
            lock (_plans) _plans.Clear();
        }

        public override async ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(
            DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
        {
            await ExplainAsync(command, cancellationToken);
            return result;
        }

        public override async ValueTask<InterceptionResult<object>> ScalarExecutingAsync(
            DbCommand command, CommandEventData eventData, InterceptionResult<object> result, CancellationToken cancellationToken = default)
        {
            await ExplainAsync(command, cancellationToken);
            return result;
        }

        private async Task ExplainAsync(DbCommand command, CancellationToken cancellationToken)
        {
            if (!command.CommandText.Contains("FROM \"jobs\"", StringComparison.Ordinal)) return;
            await using var explain = command.Connection!.CreateCommand();
            explain.Transaction = command.Transaction;
            explain.CommandText = "EXPLAIN QUERY PLAN " + command.CommandText;
            foreach (DbParameter parameter in command.Parameters)
            {
                var copy = explain.CreateParameter();
                copy.ParameterName = parameter.ParameterName;
                copy.Value = parameter.Value;
                explain.Parameters.Add(copy);
            }
            var lines = new List<string> { command.CommandText };
            await using (var reader = await explain.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken)) lines.Add(reader.GetString(3));
            }
            lock (_plans) _plans.Add(string.Join("\n", lines));
        }
    }
}
