using System.Globalization;
using Microsoft.Extensions.Time.Testing;
using Strata.Core.Runtime.Local;

namespace Strata.Core.Tests;

public sealed class ParentWatchTests
{
    /// <summary>The kernel's own account of this process's parent, from the other file that holds it.</summary>
    private static int ParentFromStatus() =>
        int.Parse(File.ReadLines("/proc/self/status").Single(l => l.StartsWith("PPid:", StringComparison.Ordinal))["PPid:".Length..].Trim(), CultureInfo.InvariantCulture);

    [Fact]
    public void Reads_this_process_s_parent()
    {
        Assert.Equal(ParentFromStatus(), ParentWatch.ParentPid());
    }

    [Fact]
    public void The_parent_is_gone_once_the_named_pid_is_not_the_parent()
    {
        var parent = ParentFromStatus();
        Assert.False(ParentWatch.IsGone(parent));
        Assert.True(ParentWatch.IsGone(Environment.ProcessId));
    }

    [Fact]
    public async Task Waiting_for_a_parent_that_is_already_gone_completes_without_a_tick()
    {
        using var cancel = new CancellationTokenSource();
        await ParentWatch.WhenGoneAsync(Environment.ProcessId, new FakeTimeProvider(), cancel.Token);
    }

    [Fact]
    public async Task Waiting_for_a_live_parent_lasts_through_its_checks_until_cancelled()
    {
        var time = new FakeTimeProvider();
        using var cancel = new CancellationTokenSource();
        var waiting = ParentWatch.WhenGoneAsync(ParentFromStatus(), time, cancel.Token);
        time.Advance(ParentWatch.Interval * 3);
        Assert.False(waiting.IsCompleted);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
    }
}
