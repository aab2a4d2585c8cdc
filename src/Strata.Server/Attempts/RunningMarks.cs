using Strata.Contracts;
using Strata.Core.Runtime;
using Strata.Server.Storage;

namespace Strata.Server.Attempts;

/// <summary>An attempt the runtime has running, to be recorded as such.</summary>
public sealed record RunningMark(AttemptRef Attempt, RuntimeInfo Runtime, DateTimeOffset StartedAt);

/// <summary>
/// Records started attempts as running, many per store write: the marks that arrive while one write
/// is being committed go together in the next, whose rows are read by two queries. A burst of admissions
/// (thousands of starts within a second) then costs a few writes instead of two reads and a write each.
/// </summary>
public sealed class RunningMarks(StoreWriter writer)
{
    /// <summary>Marks per write, bounded so that no single write holds the writer long.</summary>
    private const int MaxPerWrite = 500;

    private readonly object _gate = new();
    private readonly Queue<(RunningMark Mark, TaskCompletionSource Done)> _waiting = new();
    private bool _writing;

    /// <summary>Completes once the mark is committed (or found moot: the attempt ended or was replaced meanwhile).</summary>
    public Task MarkAsync(RunningMark mark, CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bool startWriting;
        lock (_gate)
        {
            _waiting.Enqueue((mark, done));
            startWriting = !_writing;
            _writing = true;
        }
        if (startWriting) _ = Task.Run(WriteWhileWaitingAsync, CancellationToken.None);
        return done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>One writer at a time, until nothing waits.</summary>
    private async Task WriteWhileWaitingAsync()
    {
        while (true)
        {
            var batch = new List<(RunningMark Mark, TaskCompletionSource Done)>();
            lock (_gate)
            {
                while (batch.Count < MaxPerWrite && _waiting.TryDequeue(out var next)) batch.Add(next);
                if (batch.Count == 0)
                {
                    _writing = false;
                    return;
                }
            }
            try
            {
                // Not cancellable by any one caller: the others' marks are in the same write.
                await writer.WriteAsync(db => AttemptTransitions.MarkRunning(db, [.. batch.Select(b => b.Mark)]), CancellationToken.None);
                foreach (var (_, done) in batch) done.TrySetResult();
            }
            catch (Exception e)
            {
                foreach (var (_, done) in batch) done.TrySetException(e);
            }
        }
    }
}
