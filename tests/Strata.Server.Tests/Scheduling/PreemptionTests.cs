using System.Net.Http.Json;
using System.Text.Json;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Scheduling;

/// <summary>Preemption through the real scheduler and local runtime (8 cores).</summary>
public sealed class PreemptionTests(SqliteApp app) : IClassFixture<SqliteApp>
{
    [Fact]
    public async Task A_higher_priority_job_preempts_a_lower_priority_job_of_its_tenant_which_is_queued_again_and_says_why()
    {
        var (_, client) = await app.TenantClientAsync("preempt");
        using var _ = client;
        var low = (await StrataApp.SubmitAsync(client, new { name = "low", entrypoint = "sleep 300", compute = new { cpu_cores = 8, memory_gb = 1 } }))
            .GetProperty("id").GetString()!;
        string? high = null;
        try
        {
            await StrataApp.WaitForStatusAsync(client, low, "running");
            high = (await StrataApp.SubmitAsync(client, new { name = "high", entrypoint = "sleep 300", priority = 10, compute = new { cpu_cores = 4, memory_gb = 1 } }))
                .GetProperty("id").GetString()!;

            await StrataApp.WaitForStatusAsync(client, high, "running");
            var requeued = await StrataApp.WaitForAsync(client, low, j => j.GetProperty("status").GetString() == "pending");
            Assert.Equal("waiting_for_capacity", requeued.GetProperty("status_reason").GetString());
            Assert.Equal(1, requeued.GetProperty("attempts").GetInt32());

            using var attempts = await client.GetAsync($"/v1/jobs/training/{low}/attempts");
            var first = Assert.Single((await Http.ExpectAsync(attempts, 200)).EnumerateArray());
            Assert.Equal("preempted", first.GetProperty("status").GetString());
            Assert.Equal("preempted", first.GetProperty("reason").GetString());

            // Once the urgent job is gone, the preempted one runs again as a second attempt.
            using (var cancel = await client.DeleteAsync($"/v1/jobs/training/{high}"))
            {
                Assert.Equal(204, (int)cancel.StatusCode);
            }
            var again = await StrataApp.WaitForStatusAsync(client, low, "running");
            Assert.Equal(2, again.GetProperty("attempts").GetInt32());
        }
        finally
        {
            foreach (var id in new[] { low, high }.OfType<string>())
            {
                using var __ = await client.DeleteAsync($"/v1/jobs/training/{id}");
            }
        }
    }

    [Fact]
    public async Task Another_tenants_lower_priority_job_is_never_preempted()
    {
        var (_, first) = await app.TenantClientAsync("victim");
        var (_, second) = await app.TenantClientAsync("urgent");
        using var _ = first;
        using var __ = second;
        var low = (await StrataApp.SubmitAsync(first, new { name = "low", entrypoint = "sleep 300", compute = new { cpu_cores = 8, memory_gb = 1 } }))
            .GetProperty("id").GetString()!;
        string? high = null;
        try
        {
            await StrataApp.WaitForStatusAsync(first, low, "running");
            high = (await StrataApp.SubmitAsync(second, new { name = "high", entrypoint = "sleep 300", priority = 1000, compute = new { cpu_cores = 4, memory_gb = 1 } }))
                .GetProperty("id").GetString()!;
            // The scheduler cycles at least every 5 s: after a few cycles the urgent job still waits and the other still runs.
            var waiting = await StrataApp.WaitForAsync(second, high, j => j.GetProperty("status_reason").ValueKind == JsonValueKind.String, TimeSpan.FromSeconds(10));
            await Task.Delay(TimeSpan.FromSeconds(2));
            Assert.Equal("pending", waiting.GetProperty("status").GetString());
            using var get = await first.GetAsync($"/v1/jobs/training/{low}");
            var job = await Http.ExpectAsync(get, 200);
            Assert.Equal("running", job.GetProperty("status").GetString());
            Assert.Equal(1, job.GetProperty("attempts").GetInt32());
        }
        finally
        {
            using var a = await first.DeleteAsync($"/v1/jobs/training/{low}");
            if (high is not null)
            {
                using var b = await second.DeleteAsync($"/v1/jobs/training/{high}");
            }
        }
    }
}
