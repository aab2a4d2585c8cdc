using System.Threading.Channels;

namespace Strata.Server.Queue;

/// <summary>
/// How the features that change what the scheduler decides on (a submission, an ended attempt, a cancel, a quota
/// change, a follower's sync) ask it for a cycle, without depending on it.
/// </summary>
public sealed class SchedulerWakeUp
{
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    /// <summary>Asks for a cycle soon; many calls before it runs make one cycle.</summary>
    public void Wake() => _wake.Writer.TryWrite(true);

    /// <summary>Waits for <see cref="Wake"/>, at most <paramref name="timeout"/>, on <paramref name="time"/>'s clock.</summary>
    public async Task WaitAsync(TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        if (timeout <= TimeSpan.Zero) return;
        using var timedOut = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timedOut.Token);
        try
        {
            await _wake.Reader.ReadAsync(linked.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
        }
    }
}
