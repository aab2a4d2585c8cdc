using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Strata.Contracts;
using Strata.Server.Storage;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Storage;

/// <summary>The start-up migration on a real database (a SQLite file, and PostgreSQL when STRATA_TEST_POSTGRES is set).</summary>
public sealed class MigrationTests
{
    /// <summary>The history of a database made before the migrations were squashed into one <c>Initial</c>.</summary>
    private static readonly string[] SquashedIds =
    [
        "20261122223302_Initial", "20261201211412_Usage", "20261201214225_ArtifactsAndTracking", "20261201214553_Quotas",
        "20261201215326_ModelRegistry", "20261201215539_LeaderLease", "20261201221914_Deployments", "20261201224549_DeploymentCanary",
    ];

    [SkippableTheory]
    [MemberData(nameof(TestDatabase.Kinds), MemberType = typeof(TestDatabase))]
    public async Task A_migrated_database_migrates_again_without_change(StorageKind kind)
    {
        Skip.If(kind == StorageKind.Postgres && PostgresDatabase.SkipReason is not null, PostgresDatabase.SkipReason);
        await using var database = await TestDatabase.OpenAsync(kind);

        StorageSetup.Migrate(database.Store);

        await using var db = database.Store.CreateContext();
        Assert.Equal(db.Database.GetMigrations(), await db.Database.GetAppliedMigrationsAsync());
        Assert.Empty(await db.Database.GetPendingMigrationsAsync());
    }

    [SkippableTheory]
    [MemberData(nameof(TestDatabase.Kinds), MemberType = typeof(TestDatabase))]
    public async Task A_database_from_before_the_squash_is_refused_with_a_message_that_says_to_recreate_it(StorageKind kind)
    {
        Skip.If(kind == StorageKind.Postgres && PostgresDatabase.SkipReason is not null, PostgresDatabase.SkipReason);
        await using var database = await TestDatabase.OpenAsync(kind);
        await using (var db = database.Store.CreateContext())
        {
            // The tables are there (the old migrations made the same schema); only the history differs.
            await db.Database.ExecuteSqlRawAsync("""DELETE FROM "__EFMigrationsHistory";""");
            foreach (var id in SquashedIds)
            {
                await db.Database.ExecuteSqlAsync($"""INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion") VALUES ({id}, '10.0.15');""");
            }
        }

        var error = Assert.Throws<InvalidOperationException>(() => StorageSetup.Migrate(database.Store));

        Assert.Contains("must be recreated", error.Message, StringComparison.Ordinal);
        Assert.Contains("20261201224549_DeploymentCanary", error.Message, StringComparison.Ordinal);
        await using var after = database.Store.CreateContext();
        Assert.Equal(SquashedIds, await after.Database.GetAppliedMigrationsAsync());
    }

    [SkippableTheory]
    [MemberData(nameof(TestDatabase.Kinds), MemberType = typeof(TestDatabase))]
    public async Task A_deployment_stored_before_scaling_modes_scales_on_requests_in_flight_with_the_default_cpu_target(StorageKind kind)
    {
        Skip.If(kind == StorageKind.Postgres && PostgresDatabase.SkipReason is not null, PostgresDatabase.SkipReason);
        await using var database = await TestDatabase.OpenAsync(kind);
        await using (var db = database.Store.CreateContext())
        {
            // Back to the schema before DeploymentScalingMode, with a deployment in it.
            await db.GetService<IMigrator>().MigrateAsync("JobReferences");
            var now = DateTimeOffset.UtcNow;
            await db.Database.ExecuteSqlAsync($"""
                INSERT INTO deployments (tenant_id, name, model_ref, model_name, model_version, min_replicas, max_replicas,
                                         target_in_flight, cpu_cores, memory_gb, events_json, created_at, updated_at)
                VALUES ('team-a', 'churn', 'churn@1', 'churn', 1, 1, 4, 8, 1, 1, '[]', {now}, {now});
                """);
        }

        StorageSetup.Migrate(database.Store);

        await using var after = database.Store.CreateContext();
        var deployment = await after.Deployments.SingleAsync();
        Assert.Equal((ScalingModes.InFlight, ScalingModes.DefaultTargetCpuPercent), (deployment.ScalingMode, deployment.TargetCpuPercent));
    }
}
