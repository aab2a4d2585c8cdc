using System.Runtime.InteropServices;

namespace Strata.Worker;

/// <summary>Turns SIGTERM and SIGINT into a stop request instead of the runtime's default exit.</summary>
internal sealed class StopSignals : IDisposable
{
    private readonly TaskCompletionSource<PosixSignal> _requested = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly PosixSignalRegistration _onTerm;
    private readonly PosixSignalRegistration _onInt;

    public StopSignals()
    {
        _onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnStopSignal);
        _onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnStopSignal);
    }

    /// <summary>Completes with the first stop signal received.</summary>
    public TaskCompletionSource<PosixSignal> Requested => _requested;

    private void OnStopSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        _requested.TrySetResult(context.Signal);
    }

    public void Dispose()
    {
        _onTerm.Dispose();
        _onInt.Dispose();
    }
}
