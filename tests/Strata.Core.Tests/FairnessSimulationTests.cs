using Microsoft.Extensions.Time.Testing;
using Strata.Core.Quotas;
using Strata.Core.Runtime;
using Strata.Core.Scheduling;

namespace Strata.Core.Tests;

/// <summary>
/// Long runs of the policy against a simulated machine with a fake clock: tenants that keep the queue full
/// share the capacity in proportion to their weights, whatever the sizes and lengths of their jobs.
/// </summary>
public sealed class FairnessSimulationTests
{
    private sealed record Run(RunningJob Job, DateTimeOffset EndsAt);

    /// <summary>Runs the policy each simulated second for <paramref name="seconds"/>; returns each tenant's share of the core-seconds used.</summary>
    private static Dictionary<string, double> Simulate(
        ResourceRequest capacity,
        Dictionary<string, (double Weight, int Cores, int Seconds)> tenants,
        int seconds)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var random = new Random(42);
        var sequence = 0L;
        var pending = new List<PendingJob>();
        var running = new List<Run>();
        var coreSeconds = tenants.Keys.ToDictionary(t => t, _ => 0.0);
        var quotas = tenants.ToDictionary(t => t.Key, t => QuotaLimits.Unlimited with { Weight = t.Value.Weight });

        for (var second = 0; second < seconds; second++)
        {
            var now = time.GetUtcNow();
            running.RemoveAll(r => r.EndsAt <= now);
            // Saturating tenants: each keeps 20 jobs waiting at all times.
            foreach (var (tenant, shape) in tenants)
            {
                while (pending.Count(p => p.TenantId == tenant) < 20)
                {
                    sequence++;
                    pending.Add(new PendingJob($"{tenant}-{sequence}", tenant, 0, sequence, ResourceRequest.FromGb(shape.Cores, 1, 0)));
                }
            }

            var plan = SchedulingPolicy.Plan(new SchedulingSnapshot
            {
                Pending = pending.Order(PendingJobOrder.Instance).ToList(),
                Running = running.Select(r => r.Job).ToList(),
                Capacity = capacity,
                Quotas = quotas,
                Now = now,
            });
            foreach (var job in plan.Admitted)
            {
                pending.Remove(job);
                var length = tenants[job.TenantId].Seconds + random.Next(3);
                running.Add(new Run(new RunningJob(job.JobId, job.TenantId, job.Priority, job.Sequence, job.Request), now.AddSeconds(length)));
            }
            foreach (var run in running)
            {
                coreSeconds[run.Job.TenantId] += run.Job.Request.CpuCores;
            }
            time.Advance(TimeSpan.FromSeconds(1));
        }
        var total = coreSeconds.Values.Sum();
        return coreSeconds.ToDictionary(c => c.Key, c => c.Value / total);
    }

    [Theory]
    // Same shapes.
    [InlineData(1, 5, 1, 5)]
    // team-a's jobs are four times as large, team-b's three times as long: still half each.
    [InlineData(4, 5, 1, 15)]
    [InlineData(1, 2, 2, 20)]
    public void Two_saturating_tenants_of_equal_weight_each_get_half_of_the_capacity(int coresA, int secondsA, int coresB, int secondsB)
    {
        var shares = Simulate(ResourceRequest.FromGb(16, 1000, 0), new()
        {
            ["team-a"] = (1, coresA, secondsA),
            ["team-b"] = (1, coresB, secondsB),
        }, seconds: 2000);

        Assert.InRange(shares["team-a"], 0.45, 0.55);
        Assert.InRange(shares["team-b"], 0.45, 0.55);
    }

    [Fact]
    public void A_tenant_of_weight_three_gets_three_quarters_against_one_of_weight_one()
    {
        var shares = Simulate(ResourceRequest.FromGb(16, 1000, 0), new()
        {
            ["team-a"] = (3, 1, 4),
            ["team-b"] = (1, 1, 4),
        }, seconds: 2000);

        Assert.InRange(shares["team-a"], 0.70, 0.80);
    }
}
