using System.ComponentModel.DataAnnotations;

namespace Strata.Server.Auth;

/// <summary>Token settings (section <c>Auth</c>).</summary>
public sealed class AuthOptions
{
    public const string Section = "Auth";

    /// <summary>The <c>iss</c> of tokens this server issues and accepts.</summary>
    /// <value>The default is <c>strata</c>.</value>
    [Required]
    public string Issuer { get; set; } = "strata";

    /// <summary>The <c>aud</c> of tokens this server issues and accepts.</summary>
    /// <value>The default is <c>strata-api</c>.</value>
    [Required]
    public string Audience { get; set; } = "strata-api";

    /// <summary>Lifetime of the admin token written to the data folder.</summary>
    /// <value>The default is 365 days.</value>
    [Range(1, 3650)]
    public int AdminTokenDays { get; set; } = 365;

    /// <summary>Tolerated clock difference when checking expiry.</summary>
    /// <value>The default is 30 seconds.</value>
    [Range(0, 600)]
    public int ClockSkewSeconds { get; set; } = 30;
}
