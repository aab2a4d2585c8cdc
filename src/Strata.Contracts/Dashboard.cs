namespace Strata.Contracts;

/// <summary>The answer of <c>POST /v1/ui/signin-codes</c>: a one-time code and the dashboard link that redeems it (<c>strata ui</c>).</summary>
public sealed record DashboardSignInCode(string Code, string Url, DateTimeOffset ExpiresAt);
