using System.ComponentModel.DataAnnotations;

namespace Strata.Server.Leadership;

/// <summary>Leader election among server replicas that share one database (section <c>Leadership</c>).</summary>
public sealed class LeadershipOptions
{
    public const string Section = "Leadership";

    /// <summary>
    /// True when several replicas share the database: only the holder of the lease runs the scheduler, the
    /// reconciler and tenant provisioning. False (one server) makes this server the leader at once.
    /// </summary>
    /// <value>The default is false.</value>
    public bool Enabled { get; set; }

    /// <summary>Seconds a lease lasts without renewal; another replica takes over after it expires.</summary>
    /// <value>The default is 15 seconds.</value>
    [Range(2, 3600)]
    public int LeaseSeconds { get; set; } = 15;

    /// <summary>Seconds between renewals (and between a follower's tries); well under <see cref="LeaseSeconds"/>.</summary>
    /// <value>The default is 5 seconds.</value>
    [Range(1, 1200)]
    public int RenewSeconds { get; set; } = 5;

    /// <summary>This replica's name in the lease; null means host name, process id and a random suffix.</summary>
    public string? Identity { get; set; }
}
