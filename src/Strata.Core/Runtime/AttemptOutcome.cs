using Strata.Contracts;

namespace Strata.Core.Runtime;

/// <summary>
/// How an attempt ended, as its runtime saw it: one closed set of kinds, each a nested record, carrying the
/// evidence (exit code, signal, the runtime's words). Who asked for a <see cref="Stopped"/> attempt to stop (a
/// cancel, a preemption, a deleted tenant) is in the store, not in the runtime: <see cref="Attempts.AttemptPolicy"/>
/// reads both.
/// </summary>
public abstract record AttemptOutcome
{
    private AttemptOutcome()
    {
    }

    /// <summary>The process's exit code, when it exited (a process killed by signal N reports 128+N).</summary>
    public int? ExitCode { get; init; }

    /// <summary>The signal that ended the process, when one did.</summary>
    public int? Signal { get; init; }

    /// <summary>
    /// The last exception line of a Python traceback at the end of the job's output (<c>ValueError: bad row</c>),
    /// when there was one (<see cref="Tracebacks.LastException"/>).
    /// </summary>
    public string? Exception { get; init; }

    /// <summary>
    /// Why the job said it failed: the last <c>STRATA_ERROR</c> line of its output (<see cref="Tracebacks.LastReportedError"/>),
    /// shown in the error message ahead of <see cref="Exception"/>.
    /// </summary>
    public string? ReportedError { get; init; }

    /// <summary>The runtime's own account of the end, shown as the attempt's error message; null: <see cref="Describe"/>.</summary>
    public string? Message { get; init; }

    /// <summary>The <c>status_reason</c> the API shows for this end (a <see cref="StatusReasons"/> value).</summary>
    public abstract string Reason { get; }

    /// <summary>True for an end the infrastructure caused, which a retry may get past; false for the job's own.</summary>
    public virtual bool IsInfrastructureFailure => false;

    /// <summary>The runtime's message, or words for this kind of end.</summary>
    public virtual string Describe() => Message ?? Reason.Replace('_', ' ');

    /// <summary>The job's process exited with 0.</summary>
    public sealed record Succeeded : AttemptOutcome
    {
        public override string Reason => StatusReasons.Completed;
    }

    /// <summary>The job's process exited non-zero, or was ended by a signal Strata did not send.</summary>
    public sealed record ExitedWithError : AttemptOutcome
    {
        public override string Reason => StatusReasons.ExitedWithError;
        public override string Describe() => Message ?? $"exited with code {ExitCode}";
    }

    /// <summary>Killed for using more memory than it asked for.</summary>
    public sealed record OutOfMemory : AttemptOutcome
    {
        public override string Reason => StatusReasons.OutOfMemory;
        public override string Describe() => Message ?? "killed for using more memory than it asked for";
    }

    /// <summary>Stopped for filling more disk than <c>compute.disk_gb</c>.</summary>
    public sealed record DiskLimitExceeded : AttemptOutcome
    {
        public override string Reason => StatusReasons.DiskLimitExceeded;
        public override string Describe() => Message ?? "stopped for filling more disk than it asked for";
    }

    /// <summary>Stopped at its <c>timeout_seconds</c>.</summary>
    public sealed record TimedOut : AttemptOutcome
    {
        public override string Reason => StatusReasons.TimedOut;
        public override string Describe() => Message ?? "stopped at its time-out";
    }

    /// <summary>Stopped because Strata asked its runtime to stop it.</summary>
    public sealed record Stopped : AttemptOutcome
    {
        public override string Reason => StatusReasons.Killed;
    }

    /// <summary>Its supervisor (a worker process, a Kubernetes Job or pod) vanished without recording an end.</summary>
    public sealed record SupervisorLost : AttemptOutcome
    {
        public override string Reason => StatusReasons.SupervisorLost;
        public override bool IsInfrastructureFailure => true;
        public override string Describe() => Message ?? "its process vanished";
    }

    /// <summary>
    /// The cluster took its pod away for its own reasons (Kubernetes' <c>DisruptionTarget</c> condition: an eviction
    /// through the API, a preemption by the scheduler for a higher-priority pod, a tainted node, the kubelet shutting
    /// down). Not the job's doing, and not Strata's preemption (that is a <see cref="Stopped"/> attempt the store marks).
    /// </summary>
    public sealed record Evicted : AttemptOutcome
    {
        public override string Reason => StatusReasons.Evicted;
        public override bool IsInfrastructureFailure => true;
        public override string Describe() => Message ?? "its pod was evicted";
    }

    /// <summary>The runtime could not start it.</summary>
    public sealed record StartFailed : AttemptOutcome
    {
        public override string Reason => StatusReasons.StartFailed;
        public override bool IsInfrastructureFailure => true;
    }

    /// <summary>Its Python environment could not be built (docs/environments.md): the job's requirements, its own error.</summary>
    public sealed record EnvironmentError : AttemptOutcome
    {
        public override string Reason => StatusReasons.EnvironmentError;
        public override string Describe() => Message ?? "its Python environment could not be built";
    }

    /// <summary>A built-in trainer exited with 0 but its model could not be registered.</summary>
    public sealed record ModelRegistrationFailed : AttemptOutcome
    {
        public override string Reason => StatusReasons.ModelRegistrationFailed;
        public override string Describe() => Message ?? "its model could not be registered";
    }

    /// <summary>
    /// The kind a <c>result.json</c> reason names (the worker's file protocol, <see cref="Local.ResultFile"/>), or a
    /// runtime's classification; a reason this version does not know is an error exit.
    /// </summary>
    public static AttemptOutcome FromReason(string? reason) => reason switch
    {
        StatusReasons.Completed => new Succeeded(),
        StatusReasons.OutOfMemory => new OutOfMemory(),
        StatusReasons.DiskLimitExceeded => new DiskLimitExceeded(),
        StatusReasons.TimedOut => new TimedOut(),
        StatusReasons.Killed => new Stopped(),
        StatusReasons.SupervisorLost => new SupervisorLost(),
        StatusReasons.Evicted => new Evicted(),
        StatusReasons.StartFailed => new StartFailed(),
        StatusReasons.ModelRegistrationFailed => new ModelRegistrationFailed(),
        StatusReasons.EnvironmentError => new EnvironmentError(),
        _ => new ExitedWithError(),
    };
}
