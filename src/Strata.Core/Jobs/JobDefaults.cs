namespace Strata.Core.Jobs;

/// <summary>What an omitted field of a training job spec becomes, and the runtime's whole capacity.</summary>
public sealed record JobDefaults
{
    public const string DefaultEntrypoint = "python train.py";
    public const int DefaultMaxAttempts = 3;
    public const int DefaultBackoffSeconds = 10;
    /// <summary>The <c>compute.max_processes</c> of a job that names none.</summary>
    public const int DefaultMaxProcesses = 4096;
    /// <summary>The <c>compute.disk_gb</c> of a job that names none.</summary>
    public const double DefaultDiskGb = 20;

    public required int CpuCores { get; init; }
    public required int MemoryGb { get; init; }
    public string Entrypoint { get; init; } = DefaultEntrypoint;
    public int MaxAttempts { get; init; } = DefaultMaxAttempts;
    public int BackoffSeconds { get; init; } = DefaultBackoffSeconds;
}
