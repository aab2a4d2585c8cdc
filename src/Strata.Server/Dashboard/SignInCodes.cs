using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Strata.Server.Dashboard;

/// <summary>
/// One-time sign-in codes for <c>strata ui</c>: a code stands for the token that asked for it, for a minute, and
/// works once. Kept in this server's memory (docs/dashboard.md): a code is redeemed at the server that minted it.
/// </summary>
public sealed class SignInCodes(TimeProvider time)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(60);

    private readonly ConcurrentDictionary<string, (string Token, DateTimeOffset ExpiresAt)> _codes = new(StringComparer.Ordinal);

    public (string Code, DateTimeOffset ExpiresAt) Mint(string token)
    {
        var now = time.GetUtcNow();
        // Expired codes never redeemed go with the next mint, so the table stays as small as the minute's codes.
        foreach (var (code, entry) in _codes)
        {
            if (entry.ExpiresAt <= now) _codes.TryRemove(code, out _);
        }
        var fresh = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        var expiresAt = now + Lifetime;
        _codes[fresh] = (token, expiresAt);
        return (fresh, expiresAt);
    }

    /// <summary>The token a live code stands for; the code is spent either way.</summary>
    public string? Redeem(string code) =>
        _codes.TryRemove(code, out var entry) && entry.ExpiresAt > time.GetUtcNow() ? entry.Token : null;
}
