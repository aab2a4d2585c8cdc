namespace Strata.Core.Usage;

/// <summary>What an hour of each resource costs, in <see cref="Currency"/>.</summary>
public sealed record PriceTable(string Currency, decimal CpuCoreHour, decimal MemoryGbHour, decimal GpuHour)
{
    /// <summary>Costs are rounded to this many decimals: sub-cent, so that small jobs do not all cost 0.</summary>
    public const int Decimals = 6;

    /// <summary>The price of <paramref name="usage"/>, rounded to <see cref="Decimals"/> decimals (half away from zero).</summary>
    public decimal Price(ResourceSeconds usage)
    {
        var cost = Hours(usage.CoreSeconds) * CpuCoreHour + Hours(usage.MemoryGbSeconds) * MemoryGbHour + Hours(usage.GpuSeconds) * GpuHour;
        return Math.Round(cost, Decimals, MidpointRounding.AwayFromZero);
    }

    // decimal, not double: sums of many small prices must add up to the cent.
    private static decimal Hours(double seconds) => (decimal)seconds / 3600m;
}
