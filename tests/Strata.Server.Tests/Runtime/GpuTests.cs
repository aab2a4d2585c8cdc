using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Strata.Contracts;
using Strata.Core.Runtime;
using Strata.Server.Runtime.Local;
using Strata.Server.Tests.Sandbox;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Runtime;

/// <summary>A machine with two A100s, as a fake <c>nvidia-smi</c> speaking the real CSV format reports them.</summary>
public sealed class TwoGpuApp() : StrataApp(StorageKind.Sqlite, new Dictionary<string, string?> { ["Runtime:Local:NvidiaSmiPath"] = FakeNvidiaSmi.Create() });

/// <summary>
/// A fake <c>nvidia-smi</c>: answers only the queries the runtime makes (the inventory, and the samples of
/// utilisation and memory), as the real one does, with fixed answers: the first device is busy 12% of the time
/// with 2048 MiB in use, the second 50% with 4096 MiB.
/// </summary>
public static class FakeNvidiaSmi
{
    public const string First = "GPU-5f1c2b7e-1a2b-3c4d-5e6f-000000000000";
    public const string Second = "GPU-6a2d3c8f-1a2b-3c4d-5e6f-111111111111";
    public const string A100 = "NVIDIA A100-SXM4-80GB";
    public const string V100 = "Tesla V100-SXM2-16GB";

    /// <param name="secondName">The second device's name: an A100 as the first, or another kind.</param>
    public static string Create(string secondName = A100)
    {
        var path = Path.Combine(Path.GetTempPath(), $"strata-nvidia-smi-{Guid.NewGuid():N}");
        File.WriteAllText(path, $$"""
            #!/bin/sh
            case "$1 $2" in
              "--query-gpu=index,uuid,name,memory.total --format=csv,noheader")
                echo "0, {{First}}, {{A100}}, 81920 MiB"
                echo "1, {{Second}}, {{secondName}}, 81920 MiB" ;;
              "--query-gpu=uuid,utilization.gpu,memory.used --format=csv,noheader,nounits")
                echo "{{First}}, 12, 2048"
                echo "{{Second}}, 50, 4096" ;;
              *) echo "unexpected: $*" >&2; exit 2 ;;
            esac
            """);
        File.SetUnixFileMode(path, (UnixFileMode)Convert.ToInt32("755", 8));
        return path;
    }
}

/// <summary>GPUs on the local runtime: discovered, shown, given to one attempt at a time by uuid, and checked at submission.</summary>
public sealed class GpuTests(TwoGpuApp app) : IClassFixture<TwoGpuApp>
{
    [Fact]
    public async Task The_capacity_route_lists_the_discovered_devices_and_counts_them()
    {
        using var admin = app.AdminClient();
        var capacity = await SandboxStatusTests.GetJsonAsync(admin, "/v1/admin/capacity", HttpStatusCode.OK);
        Assert.Equal(2, capacity.GetProperty("total").GetProperty("gpu_count").GetInt32());
        var gpus = capacity.GetProperty("gpus").EnumerateArray().ToList();
        Assert.Equal([FakeNvidiaSmi.First, FakeNvidiaSmi.Second], gpus.Select(g => g.GetProperty("uuid").GetString()));
        Assert.Equal([0, 1], gpus.Select(g => g.GetProperty("index").GetInt32()));
        Assert.All(gpus, g => Assert.Equal("NVIDIA A100-SXM4-80GB", g.GetProperty("name").GetString()));
        Assert.All(gpus, g => Assert.Equal(81920, g.GetProperty("memory_mb").GetInt64()));

        // The start-up banner's GPU line names them too.
        var profile = app.Services.GetRequiredService<IRuntimeProfile>();
        Assert.Equal($"0: NVIDIA A100-SXM4-80GB, 81920 MiB ({FakeNvidiaSmi.First}); 1: NVIDIA A100-SXM4-80GB, 81920 MiB ({FakeNvidiaSmi.Second})",
            Strata.Server.Hosting.StartupBanner.Gpus(profile));
    }

    [Fact]
    public async Task A_gpu_type_that_no_device_is_is_refused_at_submission()
    {
        var (_, client) = await app.TenantClientAsync("gpu-type");
        using var _ = client;
        using var response = await client.PostAsJsonAsync("/v1/jobs/training",
            new { name = "wants-h100", entrypoint = "true", compute = new { type = "gpu", gpu_count = 1, gpu_type = "nvidia-h100" } }, Http.Json);
        var problem = await Http.ExpectValidationAsync(response, "compute.gpu_type");
        Assert.Contains("NVIDIA A100-SXM4-80GB", problem.GetProperty("errors").GetProperty("compute.gpu_type")[0].GetString(), StringComparison.Ordinal);
    }

    /// <summary>
    /// Two tenants' jobs each get a device of their own, named by uuid (and see only that one); a third waits for
    /// capacity and, once one ends, gets the device it gave back.
    /// </summary>
    [Fact]
    public async Task Each_gpu_attempt_gets_its_own_device_and_a_third_waits_until_one_is_free()
    {
        var (tenantA, first) = await app.TenantClientAsync("gpu-a");
        var (_, second) = await app.TenantClientAsync("gpu-b");
        using var a = first;
        using var b = second;
        var run = Guid.NewGuid().ToString("N")[..8];
        var one = await SubmitHolderAsync(app, a, $"one-{run}", "nvidia-a100");
        var two = await SubmitHolderAsync(app, b, $"two-{run}", null);
        string[] ids = [one, two];
        try
        {
            var seenByOne = await VisibleDevicesAsync(app, $"one-{run}");
            var seenByTwo = await VisibleDevicesAsync(app, $"two-{run}");
            Assert.Equal([FakeNvidiaSmi.First, FakeNvidiaSmi.Second], new[] { seenByOne.Cuda, seenByTwo.Cuda }.Order(StringComparer.Ordinal));
            // Each sees its own device only, under both variables: never the other tenant's.
            Assert.Equal(seenByOne.Cuda, seenByOne.Nvidia);
            Assert.Equal(seenByTwo.Cuda, seenByTwo.Nvidia);
            using var admin = app.AdminClient();
            var capacity = await SandboxStatusTests.GetJsonAsync(admin, "/v1/admin/capacity", HttpStatusCode.OK);
            Assert.All(capacity.GetProperty("gpus").EnumerateArray(), g => Assert.True(g.GetProperty("in_use").GetBoolean()));
            Assert.Equal(2, capacity.GetProperty("allocated").GetProperty("gpu_count").GetInt32());
            // The assignment is in the attempt's folder (for a restarted server), and the sandbox shows its own node.
            var folder = Directory.GetDirectories(Path.Combine(app.DataPath, "attempts", tenantA)).Single();
            Assert.Equal([seenByOne.Cuda], File.ReadAllLines(Path.Combine(folder, LocalGpus.AssignmentFile)));
            var launch = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "launch.json"))).RootElement;
            if (File.Exists("/usr/bin/bwrap")) // the sandbox is on (SandboxStatusTests)
            {
                var sandbox = launch.GetProperty("sandbox");
                var own = seenByOne.Cuda == FakeNvidiaSmi.First ? "/dev/nvidia0" : "/dev/nvidia1";
                var devices = sandbox.GetProperty("devices").EnumerateArray().Select(d => d.GetString()).ToList();
                Assert.Contains(own, devices);
                Assert.DoesNotContain(own == "/dev/nvidia0" ? "/dev/nvidia1" : "/dev/nvidia0", devices);
            }
            // Another tenant's job is not there at all.
            using (var foreign = await b.GetAsync($"/v1/jobs/training/{one}")) Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);

            var three = await SubmitHolderAsync(app, a, $"three-{run}", "nvidia-a100");
            ids = [one, two, three];
            await StrataApp.WaitForAsync(a, three, job => job.TryGetProperty("status_reason", out var reason) && reason.GetString() == StatusReasons.WaitingForCapacity);

            File.WriteAllText(Path.Combine(app.SharedPath, $"one-{run}.go"), "");
            Assert.Equal("succeeded", (await StrataApp.WaitForEndAsync(a, one)).GetProperty("status").GetString());
            var seenByThree = await VisibleDevicesAsync(app, $"three-{run}");
            Assert.Equal(seenByOne.Cuda, seenByThree.Cuda);
        }
        finally
        {
            foreach (var name in new[] { "one", "two", "three" }) File.WriteAllText(Path.Combine(app.SharedPath, $"{name}-{run}.go"), "");
            foreach (var id in ids) await StrataApp.WaitForEndAsync(id == two ? b : a, id);
        }
    }

    /// <summary>A distributed job's ranks each get a device of their own, and the gang holds both while it runs.</summary>
    [Fact]
    public async Task Each_rank_of_a_gpu_gang_gets_its_own_device()
    {
        var (_, client) = await app.TenantClientAsync("gpu-gang");
        using var _ = client;
        var name = $"gang-{Guid.NewGuid():N}"[..12];
        var shared = app.SharedPath;
        var id = (await StrataApp.SubmitAsync(client, new
        {
            name,
            distributed = new { num_workers = 2 },
            compute = new { type = "gpu", gpu_count = 1, cpu_cores = 1, memory_gb = 1 },
            entrypoint = $"printf '%s' \"$CUDA_VISIBLE_DEVICES\" > '{shared}/{name}-'$RANK.tmp && mv '{shared}/{name}-'$RANK.tmp '{shared}/{name}-'$RANK.cuda; "
                         + $"while [ ! -e '{shared}/{name}.go' ]; do sleep 0.1; done",
            on_quota_exceeded = "queue",
        })).GetProperty("id").GetString()!;
        try
        {
            string[] seen = [await SeenAsync($"{name}-0"), await SeenAsync($"{name}-1")];
            Assert.Equal([FakeNvidiaSmi.First, FakeNvidiaSmi.Second], seen.Order(StringComparer.Ordinal));
            using var admin = app.AdminClient();
            var capacity = await SandboxStatusTests.GetJsonAsync(admin, "/v1/admin/capacity", HttpStatusCode.OK);
            Assert.All(capacity.GetProperty("gpus").EnumerateArray(), g => Assert.True(g.GetProperty("in_use").GetBoolean()));
        }
        finally
        {
            File.WriteAllText(Path.Combine(shared, $"{name}.go"), "");
        }
        Assert.Equal("succeeded", (await StrataApp.WaitForEndAsync(client, id)).GetProperty("status").GetString());

        async Task<string> SeenAsync(string file)
        {
            var path = Path.Combine(shared, $"{file}.cuda");
            for (var deadline = DateTimeOffset.UtcNow.AddSeconds(60); !File.Exists(path); await Task.Delay(100))
            {
                if (DateTimeOffset.UtcNow > deadline)
                {
                    using var response = await client.GetAsync($"/v1/jobs/training/{id}");
                    Assert.Fail($"{file} did not write what it sees; the job: {await response.Content.ReadAsStringAsync()}");
                }
            }
            return File.ReadAllText(path);
        }
    }

    [Fact]
    public async Task A_job_that_asks_for_no_gpu_is_shown_none()
    {
        var (_, client) = await app.TenantClientAsync("cpu-only");
        using var _ = client;
        var name = $"cpu-{Guid.NewGuid():N}"[..12];
        var id = (await StrataApp.SubmitAsync(client, new
        {
            name,
            entrypoint = $"printf '%s|%s' \"${{CUDA_VISIBLE_DEVICES-unset}}\" \"$NVIDIA_VISIBLE_DEVICES\" > '{app.SharedPath}/{name}.cuda'",
        })).GetProperty("id").GetString()!;
        Assert.Equal("succeeded", (await StrataApp.WaitForEndAsync(client, id)).GetProperty("status").GetString());
        Assert.Equal("|void", File.ReadAllText(Path.Combine(app.SharedPath, $"{name}.cuda")));
    }

    /// <summary>Submits a GPU job that writes what it sees to the shared folder, then waits for <c>&lt;name&gt;.go</c> there.</summary>
    internal static Task<string> SubmitHolderAsync(StrataApp app, HttpClient client, string name, string? gpuType) =>
        SubmitHolderAsync(app, client, name, new { type = "gpu", gpu_count = 1, gpu_type = gpuType });

    /// <summary>Submits a job of <paramref name="compute"/> that writes what it sees to the shared folder, then waits for <c>&lt;name&gt;.go</c> there.</summary>
    internal static async Task<string> SubmitHolderAsync(StrataApp app, HttpClient client, string name, object compute)
    {
        var shared = app.SharedPath;
        var job = await StrataApp.SubmitAsync(client, new
        {
            name,
            entrypoint = $"printf '%s|%s' \"$CUDA_VISIBLE_DEVICES\" \"$NVIDIA_VISIBLE_DEVICES\" > '{shared}/{name}.tmp' && mv '{shared}/{name}.tmp' '{shared}/{name}.cuda'; "
                         + $"while [ ! -e '{shared}/{name}.go' ]; do sleep 0.1; done",
            compute,
            on_quota_exceeded = "queue",
        });
        return job.GetProperty("id").GetString()!;
    }

    internal static async Task<(string Cuda, string Nvidia)> VisibleDevicesAsync(StrataApp app, string name)
    {
        var path = Path.Combine(app.SharedPath, $"{name}.cuda");
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(60);
        while (!File.Exists(path))
        {
            Assert.True(DateTimeOffset.UtcNow < deadline, $"{name} did not write what it sees");
            await Task.Delay(100);
        }
        var parts = File.ReadAllText(path).Split('|');
        return (parts[0], parts[1]);
    }
}

public sealed class TwoGpuRestartApp() : StrataApp(StorageKind.Sqlite, new Dictionary<string, string?> { ["Runtime:Local:NvidiaSmiPath"] = FakeNvidiaSmi.Create() });

/// <summary>A restarted server re-adopts a running GPU attempt with the device it had: a new attempt gets the other one.</summary>
public sealed class GpuRestartTests(TwoGpuRestartApp app) : IClassFixture<TwoGpuRestartApp>
{
    [Fact]
    public async Task A_readopted_attempt_keeps_its_device()
    {
        var tenant = await app.CreateTenantAsync(StrataApp.UniqueId("gpu-restart"));
        var token = await app.TokenForAsync(tenant, Roles.Member);
        var run = Guid.NewGuid().ToString("N")[..8];
        string? one = null, two = null;
        try
        {
            using (var client = app.ClientFor(token))
            {
                one = await GpuTests.SubmitHolderAsync(app, client, $"one-{run}", null);
            }
            var seenByOne = await GpuTests.VisibleDevicesAsync(app, $"one-{run}");

            await app.RestartAsync();

            using (var client = app.ClientFor(token))
            {
                Assert.Equal("running", (await StrataApp.WaitForStatusAsync(client, one, "running")).GetProperty("status").GetString());
                two = await GpuTests.SubmitHolderAsync(app, client, $"two-{run}", null);
                var seenByTwo = await GpuTests.VisibleDevicesAsync(app, $"two-{run}");
                Assert.NotEqual(seenByOne.Cuda, seenByTwo.Cuda);
                Assert.Equal([FakeNvidiaSmi.First, FakeNvidiaSmi.Second], new[] { seenByOne.Cuda, seenByTwo.Cuda }.Order(StringComparer.Ordinal));
            }
        }
        finally
        {
            foreach (var name in new[] { "one", "two" }) File.WriteAllText(Path.Combine(app.SharedPath, $"{name}-{run}.go"), "");
            using var client = app.ClientFor(token);
            foreach (var id in new[] { one, two }.OfType<string>()) await StrataApp.WaitForEndAsync(client, id);
        }
    }

    /// <summary>A share survives a restart too: a whole-device job then gets the other device, and another share joins it.</summary>
    [Fact]
    public async Task A_readopted_share_keeps_its_device_shared()
    {
        var tenant = await app.CreateTenantAsync(StrataApp.UniqueId("gpu-share-restart"));
        var token = await app.TokenForAsync(tenant, Roles.Member);
        var run = Guid.NewGuid().ToString("N")[..8];
        var ids = new List<string>();
        try
        {
            using (var client = app.ClientFor(token))
            {
                ids.Add(await GpuTests.SubmitHolderAsync(app, client, $"share-{run}", new { gpu_fraction = 0.5, memory_gb = 1 }));
            }
            var shared = (await GpuTests.VisibleDevicesAsync(app, $"share-{run}")).Cuda;

            await app.RestartAsync();

            using (var client = app.ClientFor(token))
            {
                Assert.Equal("running", (await StrataApp.WaitForStatusAsync(client, ids[0], "running")).GetProperty("status").GetString());
                ids.Add(await GpuTests.SubmitHolderAsync(app, client, $"whole-{run}", null));
                ids.Add(await GpuTests.SubmitHolderAsync(app, client, $"half-{run}", new { gpu_fraction = 0.5, memory_gb = 1 }));
                Assert.NotEqual(shared, (await GpuTests.VisibleDevicesAsync(app, $"whole-{run}")).Cuda);
                Assert.Equal(shared, (await GpuTests.VisibleDevicesAsync(app, $"half-{run}")).Cuda);
            }
        }
        finally
        {
            foreach (var name in new[] { "share", "whole", "half" }) File.WriteAllText(Path.Combine(app.SharedPath, $"{name}-{run}.go"), "");
            using var client = app.ClientFor(token);
            foreach (var id in ids) await StrataApp.WaitForEndAsync(client, id);
        }
    }
}

/// <summary>Who holds which device: exclusive, typed, given back, and rebuilt from the attempt folders after a restart.</summary>
public sealed class LocalGpusTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("strata-gpus-").FullName;
    private static readonly GpuDevice A100 = new(0, "GPU-a", "NVIDIA A100-SXM4-80GB", 81920);
    private static readonly GpuDevice T4 = new(1, "GPU-t", "Tesla T4", 15360);
    private static readonly GpuDevice A100b = new(1, "GPU-b", "NVIDIA A100-SXM4-80GB", 81920);

    [Fact]
    public void Devices_are_exclusive_typed_given_back_and_restored_from_the_folder()
    {
        var gpus = new LocalGpus([A100, T4]);
        var first = Folder("a-1");
        Assert.Equal([A100], gpus.Assign(first, Whole(1, "nvidia-a100")));
        Assert.Equal([A100], gpus.Assign(first, Whole(1, "nvidia-a100"))); // the same attempt again: the same device
        Assert.Throws<RuntimeStartException>(() => gpus.Assign(Folder("b-1"), Whole(1, "nvidia-a100")));
        Assert.Equal([T4], gpus.Assign(Folder("c-1"), Whole(1, null)));
        Assert.Equal([true, true], gpus.Status().Select(s => s.InUse));

        LocalGpus.Write(first, [A100]);
        var restarted = new LocalGpus([A100, T4]);
        restarted.Restore(first);
        Assert.Throws<RuntimeStartException>(() => restarted.Assign(Folder("d-1"), Whole(1, "nvidia-a100")));
        restarted.Release(first);
        Assert.Equal([A100], restarted.Assign(Folder("d-1"), Whole(1, "nvidia-a100")));
    }

    [Fact]
    public void Shares_are_packed_recorded_with_their_size_and_restored_after_a_restart()
    {
        var gpus = new LocalGpus([A100, A100b]);
        var quarters = Enumerable.Range(1, 4).Select(i => Folder($"q{i}-1")).ToList();
        foreach (var folder in quarters)
        {
            Assert.Equal([A100], gpus.Assign(folder, Share(250)));
            LocalGpus.Write(folder, [A100], 250);
        }
        Assert.Equal(["GPU-a 0.25"], File.ReadAllLines(Path.Combine(quarters[0], LocalGpus.AssignmentFile)));
        var half = Folder("h-1");
        Assert.Equal([A100b], gpus.Assign(half, Share(500)));
        LocalGpus.Write(half, [A100b], 500);
        Assert.Equal([1.0, 0.5], gpus.Status().Select(s => s.Allocated));
        Assert.Equal([("q1-1", "GPU-a", 250L), ("h-1", "GPU-b", 500L)],
            gpus.Occupancy().Holdings.Where(h => h.AttemptName is "q1-1" or "h-1").Select(h => (h.AttemptName, h.Uuid, h.Milli)));

        // A restarted server rebuilds the same shares from the folders: a whole device is still not free, a half is.
        var restarted = new LocalGpus([A100, A100b]);
        foreach (var folder in quarters.Append(half)) restarted.Restore(folder);
        Assert.Equal([1.0, 0.5], restarted.Status().Select(s => s.Allocated));
        Assert.Throws<RuntimeStartException>(() => restarted.Assign(Folder("w-1"), Whole(1, null)));
        Assert.Equal([A100b], restarted.Assign(Folder("h2-1"), Share(500)));
        restarted.Release(quarters[0]);
        Assert.Equal(0.75, restarted.Status()[0].Allocated);
    }

    [Fact]
    public void A_device_s_samples_go_to_every_attempt_holding_it_and_end_up_on_its_observation()
    {
        var gpus = new LocalGpus([A100, A100b]);
        var (one, two, whole) = (Folder("one-1"), Folder("two-1"), Folder("whole-1"));
        gpus.Assign(one, Share(500));
        gpus.Assign(two, Share(500));
        gpus.Assign(whole, Whole(1, null));
        gpus.Record([new GpuSample("GPU-a", 10, 1000), new GpuSample("GPU-b", 90, 5000)]);
        gpus.Record([new GpuSample("GPU-a", 30, 3000), new GpuSample("GPU-b", null, null)]); // the second device said [N/A]

        var observation = new AttemptObservation { Attempt = new AttemptRef("t", "one", 1) };
        var shared = LocalGpus.WithUsage(one, observation);
        Assert.Equal((20.0, 3000L), (shared.GpuUtilizationPercent!.Value, shared.GpuPeakMemoryMb!.Value));
        Assert.Equal(shared.GpuUtilizationPercent, LocalGpus.WithUsage(two, observation).GpuUtilizationPercent);
        Assert.Equal((90.0, 5000L), (LocalGpus.WithUsage(whole, observation).GpuUtilizationPercent!.Value, LocalGpus.WithUsage(whole, observation).GpuPeakMemoryMb!.Value));
        // An attempt never sampled keeps null fields.
        Assert.Null(LocalGpus.WithUsage(Folder("never-1"), observation).GpuUtilizationPercent);

        // A restarted server goes on from the samples in the folder.
        var restarted = new LocalGpus([A100, A100b]);
        LocalGpus.Write(one, [A100], 500);
        restarted.Restore(one);
        restarted.Record([new GpuSample("GPU-a", 80, 100)]);
        Assert.Equal(40.0, LocalGpus.WithUsage(one, observation).GpuUtilizationPercent);
    }

    [Fact]
    public void An_inventory_in_the_options_is_used_as_given()
    {
        var options = new LocalRuntimeOptions
        {
            NvidiaSmiPath = "/nonexistent/nvidia-smi",
            GpuInventory = [new() { Uuid = "GPU-x", Name = "NVIDIA H100 80GB HBM3", MemoryMb = 81559 }, new() { Index = 3, Uuid = "GPU-y", Name = "NVIDIA H100 80GB HBM3", MemoryMb = 81559 }],
        };
        Assert.Equal([new GpuDevice(0, "GPU-x", "NVIDIA H100 80GB HBM3", 81559), new GpuDevice(3, "GPU-y", "NVIDIA H100 80GB HBM3", 81559)],
            LocalGpus.Discover(options, NullLogger.Instance).Devices);
        Assert.Empty(LocalGpus.Discover(new LocalRuntimeOptions { NvidiaSmiPath = "/nonexistent/nvidia-smi" }, NullLogger.Instance).Devices);
        Assert.Throws<InvalidOperationException>(() => LocalGpus.Discover(new LocalRuntimeOptions { GpuInventory = [new() { Uuid = "GPU-x", Name = "" }] }, NullLogger.Instance));
        Assert.Throws<InvalidOperationException>(() => LocalGpus.Discover(
            new LocalRuntimeOptions { GpuInventory = [new() { Uuid = "GPU-x", Name = "A" }, new() { Uuid = "GPU-x", Name = "A" }] }, NullLogger.Instance));
        Assert.Equal(["/dev/nvidia3", "/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools"], LocalGpus.DeviceNodes([new GpuDevice(3, "GPU-y", "x", 1)]));
    }

    [Fact]
    public void Discovery_runs_nvidia_smi_with_the_real_query()
    {
        var options = new LocalRuntimeOptions { NvidiaSmiPath = FakeNvidiaSmi.Create() };
        Assert.Equal([FakeNvidiaSmi.First, FakeNvidiaSmi.Second], LocalGpus.Discover(options, NullLogger.Instance).Devices.Select(d => d.Uuid));
    }

    private static GpuDemand Whole(int devices, string? type) => new(devices, ResourceRequest.MilliPerGpu, type);
    private static GpuDemand Share(long milli) => new(1, milli, null);

    private string Folder(string name) => Directory.CreateDirectory(Path.Combine(_root, name)).FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
