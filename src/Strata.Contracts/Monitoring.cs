namespace Strata.Contracts;

/// <summary>
/// One group of Prometheus' HTTP service discovery (<c>http_sd_configs</c>), as
/// <c>GET /v1/admin/prometheus/replicas</c> lists them: the <c>host:port</c> targets to scrape and the labels
/// Prometheus gives every series scraped from them (label names are Prometheus', kept as they are).
/// </summary>
public sealed record PrometheusTargetGroup
{
    public required IReadOnlyList<string> Targets { get; init; }
    public required IReadOnlyDictionary<string, string> Labels { get; init; }
}
