using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Strata.Server.Hosting;

namespace Strata.Server.Tests.Hosting;

/// <summary>The bound on file work: time and slots, on a fake clock; nothing here sleeps.</summary>
public sealed class FileWorkTests
{
    private readonly FakeTimeProvider _time = new();

    private FileWork Work(int timeoutSeconds = 10, int maxConcurrent = 2) =>
        new(Options.Create(new FileWorkOptions { TimeoutSeconds = timeoutSeconds, MaxConcurrent = maxConcurrent }), _time, NullLogger<FileWork>.Instance);

    [Fact]
    public async Task Work_that_ends_in_time_gives_its_result()
    {
        Assert.Equal(42, await Work().RunAsync("answering", _ => Task.FromResult(42), CancellationToken.None));
    }

    [Fact]
    public async Task Work_that_ends_at_once_gives_its_result_however_its_end_and_its_callers_return_interleave()
    {
        var work = Work(maxConcurrent: 4);
        var results = await Task.WhenAll(Enumerable.Range(0, 2000).Select(i => work.RunAsync("answering", _ => Task.FromResult(i), CancellationToken.None)));
        Assert.Equal(Enumerable.Range(0, 2000), results);
    }

    [Fact]
    public async Task Work_stuck_past_the_bound_is_refused_with_when_to_try_again()
    {
        var work = Work(timeoutSeconds: 100);
        var stuck = new TaskCompletionSource<int>();
        var running = work.RunAsync("copying the model file", _ => stuck.Task, CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(99));
        Assert.False(running.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(1));
        var refused = await Assert.ThrowsAsync<FileWorkTimeoutException>(() => running);
        Assert.Contains("copying the model file", refused.Message, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromSeconds(10), refused.RetryAfter);
        stuck.SetResult(0);
    }

    [Fact]
    public async Task The_work_is_told_when_its_time_is_up()
    {
        var work = Work(timeoutSeconds: 5);
        var told = new TaskCompletionSource();
        var running = work.RunAsync("hashing", async token =>
        {
            await Task.Delay(Timeout.Infinite, token).ContinueWith(_ => told.SetResult(), TaskScheduler.Default);
            return 0;
        }, CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(5));
        await Assert.ThrowsAsync<FileWorkTimeoutException>(() => running);
        await told.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_stuck_work_keeps_its_slot_after_its_caller_gave_up_so_the_next_ones_wait_and_are_refused()
    {
        var work = Work(timeoutSeconds: 10, maxConcurrent: 1);
        var stuck = new TaskCompletionSource<int>();
        var first = work.RunAsync("reading", _ => stuck.Task, CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(10));
        await Assert.ThrowsAsync<FileWorkTimeoutException>(() => first);

        // The first work is still stuck (a thread in a read): the second never starts, and is refused in its turn.
        var started = false;
        var second = work.RunAsync("reading", _ => { started = true; return Task.FromResult(2); }, CancellationToken.None);
        Assert.False(second.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(10));
        await Assert.ThrowsAsync<FileWorkTimeoutException>(() => second);
        Assert.False(started);

        // Once the disk answers, the slot is free again.
        stuck.SetResult(1);
        Assert.Equal(3, await work.RunAsync("reading", _ => Task.FromResult(3), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task What_a_work_opens_after_its_caller_gave_up_is_disposed()
    {
        var work = Work(timeoutSeconds: 1);
        var opening = new TaskCompletionSource<Stream>();
        var running = work.RunAsync<Stream>("opening", _ => opening.Task, CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(1));
        await Assert.ThrowsAsync<FileWorkTimeoutException>(() => running);
        var late = new MemoryStream();
        opening.SetResult(late);
        // The disposal follows the work's end on the pool: wait for it, generously.
        Assert.True(SpinWait.SpinUntil(() => !late.CanRead, TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task A_caller_that_cancels_gets_its_cancellation_not_a_time_out()
    {
        var work = Work();
        using var cancel = new CancellationTokenSource();
        var running = work.RunAsync("reading", _ => new TaskCompletionSource<int>().Task, cancel.Token);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
    }
}
