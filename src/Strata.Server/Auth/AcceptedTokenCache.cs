using System.Collections.Concurrent;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Strata.Server.Auth;

/// <summary>
/// The JWT handler of the API, which remembers the tokens it accepted for a minute: a client sends the
/// same token with every request, and checking it again (decoding, the signature, building the claims)
/// was a tenth of the work of a forwarded prediction. A token string is its signed content, so a token
/// accepted once stays acceptable until it expires; a remembered one is dropped at its expiry (with the
/// clock skew), as the full check would drop it. Revocation does not go through this check: a deleted
/// tenant's tokens, and those of an earlier tenant under the same id, are refused after it (AuthSetup, on
/// every request), and a new signing key means a restart.
/// </summary>
public sealed class AcceptedTokenCache : JsonWebTokenHandler
{
    private const int MaxTokens = 10_000;
    private static readonly TimeSpan KeepFor = TimeSpan.FromMinutes(1);
    private readonly ConcurrentDictionary<string, (TokenValidationResult Result, DateTime Until)> _accepted = new(StringComparer.Ordinal);

    public override async Task<TokenValidationResult> ValidateTokenAsync(string token, TokenValidationParameters validationParameters)
    {
        // The lifetime check below reads the system clock, not the server's TimeProvider; so does this.
        var now = DateTime.UtcNow;
        if (_accepted.TryGetValue(token, out var known) && now < known.Until) return known.Result;
        var result = await base.ValidateTokenAsync(token, validationParameters);
        if (result.IsValid && result.SecurityToken is { } accepted)
        {
            // Bounded: a flood of distinct tokens only costs the full check again.
            if (_accepted.Count >= MaxTokens) _accepted.Clear();
            var expires = accepted.ValidTo + validationParameters.ClockSkew;
            _accepted[token] = (result, expires < now + KeepFor ? expires : now + KeepFor);
        }
        return result;
    }
}
