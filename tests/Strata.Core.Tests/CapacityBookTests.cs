using Strata.Core.Runtime;
using Strata.Core.Scheduling;

namespace Strata.Core.Tests;

/// <summary>What live attempts hold of the runtime's capacity.</summary>
public sealed class CapacityBookTests
{
    private readonly CapacityBook _book = new();

    private static AttemptRef Attempt(string tenant, string job, int number = 1) => new(tenant, job, number);

    private void Allocate(string tenant, string job, double cpu, int number = 1) =>
        _book.Allocate(Attempt(tenant, job, number), TestJob.For(tenant).Id(job).Cpu(cpu).Running());

    [Theory]
    // Attempts allocated (tenant/job/cores), attempts then released (by name), cores allocated after, team-a's live attempts after.
    [InlineData("team-a/a/2 team-a/b/3 team-b/c/1", "", 6, 2)]
    [InlineData("team-a/a/2 team-a/b/3 team-b/c/1", "a-1", 4, 1)]
    [InlineData("team-a/a/2 team-a/b/3 team-b/c/1", "a-1 a-1 b-1", 1, 0)]
    [InlineData("team-a/a/2 team-a/a/2 team-b/c/1", "", 3, 1)]
    [InlineData("team-a/a/2", "unknown-1 a-2", 2, 1)]
    public void Allocating_and_releasing_are_idempotent_and_keep_the_total_and_each_tenant_s_count(
        string allocated, string released, double cores, int teamARunning)
    {
        foreach (var entry in allocated.Split(' '))
        {
            var parts = entry.Split('/');
            Allocate(parts[0], parts[1], double.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture));
        }

        foreach (var name in released.Split(' ', StringSplitOptions.RemoveEmptyEntries)) _book.Release(name);

        Assert.Equal(cores, _book.Allocated.CpuCores, 9);
        Assert.Equal(teamARunning, _book.RunningOf("team-a"));
        Assert.Equal(_book.Running().Length, _book.Live().Count());
    }

    [Fact]
    public void Allocate_and_release_say_whether_they_changed_anything()
    {
        var job = TestJob.For("team-a").Id("a").Running();

        Assert.True(_book.Allocate(Attempt("team-a", "a"), job));
        Assert.False(_book.Allocate(Attempt("team-a", "a"), job));
        Assert.True(_book.Release("a-1"));
        Assert.False(_book.Release("a-1"));
        Assert.Equal(default, _book.Allocated);
    }

    [Fact]
    public void A_job_marked_stopping_stays_allocated_and_is_seen_as_stopping()
    {
        Allocate("team-a", "a", 2, number: 3);
        Allocate("team-a", "b", 1);

        Assert.Equal(Attempt("team-a", "a", 3), _book.MarkStopping("a"));
        Assert.Null(_book.MarkStopping("not-running"));

        Assert.Equal(3, _book.Allocated.CpuCores, 9);
        Assert.Equal([("a", true), ("b", false)], _book.Running().Select(j => (j.JobId, j.Stopping)).Order().ToArray());
        Assert.Contains(_book.Live(), l => l.TenantId == "team-a" && l.Job.JobId == "a" && l.Job.Stopping);
    }
}
