using Strata.Contracts;

namespace Strata.Server.Auth;

/// <summary>
/// Issues model-fetch tokens (<see cref="Roles.ModelFetch"/>): what a deployment's pod holds, in a Secret, to download
/// its model with <c>strata-worker fetch</c> (docs/kubernetes.md, "Model delivery"). Such a token reads one model's
/// versions and files in one tenant incarnation and nothing else; it dies with the tenant, as every tenant token
/// does, or at its expiry. There is no route that issues one: it is a deployment's credential, made by the server
/// for the runtime that delivers the model.
/// </summary>
public sealed class ModelFetchTokens(TokenIssuer issuer)
{
    /// <summary>A token that reads the versions and files of <paramref name="model"/> in <paramref name="tenant"/>, for <paramref name="lifetime"/>.</summary>
    public (string Token, DateTimeOffset ExpiresAt) Issue(TenantIncarnation tenant, string model, TimeSpan lifetime) =>
        issuer.Issue($"{tenant.TenantId}/{model}-fetch", Roles.ModelFetch, tenant, lifetime, model: model);
}
