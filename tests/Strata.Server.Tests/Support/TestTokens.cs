using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Strata.Server.Tests.Support;

/// <summary>Builds tokens the way an attacker or a misconfigured client would, to prove the server refuses them.</summary>
public static class TestTokens
{
    public const string Issuer = "strata";
    public const string Audience = "strata-api";

    /// <summary>
    /// A signed HS256 token with Strata's claims. Every part can be bent: the key, the issuer, the
    /// audience, the lifetime, and any claim (<paramref name="claims"/> are added, or replace the defaults). Without
    /// <paramref name="tenantUid"/> (the tenant's incarnation, <c>StoreProbe.TenantUid</c>) the server refuses it.
    /// </summary>
    public static string Create(
        byte[] key,
        string tenant,
        string role = "member",
        string issuer = Issuer,
        string audience = Audience,
        DateTime? notBefore = null,
        DateTime? expires = null,
        IReadOnlyDictionary<string, object>? claims = null,
        string? tenantUid = null)
    {
        var now = DateTime.UtcNow;
        var handler = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false };
        var all = new Dictionary<string, object> { ["sub"] = "forged", ["role"] = role, ["tenant"] = tenant };
        if (tenantUid is not null) all["tenant_uid"] = tenantUid;
        foreach (var (name, value) in claims ?? new Dictionary<string, object>()) all[name] = value;
        return handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            IssuedAt = (notBefore ?? now.AddMinutes(-1)),
            NotBefore = notBefore ?? now.AddMinutes(-1),
            Expires = expires ?? now.AddHours(1),
            Claims = all,
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(key) { KeyId = "strata-hs256" }, SecurityAlgorithms.HmacSha256),
        });
    }

    /// <summary>A key that is not the server's.</summary>
    public static byte[] OtherKey() => RandomNumberGenerator.GetBytes(64);

    /// <summary>An unsigned token (<c>alg: none</c>) with otherwise valid claims.</summary>
    public static string UnsignedToken(string tenant, string role = "member")
    {
        var now = DateTimeOffset.UtcNow;
        var header = Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes("{\"alg\":\"none\",\"typ\":\"JWT\"}"));
        var payload = Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(
            $"{{\"sub\":\"forged\",\"role\":\"{role}\",\"tenant\":\"{tenant}\",\"iss\":\"{Issuer}\",\"aud\":\"{Audience}\"," +
            $"\"nbf\":{now.AddMinutes(-1).ToUnixTimeSeconds()},\"iat\":{now.AddMinutes(-1).ToUnixTimeSeconds()},\"exp\":{now.AddHours(1).ToUnixTimeSeconds()}}}"));
        return $"{header}.{payload}.";
    }
}
