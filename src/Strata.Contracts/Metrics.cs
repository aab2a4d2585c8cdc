namespace Strata.Contracts;

/// <summary>
/// One measurement a job reports: <c>POST /v1/jobs/training/{id}/metrics</c> (one of these, or an array of
/// them) or a <c>STRATA_METRIC {...}</c> line in its output.
/// </summary>
public sealed record MetricPoint
{
    /// <summary>Letters, digits and <c>_ . - /</c>, such as <c>val/loss</c>.</summary>
    public string? Name { get; init; }
    /// <summary>A finite number.</summary>
    public double? Value { get; init; }
    /// <summary>The training step or epoch, 0 or more; omitted means 0.</summary>
    public long? Step { get; init; }
    /// <summary>When it was measured; omitted means when the server recorded it.</summary>
    public DateTimeOffset? Time { get; init; }
}

/// <summary>The answer to a metrics report.</summary>
public sealed record MetricsRecorded
{
    public required int Recorded { get; init; }
}
