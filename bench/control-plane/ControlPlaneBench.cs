using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Strata.Contracts;
using Strata.Core.Runtime;
using Strata.Server.Queue;
using Strata.Server.Storage;

namespace Strata.Bench.ControlPlane;

// The control plane end to end with the runtime's start replaced by a no-op: N jobs are submitted through
// the API while every tenant's max_running_jobs is 0, then an admin raises the quotas (PUT .../quota, which
// wakes the scheduler) and the clock runs until every job is admitted and its admission (the job running,
// its attempt stored) is committed. Only Strata is measured:
// the queue, the policy, the quota ledger, the group-committed store, the reconciler beside it.
// Usage: dotnet run -c Release -- [jobs, default 10000] [rounds, default 3]
internal static class ControlPlaneBench
{
    public static async Task Main(string[] args)
    {
        var jobs = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 10_000;
        var rounds = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 3;

        for (var round = 1; round <= rounds; round++)
        {
            var data = Path.Combine(Path.GetTempPath(), "strata-bench-cp-" + Guid.NewGuid().ToString("N")[..8]);
            var runtime = new NoopRuntime(ResourceRequest.FromGb(jobs, jobs, 0));
            await using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(builder =>
            {
                builder.UseSetting("Strata:DataPath", data);
                builder.UseSetting("Logging:LogLevel:Default", "Warning");
                builder.UseSetting("Quotas:Default:CpuCores", "1000000");
                builder.UseSetting("Quotas:Default:MemoryGb", "100000000");
                builder.UseSetting("Quotas:Default:MaxPendingJobs", "10000000");
                builder.UseSetting("Quotas:Default:MaxRunningJobs", "0");
                // The submissions are the set-up, not what is measured: no per-tenant rate limit.
                builder.UseSetting("RateLimits:Enabled", "false");
                builder.ConfigureServices(services => services.AddSingleton<IJobRuntime>(runtime));
            });
            using var admin = factory.CreateClient();
            admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (await File.ReadAllTextAsync(Path.Combine(data, "admin-token"))).Trim());
            // 10 tenants, so that fair sharing has work to do.
            var clients = new List<HttpClient>();
            for (var t = 0; t < 10; t++)
            {
                (await admin.PostAsJsonAsync("/v1/tenants", new { id = $"team-{t}" })).EnsureSuccessStatusCode();
                var token = await (await admin.PostAsJsonAsync($"/v1/tenants/team-{t}/tokens", new { role = "member" })).Content.ReadFromJsonAsync<TokenResponse>(StrataJson.Options);
                var client = factory.CreateClient();
                client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token!.Token);
                clients.Add(client);
            }
            await Parallel.ForEachAsync(Enumerable.Range(0, jobs), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, ct) =>
            {
                using var response = await clients[i % clients.Count].PostAsJsonAsync("/v1/jobs/training",
                    new { name = $"job-{i}", entrypoint = "true", compute = new { cpu_cores = 1, memory_gb = 1 } }, ct);
                response.EnsureSuccessStatusCode();
            });
            var queue = factory.Services.GetRequiredService<JobQueue>();
            var store = factory.Services.GetRequiredService<Store>();
            Console.WriteLine($"round {round}: {queue.PendingCount} jobs waiting");

            var clock = Stopwatch.StartNew();
            for (var t = 0; t < clients.Count; t++)
            {
                (await admin.PutAsJsonAsync($"/v1/tenants/team-{t}/quota", new
                {
                    cpu_cores = 1000000, memory_gb = 100000000, max_pending_jobs = 10000000, max_running_jobs = 10000000,
                })).EnsureSuccessStatusCode();
            }
            while (true)
            {
                await using var db = store.CreateContext();
                var running = await db.Jobs.CountAsync(j => j.Status == JobStatus.Running);
                if (running == jobs) break;
                await Task.Delay(5);
            }
            clock.Stop();
            Console.WriteLine($"round {round}: {jobs} admitted and persisted in {clock.Elapsed.TotalSeconds:0.000} s = {jobs / clock.Elapsed.TotalSeconds:0} admissions/s"
                + $" (runtime asked to start {runtime.Started})");
            foreach (var client in clients) client.Dispose();
            try { Directory.Delete(data, recursive: true); } catch (IOException) { }
        }
    }
}

/// <summary>A runtime whose start does nothing: attempts are "running" at once, and stay so.</summary>
internal sealed class NoopRuntime(ResourceRequest total) : IJobRuntime
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, AttemptRef> _running = new();
    private int _started;

    public int Started => _started;
    public string Kind => "noop";
    public RuntimeCapacity Capacity { get; } = new(total, 64);

    public Task<RuntimeInfo> StartAsync(JobLaunch launch, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _started);
        _running[launch.Attempt.Name] = launch.Attempt;
        return Task.FromResult(new RuntimeInfo { Kind = Kind, Name = launch.Attempt.Name });
    }

    public Task StopAsync(AttemptRef attempt, CancellationToken cancellationToken)
    {
        _running.TryRemove(attempt.Name, out _);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<AttemptObservation>> ListAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<AttemptObservation>>(_running.Values.Select(a => new AttemptObservation { Attempt = a }).ToList());

    public async IAsyncEnumerable<AttemptObservation> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.Delay(Timeout.Infinite, cancellationToken);
        yield break;
    }

    public RuntimeInfo Describe(AttemptRef attempt) => new() { Kind = Kind, Name = attempt.Name };

    public Task<Stream?> OpenLogAsync(AttemptRef attempt, LogOptions options, CancellationToken cancellationToken) => Task.FromResult<Stream?>(null);

    public Task ForgetAsync(AttemptRef attempt, bool discardLogs, CancellationToken cancellationToken) => Task.CompletedTask;
}
