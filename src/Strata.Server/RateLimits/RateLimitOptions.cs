using System.ComponentModel.DataAnnotations;

namespace Strata.Server.RateLimits;

/// <summary>
/// Per-tenant API rate limits (section <c>RateLimits</c>; docs/limits.md): a token bucket per tenant
/// that holds <see cref="Burst"/> requests and refills <see cref="TokensPerPeriod"/> every
/// <see cref="PeriodSeconds"/>. Read at start.
/// </summary>
public sealed class RateLimitOptions
{
    public const string Section = "RateLimits";

    /// <summary>When false no request is limited.</summary>
    /// <value>The default is true.</value>
    public bool Enabled { get; set; } = true;

    /// <summary>The bucket's size: requests a tenant may send at once after a quiet spell.</summary>
    /// <value>The default is 200.</value>
    [Range(1, 1_000_000)]
    public int Burst { get; set; } = 200;

    /// <summary>Requests added to the bucket every <see cref="PeriodSeconds"/>.</summary>
    /// <value>The default is 100, with a period of 1 second: 100 requests a second, sustained.</value>
    [Range(1, 1_000_000)]
    public int TokensPerPeriod { get; set; } = 100;

    /// <summary>How often the bucket is refilled, in seconds.</summary>
    /// <value>The default is 1.</value>
    [Range(0.01, 86400)]
    public double PeriodSeconds { get; set; } = 1;

    /// <summary>Limits of particular tenants, by tenant id; what a tenant's entry omits takes the values above.</summary>
    public Dictionary<string, TenantRateLimit> Tenants { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The limits of <paramref name="tenantId"/>: its own entry over the defaults.</summary>
    public (int Burst, int TokensPerPeriod, TimeSpan Period) For(string tenantId)
    {
        var own = Tenants.GetValueOrDefault(tenantId);
        return (own?.Burst ?? Burst, own?.TokensPerPeriod ?? TokensPerPeriod, TimeSpan.FromSeconds(own?.PeriodSeconds ?? PeriodSeconds));
    }

    /// <summary>The errors of the per-tenant entries (data annotations do not reach into a dictionary).</summary>
    public IEnumerable<string> TenantErrors()
    {
        foreach (var (tenant, limit) in Tenants)
        {
            if (limit.Burst is < 1 or > 1_000_000) yield return $"{Section}:Tenants:{tenant}:Burst must be 1 to 1000000.";
            if (limit.TokensPerPeriod is < 1 or > 1_000_000) yield return $"{Section}:Tenants:{tenant}:TokensPerPeriod must be 1 to 1000000.";
            if (limit.PeriodSeconds is < 0.01 or > 86400) yield return $"{Section}:Tenants:{tenant}:PeriodSeconds must be 0.01 to 86400.";
        }
    }
}

/// <summary>One tenant's own rate limit; null members take the defaults.</summary>
public sealed class TenantRateLimit
{
    public int? Burst { get; set; }
    public int? TokensPerPeriod { get; set; }
    public double? PeriodSeconds { get; set; }
}
