namespace Strata.Client;

/// <summary>
/// How a <see cref="StrataClient"/> retries and how long it waits. Every call is bounded by
/// <see cref="Deadline"/> (retries included) and by the caller's <see cref="CancellationToken"/>; a
/// different bound for some calls is <see cref="StrataClient.WithOptions"/>. See docs/client-retries.md.
/// </summary>
public sealed record StrataClientOptions
{
    /// <summary>The default number of attempts of one call, the first included: 4.</summary>
    public const int DefaultMaxAttempts = 4;

    /// <summary>The default deadline of one call, its retries and their waits included: 60 seconds.</summary>
    public static readonly TimeSpan DefaultDeadline = TimeSpan.FromSeconds(60);

    /// <summary>The default bound of one attempt, until the response's headers arrive: 30 seconds.</summary>
    public static readonly TimeSpan DefaultAttemptTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The default base of the exponential backoff: 0.5 seconds.</summary>
    public static readonly TimeSpan DefaultBaseDelay = TimeSpan.FromMilliseconds(500);

    /// <summary>The default cap of one backoff wait (not of a server's <c>Retry-After</c>): 10 seconds.</summary>
    public static readonly TimeSpan DefaultMaxDelay = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Attempts of one call, the first included; 1 turns retries off. <value>The default is 4 attempts.</value>
    /// </summary>
    public int MaxAttempts { get; init; } = DefaultMaxAttempts;

    /// <summary>
    /// The most one call may take, its attempts and the waits between them included; past it the call throws
    /// <see cref="StrataConnectionException"/> (a <see cref="TimeoutException"/> inside). A retry whose wait would
    /// end after the deadline is not made: the last answer is thrown as it is. <value>The default is 60 seconds.</value>
    /// </summary>
    public TimeSpan Deadline { get; init; } = DefaultDeadline;

    /// <summary>
    /// The most one attempt may wait for the response's headers (a streamed log is not bounded once it
    /// flows). <value>The default is 30 seconds.</value>
    /// </summary>
    public TimeSpan AttemptTimeout { get; init; } = DefaultAttemptTimeout;

    /// <summary>
    /// The base of the backoff: before retry n (1, 2, ...) the client waits a random time in
    /// <c>[0, min(MaxDelay, BaseDelay × 2^(n-1))]</c> (full jitter), unless the server said <c>Retry-After</c>.
    /// <value>The default is 0.5 seconds.</value>
    /// </summary>
    public TimeSpan BaseDelay { get; init; } = DefaultBaseDelay;

    /// <summary>The cap of one backoff wait. <value>The default is 10 seconds.</value></summary>
    public TimeSpan MaxDelay { get; init; } = DefaultMaxDelay;

    /// <summary>The clock of the waits and the deadline (tests pass a fake one). <value>The default is the system's.</value></summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>The jitter's random source: a number in [0, 1). <value>The default is <see cref="Random.Shared"/>.</value></summary>
    public Func<double> Random { get; init; } = System.Random.Shared.NextDouble;

    /// <exception cref="ArgumentException">A value is out of its range.</exception>
    internal void Validate()
    {
        if (MaxAttempts is < 1 or > 100) throw new ArgumentException("MaxAttempts must be 1 to 100.", nameof(MaxAttempts));
        if (Deadline <= TimeSpan.Zero) throw new ArgumentException("Deadline must be positive.", nameof(Deadline));
        if (AttemptTimeout <= TimeSpan.Zero) throw new ArgumentException("AttemptTimeout must be positive.", nameof(AttemptTimeout));
        if (BaseDelay < TimeSpan.Zero || MaxDelay < TimeSpan.Zero) throw new ArgumentException("BaseDelay and MaxDelay must not be negative.", nameof(BaseDelay));
        ArgumentNullException.ThrowIfNull(TimeProvider);
        ArgumentNullException.ThrowIfNull(Random);
    }
}
