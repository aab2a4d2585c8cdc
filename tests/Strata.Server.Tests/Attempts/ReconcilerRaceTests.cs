using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Strata.Contracts;
using Strata.Core.Runtime;
using Strata.Server.Attempts;
using Strata.Server.Storage;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Attempts;

/// <summary>The app with a job runtime that lets a test hold an attempt's start and the reconciler's listing where it wants them.</summary>
public sealed class GatedRuntimeApp : StrataApp
{
    public GatedRuntime Runtime { get; } = new();

    protected override void ConfigureServices(IServiceCollection services) => services.AddSingleton<IJobRuntime>(Runtime);
}

/// <summary>
/// The reconciler reads the store's live attempts, then the runtime's list. An attempt whose start completes
/// between the two (the runtime has it, it is marked running and no longer starting) is in the first as
/// starting and missing from the second: it must not be taken for one that was never started, and started again.
/// </summary>
public sealed class ReconcilerRaceTests(GatedRuntimeApp app) : IClassFixture<GatedRuntimeApp>
{
    [Fact]
    public async Task An_attempt_started_between_the_reconcilers_two_reads_is_not_started_again()
    {
        var runtime = app.Runtime;
        var store = app.Services.GetRequiredService<Store>();
        var lifecycle = app.Services.GetRequiredService<AttemptLifecycle>();
        runtime.WhenListed = async reference =>
        {
            // The listing was taken without the attempt; let its start finish and be recorded before the
            // reconciler goes on with the list it has.
            while (lifecycle.IsStarting(reference) || !await IsRunningInStoreAsync(store, reference)) await Task.Delay(10);
        };
        using var client = app.ClientFor(await app.TokenForAsync(await app.CreateTenantAsync("race"), "member"));

        var job = await StrataApp.SubmitAsync(client, new { name = "raced", entrypoint = "true", compute = new { cpu_cores = 1, memory_gb = 1 } });
        var id = job.GetProperty("id").GetString()!;
        await StrataApp.WaitForStatusAsync(client, id, "running");
        // Passes after the raced one: had it restarted the attempt, the start would be counted by now.
        await runtime.ListedAfterRaceAsync(passes: 3);

        Assert.True(runtime.RaceHappened, "the reconciler never listed the runtime while the attempt was starting");
        Assert.Equal(1, runtime.StartsOf(id));
    }

    private static async Task<bool> IsRunningInStoreAsync(Store store, AttemptRef reference)
    {
        await using var db = store.CreateContext();
        return await db.Attempts.AsNoTracking().AnyAsync(a => a.JobId == reference.JobId && a.Number == reference.Number && a.Status == AttemptStatus.Running);
    }
}

/// <summary>
/// A job runtime whose attempts "run" at once, once started. The first start waits until the reconciler lists
/// the runtime in a pass that began after the start was asked for (so that pass's store snapshot has the
/// attempt starting); that listing leaves the attempt out, and <see cref="WhenListed"/> runs before it returns.
/// </summary>
public sealed class GatedRuntime : IJobRuntime
{
    private readonly ConcurrentDictionary<string, AttemptRef> _running = new();
    private readonly ConcurrentDictionary<string, int> _starts = new();
    private readonly TaskCompletionSource _raced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _listed = new(0);
    private AttemptRef? _starting;
    private int _listingsSinceStart;

    public Func<AttemptRef, Task> WhenListed { get; set; } = _ => Task.CompletedTask;

    public bool RaceHappened => _raced.Task.IsCompleted;

    public int StartsOf(string jobId) => _starts.GetValueOrDefault(jobId);

    public string Kind => "gated";

    public RuntimeCapacity Capacity { get; } = new(ResourceRequest.FromGb(8, 16, 0), 8);

    public async Task<RuntimeInfo> StartAsync(JobLaunch launch, CancellationToken cancellationToken)
    {
        var first = _starts.AddOrUpdate(launch.Attempt.JobId, 1, (_, n) => n + 1) == 1;
        if (first)
        {
            Volatile.Write(ref _listingsSinceStart, 0);
            _starting = launch.Attempt;
            await _raced.Task.WaitAsync(cancellationToken);
        }
        _running[launch.Attempt.Name] = launch.Attempt;
        return Describe(launch.Attempt);
    }

    public async Task<IReadOnlyList<AttemptObservation>> ListAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<AttemptObservation> listed = [.. _running.Values.Select(a => new AttemptObservation { Attempt = a })];
        // The second listing after the start was asked for belongs to a pass that began after it.
        if (_starting is { } starting && !_raced.Task.IsCompleted && Interlocked.Increment(ref _listingsSinceStart) == 2)
        {
            _raced.TrySetResult();
            await WhenListed(starting);
        }
        _listed.Release();
        return listed;
    }

    /// <summary>Waits for <paramref name="passes"/> more listings once the race has happened.</summary>
    public async Task ListedAfterRaceAsync(int passes)
    {
        await _raced.Task.WaitAsync(TimeSpan.FromSeconds(60));
        while (_listed.CurrentCount > 0) await _listed.WaitAsync();
        for (var i = 0; i < passes; i++) await _listed.WaitAsync(TimeSpan.FromSeconds(60));
    }

    public Task StopAsync(AttemptRef attempt, CancellationToken cancellationToken)
    {
        _running.TryRemove(attempt.Name, out _);
        return Task.CompletedTask;
    }

    public async IAsyncEnumerable<AttemptObservation> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.Delay(Timeout.Infinite, cancellationToken);
        yield break;
    }

    public RuntimeInfo Describe(AttemptRef attempt) => new() { Kind = Kind, Name = attempt.Name };

    public Task<Stream?> OpenLogAsync(AttemptRef attempt, LogOptions options, CancellationToken cancellationToken) => Task.FromResult<Stream?>(null);

    public Task ForgetAsync(AttemptRef attempt, bool discardLogs, CancellationToken cancellationToken) => Task.CompletedTask;
}
