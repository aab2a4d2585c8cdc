using System.ComponentModel.DataAnnotations;
using Strata.Core.Usage;

namespace Strata.Server.Usage;

/// <summary>Prices and right-sizing settings of usage accounting (section <c>Usage</c>; docs/usage.md).</summary>
public sealed class UsageOptions
{
    public const string Section = "Usage";
    public const int DefaultHintMinSeconds = 60;
    public const int DefaultReplicaCheckpointSeconds = 60;

    /// <summary>The price table.</summary>
    [Required]
    public UsagePriceOptions Prices { get; set; } = new();

    /// <summary>Wall time a job must have been measured for before it gets right-sizing hints.</summary>
    /// <value>The default is 60 seconds: shorter runs are dominated by their start-up.</value>
    [Range(0, 86400)]
    public int HintMinSeconds { get; set; } = DefaultHintMinSeconds;

    /// <summary>
    /// How often a running replica's usage is stored: a server that dies loses at most this much of each
    /// replica's usage.
    /// </summary>
    /// <value>The default is 60 seconds.</value>
    [Range(1, 3600)]
    public int ReplicaCheckpointSeconds { get; set; } = DefaultReplicaCheckpointSeconds;

    public PriceTable PriceTable() => new(Prices.Currency, Prices.CpuCoreHour, Prices.MemoryGbHour, Prices.GpuHour);
}

/// <summary>
/// What an hour of each resource costs. The defaults are in the range of a public cloud's on-demand
/// prices (2025), so that a fresh server shows plausible figures; set your own.
/// </summary>
public sealed class UsagePriceOptions
{
    /// <summary>An ISO 4217 code, shown beside every cost.</summary>
    /// <value>The default is USD.</value>
    [Required, RegularExpression("^[A-Z]{3}$", ErrorMessage = "Usage:Prices:Currency must be a three-letter ISO 4217 code such as USD.")]
    public string Currency { get; set; } = "USD";

    /// <summary>One core for one hour.</summary>
    /// <value>The default is 0.04.</value>
    [Range(typeof(decimal), "0", "1000000")]
    public decimal CpuCoreHour { get; set; } = 0.04m;

    /// <summary>One GB of memory for one hour.</summary>
    /// <value>The default is 0.005.</value>
    [Range(typeof(decimal), "0", "1000000")]
    public decimal MemoryGbHour { get; set; } = 0.005m;

    /// <summary>One GPU for one hour.</summary>
    /// <value>The default is 2.5.</value>
    [Range(typeof(decimal), "0", "1000000")]
    public decimal GpuHour { get; set; } = 2.5m;
}
