using Microsoft.Extensions.Time.Testing;
using Strata.Server.Leadership;
using Strata.Server.Storage;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Leadership;

/// <summary>
/// Two replicas' leases on one real database (a SQLite file, and PostgreSQL when STRATA_TEST_POSTGRES is set):
/// one holds, the other waits; when the holder stops renewing, the other takes over. Time is a fake clock.
/// </summary>
public sealed class LeaderLeaseTests
{
    private static readonly TimeSpan Duration = TimeSpan.FromSeconds(15);

    [SkippableTheory]
    [MemberData(nameof(TestDatabase.Kinds), MemberType = typeof(TestDatabase))]
    public async Task One_replica_leads_and_the_other_takes_over_when_it_stops_renewing(StorageKind kind)
    {
        Skip.If(kind == StorageKind.Postgres && PostgresDatabase.SkipReason is not null, PostgresDatabase.SkipReason);
        await using var database = await TestDatabase.OpenAsync(kind);
        var clock = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var a = new DatabaseLease(database.Store, clock, "scheduler", "replica-a", Duration);
        var b = new DatabaseLease(database.Store, clock, "scheduler", "replica-b", Duration);

        Assert.True(await a.TryAcquireAsync(CancellationToken.None));
        Assert.False(await b.TryAcquireAsync(CancellationToken.None));

        // A renews in time: it keeps the lease.
        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.True(await a.TryAcquireAsync(CancellationToken.None));
        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.False(await b.TryAcquireAsync(CancellationToken.None));

        // A stops renewing (it hangs or dies): once the lease expires, B takes it, and A cannot take it back.
        clock.Advance(Duration);
        Assert.True(await b.TryAcquireAsync(CancellationToken.None));
        Assert.False(await a.TryAcquireAsync(CancellationToken.None));
    }

    [SkippableTheory]
    [MemberData(nameof(TestDatabase.Kinds), MemberType = typeof(TestDatabase))]
    public async Task A_released_lease_is_taken_at_once(StorageKind kind)
    {
        Skip.If(kind == StorageKind.Postgres && PostgresDatabase.SkipReason is not null, PostgresDatabase.SkipReason);
        await using var database = await TestDatabase.OpenAsync(kind);
        var clock = new FakeTimeProvider();
        var a = new DatabaseLease(database.Store, clock, "scheduler", "replica-a", Duration);
        var b = new DatabaseLease(database.Store, clock, "scheduler", "replica-b", Duration);
        Assert.True(await a.TryAcquireAsync(CancellationToken.None));

        await a.ReleaseAsync(CancellationToken.None);

        Assert.True(await b.TryAcquireAsync(CancellationToken.None));
    }

    [SkippableTheory]
    [MemberData(nameof(TestDatabase.Kinds), MemberType = typeof(TestDatabase))]
    public async Task Replicas_racing_for_a_new_lease_get_exactly_one_leader(StorageKind kind)
    {
        Skip.If(kind == StorageKind.Postgres && PostgresDatabase.SkipReason is not null, PostgresDatabase.SkipReason);
        await using var database = await TestDatabase.OpenAsync(kind);
        var clock = new FakeTimeProvider();
        var replicas = Enumerable.Range(0, 4).Select(i => new DatabaseLease(database.Store, clock, "scheduler", $"replica-{i}", Duration)).ToList();

        var results = await Task.WhenAll(replicas.Select(r => Task.Run(() => r.TryAcquireAsync(CancellationToken.None))));

        Assert.Equal(1, results.Count(held => held));
    }
}
