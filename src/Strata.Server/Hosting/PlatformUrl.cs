using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace Strata.Server.Hosting;

/// <summary>
/// The URL that what the server starts (jobs' <c>STRATA_API_URL</c>, the model fetch of a deployment's pods) reaches
/// the API at: <see cref="StrataOptions.PublicUrl"/>, else the first address the server listens on.
/// </summary>
public sealed class PlatformUrl(IServer server, IOptions<StrataOptions> strata)
{
    private string? _url;

    /// <summary>The URL, without a trailing slash.</summary>
    public string Value => _url ??= Resolve();

    private string Resolve()
    {
        var url = strata.Value.PublicUrl
            ?? server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
            ?? "http://localhost:8080";
        // A wildcard listen address is not a place to connect to.
        url = url.Replace("://+", "://localhost", StringComparison.Ordinal)
                 .Replace("://*", "://localhost", StringComparison.Ordinal)
                 .Replace("://0.0.0.0", "://127.0.0.1", StringComparison.Ordinal)
                 .Replace("://[::]", "://localhost", StringComparison.Ordinal);
        return url.TrimEnd('/');
    }
}
