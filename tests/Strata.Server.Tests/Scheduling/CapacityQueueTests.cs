using System.Text.Json;
using Strata.Contracts;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Scheduling;

/// <summary>On a runtime with one core, a second 1-core job waits for capacity, in priority order.</summary>
public sealed class CapacityQueueTests(OneCoreApp app) : IClassFixture<OneCoreApp>
{
    [Fact]
    public async Task A_job_that_does_not_fit_now_waits_for_capacity_with_its_queue_position()
    {
        var (_, client) = await app.TenantClientAsync("capacity");
        using var _ = client;
        var running = await SubmitSleeperAsync(client, "first");
        await StrataApp.WaitForStatusAsync(client, running, "running", TimeSpan.FromSeconds(60));
        var waiting = await SubmitSleeperAsync(client, "second");
        try
        {
            var pending = await StrataApp.WaitForAsync(client, waiting, j => j.GetProperty("queue_position").ValueKind == JsonValueKind.Number);
            Assert.Equal("pending", pending.GetProperty("status").GetString());
            Assert.Equal(1, pending.GetProperty("queue_position").GetInt32());
            Assert.Equal(0, pending.GetProperty("attempts").GetInt32());
            Assert.Equal(JsonValueKind.Null, pending.GetProperty("started_at").ValueKind);
            using (var get = await client.GetAsync($"/v1/jobs/training/{running}"))
            {
                Assert.Equal(JsonValueKind.Null, (await Http.ExpectAsync(get, 200)).GetProperty("queue_position").ValueKind);
            }

            // A job with no attempt yet has no output: an empty 200.
            using (var logs = await client.GetAsync($"/v1/jobs/training/{waiting}/logs"))
            {
                Assert.Equal(200, (int)logs.StatusCode);
                Assert.Equal("", await logs.Content.ReadAsStringAsync());
            }
            using (var attempts = await client.GetAsync($"/v1/jobs/training/{waiting}/attempts"))
            {
                Assert.Empty((await Http.ExpectAsync(attempts, 200)).EnumerateArray());
            }
            using (var list = await client.GetAsync("/v1/jobs/training?status=pending"))
            {
                Assert.Equal(waiting, Assert.Single((await Http.ExpectAsync(list, 200)).EnumerateArray()).GetProperty("id").GetString());
            }

            // When the first ends, the second starts.
            await CancelAsync(client, running);
            await StrataApp.WaitForStatusAsync(client, waiting, "running", TimeSpan.FromSeconds(60));
        }
        finally
        {
            await CancelAsync(client, running, waiting);
        }
    }

    [Fact]
    public async Task A_job_queued_behind_a_full_runtime_says_it_waits_for_capacity()
    {
        var (_, client) = await app.TenantClientAsync("reason");
        using var _ = client;
        var running = await SubmitSleeperAsync(client, "first");
        await StrataApp.WaitForStatusAsync(client, running, "running", TimeSpan.FromSeconds(60));
        var waiting = await SubmitSleeperAsync(client, "second");
        try
        {
            // The scheduler wakes at least every 5 s on its own; by then it has said why the job waits.
            var pending = await StrataApp.WaitForAsync(client, waiting, j => j.GetProperty("status_reason").ValueKind != JsonValueKind.Null,
                TimeSpan.FromSeconds(8));
            Assert.Equal("pending", pending.GetProperty("status").GetString());
            Assert.Equal("waiting_for_capacity", pending.GetProperty("status_reason").GetString());
        }
        finally
        {
            await CancelAsync(client, running, waiting);
        }
    }

    [Fact]
    public async Task A_higher_priority_job_goes_first()
    {
        var (_, client) = await app.TenantClientAsync("priority");
        using var _ = client;
        var blocker = await SubmitSleeperAsync(client, "blocker");
        await StrataApp.WaitForStatusAsync(client, blocker, "running", TimeSpan.FromSeconds(60));
        var low = await SubmitSleeperAsync(client, "low");
        var high = await SubmitSleeperAsync(client, "high", priority: 10);
        try
        {
            await StrataApp.WaitForAsync(client, high, j => j.GetProperty("queue_position").ValueKind == JsonValueKind.Number && j.GetProperty("queue_position").GetInt32() == 1);
            await StrataApp.WaitForAsync(client, low, j => j.GetProperty("queue_position").ValueKind == JsonValueKind.Number && j.GetProperty("queue_position").GetInt32() == 2);

            await CancelAsync(client, blocker);
            await StrataApp.WaitForStatusAsync(client, high, "running", TimeSpan.FromSeconds(60));
            using var get = await client.GetAsync($"/v1/jobs/training/{low}");
            var waiting = await Http.ExpectAsync(get, 200);
            Assert.Equal("pending", waiting.GetProperty("status").GetString());
            Assert.Equal(1, waiting.GetProperty("queue_position").GetInt32());
        }
        finally
        {
            await CancelAsync(client, blocker, low, high);
        }
    }

    [Fact]
    public async Task A_job_larger_than_the_whole_runtime_is_refused_rather_than_left_pending()
    {
        var (_, client) = await app.TenantClientAsync("toolarge");
        using var _ = client;
        using var response = await client.PostAsync("/v1/jobs/training", Http.JsonText("{\"name\":\"big\",\"compute\":{\"cpu_cores\":2}}"));
        await Http.ExpectValidationAsync(response, "compute");
        using var list = await client.GetAsync("/v1/jobs/training");
        Assert.Empty((await Http.ExpectAsync(list, 200)).EnumerateArray());
    }

    private static async Task<string> SubmitSleeperAsync(HttpClient client, string name, int priority = 0) =>
        (await StrataApp.SubmitAsync(client, new { name, entrypoint = "sleep 30", priority, compute = new { cpu_cores = 1, memory_gb = 1 } }))
            .GetProperty("id").GetString()!;

    /// <summary>Cancels the jobs that are still active and waits until their processes have let go of the core.</summary>
    private static async Task CancelAsync(HttpClient client, params string[] ids)
    {
        foreach (var id in ids)
        {
            using var response = await client.DeleteAsync($"/v1/jobs/training/{id}");
            Assert.True(response.StatusCode is System.Net.HttpStatusCode.NoContent or System.Net.HttpStatusCode.Conflict, $"Cancel answered {(int)response.StatusCode}.");
        }
        foreach (var id in ids)
        {
            var deadline = DateTimeOffset.UtcNow.AddSeconds(30);
            while (DateTimeOffset.UtcNow < deadline)
            {
                using var attempts = await client.GetAsync($"/v1/jobs/training/{id}/attempts");
                var live = (await Http.ExpectAsync(attempts, 200)).EnumerateArray()
                    .Any(a => a.GetProperty("status").GetString() is "starting" or "running");
                if (!live) break;
                await Task.Delay(100);
            }
        }
    }
}
