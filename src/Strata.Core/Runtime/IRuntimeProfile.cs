using Strata.Contracts;

namespace Strata.Core.Runtime;

/// <summary>
/// What the rest of the server shows or defaults from the job runtime in use, beyond <c>IJobRuntime</c>:
/// callers outside <c>Runtime/</c> ask this rather than reading a runtime's options or testing its type.
/// </summary>
public interface IRuntimeProfile
{
    /// <summary>A line for the start-up banner, e.g. <c>local runtime, worker: …</c>.</summary>
    string Description { get; }

    /// <summary>Cores of a job that names none, unless <c>Jobs:DefaultCpuCores</c> is set.</summary>
    int DefaultCpuCores { get; }

    /// <summary>Memory in GB of a job that names none, unless <c>Jobs:DefaultMemoryGb</c> is set.</summary>
    int DefaultMemoryGb { get; }

    /// <summary>How jobs are confined: shown by <c>GET /v1/admin/capacity</c>, the banner and the sandbox gauge.</summary>
    SandboxStatus Isolation { get; }

    /// <summary>The banner's line on isolation.</summary>
    string IsolationDescription { get; }

    /// <summary>The machine's GPUs and whether an attempt holds each (the local runtime's inventory); empty where the runtime keeps none.</summary>
    IReadOnlyList<GpuDeviceStatus> GpuDevices => [];

    /// <summary>
    /// The devices the runtime places GPU jobs on and what each live attempt holds of them, read now; null where it
    /// keeps no inventory (the scheduler then counts GPUs without asking which).
    /// </summary>
    GpuOccupancy? GpuOccupancy => null;
}
