namespace Strata.Server.Attempts;

/// <summary>
/// The random source of the retry backoff's full jitter: Core's <see cref="Core.Attempts.AttemptPolicy"/> takes one
/// sample per decision and stays pure. Tests may replace it with a seeded one.
/// </summary>
public class RetryJitter(Random? random = null)
{
    private readonly Random _random = random ?? Random.Shared;

    /// <summary>A sample in [0, 1).</summary>
    public virtual double Next() => _random.NextDouble();
}
