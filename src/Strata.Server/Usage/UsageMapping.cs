using Strata.Contracts;
using Strata.Core.Usage;
using Strata.Server.Storage;

namespace Strata.Server.Usage;

/// <summary>Between usage values of Strata.Core, stored attempts and the API's resources.</summary>
public static class UsageMapping
{
    public static ResourceSecondsInfo ToContract(ResourceSeconds value) => new()
    {
        CoreSeconds = value.CoreSeconds,
        MemoryGbSeconds = value.MemoryGbSeconds,
        GpuSeconds = value.GpuSeconds,
    };

    public static RightSizingHintInfo[] ToContract(IReadOnlyList<RightSizingHint> hints) =>
        hints.Count == 0 ? [] : hints.Select(h => new RightSizingHintInfo
        {
            Resource = h.Resource,
            Requested = h.Requested,
            Used = h.Used,
            Suggested = h.Suggested,
            Message = h.Message,
        }).ToArray();

    public static UsageCost Cost(PriceTable prices, ResourceSeconds reserved, ResourceSeconds used) =>
        new() { Reserved = prices.Price(reserved), Used = prices.Price(used) };

    /// <summary>An ended attempt's usage as stored with it; null while it has not ended.</summary>
    public static AttemptUsageInfo? AttemptUsage(AttemptRecord attempt) =>
        attempt.WallSeconds is not { } wall ? null : new AttemptUsageInfo
        {
            WallSeconds = wall,
            Reserved = ToContract(new ResourceSeconds(attempt.ReservedCoreSeconds ?? 0, attempt.ReservedMemoryGbSeconds ?? 0, attempt.ReservedGpuSeconds ?? 0)),
            Used = attempt.UsedCoreSeconds is { } core
                ? ToContract(new ResourceSeconds(core, attempt.UsedMemoryGbSeconds ?? 0, attempt.UsedGpuSeconds ?? 0))
                : null,
        };
}
