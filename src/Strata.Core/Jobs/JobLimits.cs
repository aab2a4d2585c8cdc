namespace Strata.Core.Jobs;

/// <summary>
/// Field and collection limits of a training job spec (docs/limits.md lists them with the others).
/// A spec over any of them is refused with 400 and the field named.
/// </summary>
public static class JobLimits
{
    public const int NameLength = 63;
    public const int EntrypointLength = 4096;
    public const int ImageLength = 512;
    public const int PathLength = 1024;
    public const int CodeCommitLength = 64;
    public const int GpuTypeLength = 64;
    public const int ModelLength = 64;
    public const int LabelLength = 256;
    public const int MaxEnvVars = 100;
    public const int EnvNameLength = 128;
    public const int EnvValueLength = 8192;
    public const int MaxHyperparameters = 100;
    public const int HyperparameterNameLength = 64;
    public const int HyperparameterValueLength = 1024;
    public const int MinCpuCores = 1, MaxCpuCores = 96;
    public const int MinMemoryGb = 1, MaxMemoryGb = 768;
    public const int MinGpus = 1, MaxGpus = 8;
    /// <summary><c>compute.gpu_fraction</c> is a multiple of this, more than 0 and less than 1 (docs/gpus.md).</summary>
    public const double GpuFractionStep = 0.05;

    /// <summary>Whether <paramref name="fraction"/> is a share of a GPU a job may ask for: 0.05, 0.1, ... 0.95.</summary>
    public static bool IsGpuFraction(double fraction)
    {
        var steps = fraction / GpuFractionStep;
        return fraction > 0 && fraction < 1 && Math.Abs(steps - Math.Round(steps)) < 1e-9;
    }
    public const int MinProcesses = 1, MaxProcesses = 65536;
    /// <summary>The largest <c>compute.disk_gb</c> (10 TiB); the smallest is anything above 0.</summary>
    public const double MaxDiskGb = 10240;
    public const int MinPriority = -1000, MaxPriority = 1000;
    public const int MinWorkers = 1, MaxWorkers = 64;
    public const int MaxAttempts = 10;
    public const int MaxBackoffSeconds = 3600;
    public const int MaxTimeoutSeconds = 30 * 24 * 3600;
    /// <summary>The largest request body of a job submission, in bytes.</summary>
    public const int MaxSpecBytes = 64 * 1024;
}
