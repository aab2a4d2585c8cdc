using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Strata.Core.Runtime;
using Strata.Server.Hosting;

namespace Strata.Server.Auth;

/// <summary>
/// Issues and checks Strata's HS256 tokens. The key is generated on first start and kept in the data
/// folder (mode 0600), so tokens survive restarts; deleting the file revokes every token.
/// </summary>
public sealed class TokenIssuer
{
    private const int KeyBytes = 64;
    private readonly AuthOptions _options;
    private readonly TimeProvider _time;
    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };

    public TokenIssuer(DataFolder data, IOptions<AuthOptions> options, TimeProvider time)
    {
        _options = options.Value;
        _time = time;
        SigningKey = new SymmetricSecurityKey(LoadOrCreateKey(data.SigningKey)) { KeyId = "strata-hs256" };
        ValidationParameters = new TokenValidationParameters
        {
            ValidIssuer = _options.Issuer,
            ValidAudience = _options.Audience,
            IssuerSigningKey = SigningKey,
            ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
            ValidateIssuer = true,
            ValidateAudience = true,
            ValidateLifetime = true,
            ValidateIssuerSigningKey = true,
            RequireExpirationTime = true,
            RequireSignedTokens = true,
            ClockSkew = TimeSpan.FromSeconds(_options.ClockSkewSeconds),
            NameClaimType = "sub",
            RoleClaimType = StrataClaims.Role,
        };
    }

    public SymmetricSecurityKey SigningKey { get; }

    public TokenValidationParameters ValidationParameters { get; }

    /// <summary>Issues a token. <paramref name="tenant"/> is null only for admins.</summary>
    /// <param name="tenant">The tenant and its incarnation: the token is refused once that incarnation is deleted (AuthSetup).</param>
    /// <param name="attempt">For a job's token: the attempt it is valid for, and only while that attempt is live (AuthSetup).</param>
    /// <param name="model">For a model-fetch token: the one model of the tenant it reads (<see cref="ModelFetchTokens"/>).</param>
    public (string Token, DateTimeOffset ExpiresAt) Issue(string subject, string role, TenantIncarnation? tenant, TimeSpan lifetime, AttemptRef? attempt = null, string? model = null)
    {
        var now = _time.GetUtcNow();
        var expires = now + lifetime;
        var claims = new Dictionary<string, object>
        {
            ["sub"] = subject,
            [StrataClaims.Role] = role,
            ["jti"] = Guid.NewGuid().ToString("N"),
        };
        if (tenant is { } t)
        {
            claims[StrataClaims.Tenant] = t.TenantId;
            claims[StrataClaims.TenantUid] = t.Uid;
        }
        if (attempt is { } a)
        {
            claims[StrataClaims.Job] = a.JobId;
            claims[StrataClaims.Attempt] = a.Number;
        }
        if (model is not null)
        {
            claims[StrataClaims.Model] = model;
        }
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = _options.Issuer,
            Audience = _options.Audience,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = expires.UtcDateTime,
            Claims = claims,
            SigningCredentials = new SigningCredentials(SigningKey, SecurityAlgorithms.HmacSha256),
        };
        return (_handler.CreateToken(descriptor), DateTimeOffset.FromUnixTimeSeconds(expires.ToUnixTimeSeconds()));
    }

    /// <summary>True when <paramref name="token"/> is one this server would accept now.</summary>
    public async Task<bool> IsValidAsync(string token)
    {
        var result = await _handler.ValidateTokenAsync(token, ValidationParameters);
        return result.IsValid;
    }

    private static byte[] LoadOrCreateKey(string path)
    {
        if (File.Exists(path))
        {
            var key = Convert.FromBase64String(File.ReadAllText(path).Trim());
            if (key.Length >= 32)
            {
                return key;
            }
        }
        var fresh = RandomNumberGenerator.GetBytes(KeyBytes);
        DataFolder.WriteSecret(path, Convert.ToBase64String(fresh));
        return fresh;
    }
}
