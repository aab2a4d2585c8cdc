using System.ComponentModel.DataAnnotations;

namespace Strata.Server.Jobs;

/// <summary>Defaults and limits of training jobs (section <c>Jobs</c>; the settings an attempt's start reads are <c>Attempts.AttemptOptions</c>', its retention <c>Retention.RetentionOptions</c>').</summary>
public sealed class JobsOptions
{
    public const string Section = "Jobs";
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 200;

    /// <summary>Cores of a job that names none; null means the runtime's default (local: 1, Kubernetes: the seed's 4).</summary>
    [Range(1, 96)]
    public int? DefaultCpuCores { get; set; }

    /// <summary>Memory in GB of a job that names none; null means the runtime's default (local: 2, Kubernetes: the seed's 16).</summary>
    [Range(1, 768)]
    public int? DefaultMemoryGb { get; set; }

    /// <summary>Attempts of a job that names no retry policy.</summary>
    /// <value>The default is 3.</value>
    [Range(1, 10)]
    public int DefaultMaxAttempts { get; set; } = Core.Jobs.JobDefaults.DefaultMaxAttempts;
}
