using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Strata.Contracts;
using Strata.Server.Runtime.Local;
using Strata.Server.Tests.Sandbox;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Runtime;

/// <summary>
/// A machine with an A100 (index 0) and a V100 (index 1), as a fake <c>nvidia-smi</c> reports them, sampled every
/// fifth of a second; right-sizing hints from any measured time.
/// </summary>
public sealed class MixedGpuApp() : StrataApp(StorageKind.Sqlite, new Dictionary<string, string?>
{
    ["Runtime:Local:NvidiaSmiPath"] = FakeNvidiaSmi.Create(FakeNvidiaSmi.V100),
    ["Runtime:Local:GpuSampleSeconds"] = "0.2",
    ["Usage:HintMinSeconds"] = "0",
});

/// <summary>
/// Shares of a GPU (<c>compute.gpu_fraction</c>), GPUs by type and their utilisation, through the real local runtime
/// with real processes: each job writes the devices it sees to the shared folder and runs until told to stop.
/// </summary>
public sealed class GpuSharingTests(MixedGpuApp app) : IClassFixture<MixedGpuApp>
{
    private static object Share(double fraction, string? type = null) => new { gpu_fraction = fraction, gpu_type = type, memory_gb = 1 };
    private static object Whole(string? type = null) => new { type = "gpu", gpu_count = 1, gpu_type = type, memory_gb = 1 };

    [Fact]
    public async Task Four_quarters_share_one_device_and_a_fifth_takes_the_other_leaving_no_whole_device()
    {
        var (_, tenantClient) = await app.TenantClientAsync("gpu-share");
        using var client = tenantClient;
        var run = Run();
        var names = Enumerable.Range(1, 5).Select(i => $"q{i}-{run}").ToList();
        var ids = new List<string>();
        try
        {
            foreach (var name in names.Take(4)) ids.Add(await GpuTests.SubmitHolderAsync(app, client, name, Share(0.25)));
            // All four run at once, each seeing the same one device.
            foreach (var name in names.Take(4)) Assert.Equal((FakeNvidiaSmi.First, FakeNvidiaSmi.First), await GpuTests.VisibleDevicesAsync(app, name));
            foreach (var id in ids) Assert.Equal("running", (await StrataApp.WaitForStatusAsync(client, id, "running")).GetProperty("status").GetString());
            var folder = Directory.GetDirectories(Path.Combine(app.DataPath, "attempts")).SelectMany(Directory.GetDirectories)
                .Single(f => Path.GetFileName(f) == $"{ids[0]}-1");
            Assert.Equal([$"{FakeNvidiaSmi.First} 0.25"], File.ReadAllLines(Path.Combine(folder, LocalGpus.AssignmentFile)));

            // The device is full: the fifth quarter goes to the other one.
            ids.Add(await GpuTests.SubmitHolderAsync(app, client, names[4], Share(0.25)));
            Assert.Equal(FakeNvidiaSmi.Second, (await GpuTests.VisibleDevicesAsync(app, names[4])).Cuda);
            using (var admin = app.AdminClient())
            {
                var capacity = await SandboxStatusTests.GetJsonAsync(admin, "/v1/admin/capacity", HttpStatusCode.OK);
                Assert.Equal(1.25, capacity.GetProperty("allocated").GetProperty("gpu_count").GetDouble());
                Assert.Equal([1.0, 0.25], capacity.GetProperty("gpus").EnumerateArray().Select(g => g.GetProperty("allocated").GetDouble()));
            }
            // Two GPUs are free in number (0.75), but no device is whole: a whole-device job waits.
            var whole = await GpuTests.SubmitHolderAsync(app, client, $"whole-{run}", Whole());
            ids.Add(whole);
            await StrataApp.WaitForAsync(client, whole, job => job.TryGetProperty("status_reason", out var reason) && reason.GetString() == StatusReasons.WaitingForCapacity);

            // Once the fifth quarter ends, the second device is whole again, and the waiting job gets it.
            Go($"q5-{run}");
            Assert.Equal("succeeded", (await StrataApp.WaitForEndAsync(client, ids[4])).GetProperty("status").GetString());
            Assert.Equal(FakeNvidiaSmi.Second, (await GpuTests.VisibleDevicesAsync(app, $"whole-{run}")).Cuda);
        }
        finally
        {
            foreach (var name in names.Append($"whole-{run}")) Go(name);
            foreach (var id in ids) await StrataApp.WaitForEndAsync(client, id);
        }
    }

    [Fact]
    public async Task Quarters_count_against_the_gpu_quota_and_a_fifth_waits_for_quota()
    {
        var (tenant, tenantClient) = await app.TenantClientAsync("gpu-quota");
        using var client = tenantClient;
        using (var admin = app.AdminClient())
        using (var response = await admin.PutAsJsonAsync($"/v1/tenants/{tenant}/quota", new { gpu_count = 1, on_quota_exceeded = "queue" }))
        {
            await Http.ExpectAsync(response, 200);
        }
        var run = Run();
        var ids = new List<string>();
        try
        {
            for (var i = 1; i <= 4; i++) ids.Add(await GpuTests.SubmitHolderAsync(app, client, $"q{i}-{run}", Share(0.25)));
            for (var i = 1; i <= 4; i++) await GpuTests.VisibleDevicesAsync(app, $"q{i}-{run}");
            ids.Add(await GpuTests.SubmitHolderAsync(app, client, $"q5-{run}", Share(0.25)));
            // The machine has room (the other device), the tenant's quota of one GPU has not.
            await StrataApp.WaitForAsync(client, ids[4], job => job.GetProperty("status_reason").GetString() == StatusReasons.WaitingForQuota);
            using (var response = await client.GetAsync("/v1/quota"))
            {
                var gpus = (await Http.ExpectAsync(response, 200)).GetProperty("resources").GetProperty("gpu_count");
                Assert.Equal(1.0, gpus.GetProperty("used").GetDouble());
            }

            Go($"q1-{run}");
            Assert.Equal("succeeded", (await StrataApp.WaitForEndAsync(client, ids[0])).GetProperty("status").GetString());
            Assert.Equal(FakeNvidiaSmi.First, (await GpuTests.VisibleDevicesAsync(app, $"q5-{run}")).Cuda);
        }
        finally
        {
            for (var i = 1; i <= 5; i++) Go($"q{i}-{run}");
            foreach (var id in ids) await StrataApp.WaitForEndAsync(client, id);
        }
    }

    /// <summary>
    /// An A100 job waits while only the V100 is free (it does not fail to start), a job of any type takes the V100
    /// meanwhile, and the A100 job starts once the A100 is given back.
    /// </summary>
    [Fact]
    public async Task A_job_waits_for_a_device_of_its_type_while_another_type_is_free()
    {
        var (_, tenantClient) = await app.TenantClientAsync("gpu-type");
        using var client = tenantClient;
        var run = Run();
        var ids = new List<string>();
        try
        {
            ids.Add(await GpuTests.SubmitHolderAsync(app, client, $"a-{run}", Whole("nvidia-a100")));
            Assert.Equal(FakeNvidiaSmi.First, (await GpuTests.VisibleDevicesAsync(app, $"a-{run}")).Cuda);

            var second = await GpuTests.SubmitHolderAsync(app, client, $"b-{run}", Whole("nvidia-a100"));
            ids.Add(second);
            await StrataApp.WaitForAsync(client, second, job => job.GetProperty("status_reason").GetString() == StatusReasons.WaitingForCapacity);
            // A share of a V100 fits meanwhile: the machine has room, only not of the A100 job's type.
            ids.Add(await GpuTests.SubmitHolderAsync(app, client, $"v-{run}", Share(0.5, "tesla-v100")));
            Assert.Equal(FakeNvidiaSmi.Second, (await GpuTests.VisibleDevicesAsync(app, $"v-{run}")).Cuda);
            var waiting = await StrataApp.WaitForAsync(client, second, job => job.GetProperty("status").GetString() == "pending");
            Assert.Equal(0, waiting.GetProperty("attempts").GetInt32()); // never started, so never failed to

            Go($"a-{run}");
            Assert.Equal(FakeNvidiaSmi.First, (await GpuTests.VisibleDevicesAsync(app, $"b-{run}")).Cuda);
        }
        finally
        {
            foreach (var name in new[] { "a", "b", "v" }) Go($"{name}-{run}");
            foreach (var id in ids) await StrataApp.WaitForEndAsync(client, id);
        }
    }

    /// <summary>
    /// The A100 (busy 12%, 2048 MiB in use, as the fake says) is sampled while the job holds it: the attempt shows
    /// its use, GPU-seconds used are reserved × 12%, and the job is told to try a quarter of a GPU.
    /// </summary>
    [Fact]
    public async Task Utilisation_is_recorded_on_the_attempt_and_a_mostly_idle_gpu_gets_a_hint()
    {
        var (tenant, tenantClient) = await app.TenantClientAsync("gpu-util");
        using var client = tenantClient;
        var run = Run();
        var id = await GpuTests.SubmitHolderAsync(app, client, $"u-{run}", Whole("nvidia-a100"));
        try
        {
            await GpuTests.VisibleDevicesAsync(app, $"u-{run}");
            var usageFile = Path.Combine(app.DataPath, "attempts", tenant, $"{id}-1", LocalGpus.UsageFile);
            await EventuallyAsync(() => File.Exists(usageFile), "a GPU sample taken");
        }
        finally
        {
            Go($"u-{run}");
        }
        var done = await StrataApp.WaitForEndAsync(client, id);
        Assert.Equal("succeeded", done.GetProperty("status").GetString());

        using var response = await client.GetAsync($"/v1/jobs/training/{id}/attempts");
        var attempt = (await Http.ExpectAsync(response, 200)).EnumerateArray().Single();
        var gpu = attempt.GetProperty("gpu");
        Assert.Equal(12, gpu.GetProperty("utilization_percent").GetDouble());
        Assert.Equal(2048, gpu.GetProperty("peak_memory_mb").GetInt64());
        var usage = attempt.GetProperty("usage");
        var reserved = usage.GetProperty("reserved").GetProperty("gpu_seconds").GetDouble();
        Assert.True(reserved > 0);
        Assert.Equal(reserved * 0.12, usage.GetProperty("used").GetProperty("gpu_seconds").GetDouble(), 6);

        var hint = Assert.Single(done.GetProperty("right_sizing").EnumerateArray(), h => h.GetProperty("resource").GetString() == "gpu_fraction");
        Assert.Equal("GPU busy 12% of the time: try gpu_fraction: 0.25", hint.GetProperty("message").GetString());
        Assert.Equal(0.25, hint.GetProperty("suggested").GetDouble());
    }

    [Theory]
    [InlineData("""{"gpu_fraction":0.33}""", "compute.gpu_fraction")]
    [InlineData("""{"gpu_fraction":1.5}""", "compute.gpu_fraction")]
    [InlineData("""{"gpu_fraction":0}""", "compute.gpu_fraction")]
    [InlineData("""{"type":"cpu","gpu_fraction":0.5}""", "compute.gpu_fraction")]
    [InlineData("""{"gpu_count":2,"gpu_fraction":0.5}""", "compute.gpu_count")]
    [InlineData("""{"type":"gpu","gpu_count":2,"gpu_type":"nvidia-a100"}""", "compute.gpu_count")] // one A100 here
    public async Task A_bad_gpu_request_is_refused_and_changes_nothing(string compute, string field)
    {
        var (_, tenantClient) = await app.TenantClientAsync("gpu-bad");
        using var client = tenantClient;
        using var content = new StringContent($$"""{"name":"bad","entrypoint":"true","compute":{{compute}}}""", System.Text.Encoding.UTF8, "application/json");
        using var response = await client.PostAsync("/v1/jobs/training", content);
        await Http.ExpectValidationAsync(response, field);
        using var list = await client.GetAsync("/v1/jobs/training");
        Assert.Empty((await Http.ExpectAsync(list, 200)).EnumerateArray());
    }

    private void Go(string name) => File.WriteAllText(Path.Combine(app.SharedPath, $"{name}.go"), "");

    private static string Run() => Guid.NewGuid().ToString("N")[..8];

    private static async Task EventuallyAsync(Func<bool> condition, string what)
    {
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(60);
        while (!condition())
        {
            Assert.True(DateTimeOffset.UtcNow < deadline, $"not seen in time: {what}");
            await Task.Delay(100);
        }
    }
}

/// <summary>A machine whose GPU is configured (<c>Runtime:Local:GpuInventory</c>): there is an <c>nvidia-smi</c>, but nothing asks it.</summary>
public sealed class InventoryGpuApp() : StrataApp(StorageKind.Sqlite, new Dictionary<string, string?>
{
    ["Runtime:Local:GpuInventory:0:Uuid"] = FakeNvidiaSmi.First,
    ["Runtime:Local:GpuInventory:0:Name"] = FakeNvidiaSmi.A100,
    ["Runtime:Local:GpuInventory:0:MemoryMb"] = "81920",
    ["Runtime:Local:NvidiaSmiPath"] = FakeNvidiaSmi.Create(),
    ["Runtime:Local:GpuSampleSeconds"] = "0.1",
});

/// <summary>A configured inventory is assigned, shared and counted as a discovered one, but never sampled.</summary>
public sealed class InventoryGpuTests(InventoryGpuApp app) : IClassFixture<InventoryGpuApp>
{
    [Fact]
    public async Task Shares_of_a_configured_gpu_run_together_and_their_attempts_have_no_samples()
    {
        var (_, tenantClient) = await app.TenantClientAsync("gpu-inventory");
        using var client = tenantClient;
        var run = Guid.NewGuid().ToString("N")[..8];
        var ids = new List<string>();
        try
        {
            foreach (var name in new[] { "a", "b" }) ids.Add(await GpuTests.SubmitHolderAsync(app, client, $"{name}-{run}", new { gpu_fraction = 0.5, memory_gb = 1 }));
            foreach (var name in new[] { "a", "b" }) Assert.Equal(FakeNvidiaSmi.First, (await GpuTests.VisibleDevicesAsync(app, $"{name}-{run}")).Cuda);
            // Long enough for several rounds of sampling, had there been any.
            await Task.Delay(TimeSpan.FromSeconds(1));
        }
        finally
        {
            foreach (var name in new[] { "a", "b" }) File.WriteAllText(Path.Combine(app.SharedPath, $"{name}-{run}.go"), "");
        }
        foreach (var id in ids)
        {
            Assert.Equal("succeeded", (await StrataApp.WaitForEndAsync(client, id)).GetProperty("status").GetString());
            using var response = await client.GetAsync($"/v1/jobs/training/{id}/attempts");
            var attempt = (await Http.ExpectAsync(response, 200)).EnumerateArray().Single();
            Assert.Equal(JsonValueKind.Null, attempt.GetProperty("gpu").ValueKind);
            // Unsampled, the GPU-seconds used are those reserved: half a device for the attempt's time.
            var usage = attempt.GetProperty("usage");
            Assert.Equal(usage.GetProperty("reserved").GetProperty("gpu_seconds").GetDouble(), usage.GetProperty("used").GetProperty("gpu_seconds").GetDouble());
            Assert.Equal(0.5 * usage.GetProperty("wall_seconds").GetDouble(), usage.GetProperty("reserved").GetProperty("gpu_seconds").GetDouble(), 6);
        }
    }
}
