using System.Globalization;
using System.Text;
using Strata.Contracts;

namespace Strata.Client;

/// <summary>Options of <see cref="UsageClient.GetAsync"/>.</summary>
public sealed record UsageQuery
{
    /// <summary>Start of the window (inclusive); the server's default (the start of the current month, UTC) when null.</summary>
    public DateTimeOffset? From { get; init; }
    /// <summary>End of the window (exclusive); now when null.</summary>
    public DateTimeOffset? To { get; init; }
    /// <summary>Only this tenant (admins); a tenant's token sees its own tenant whatever this says.</summary>
    public string? Tenant { get; init; }
    /// <summary>How many of the costliest jobs, and of the costliest deployments, to list (0 to 200); the server's default (20) when null.</summary>
    public int? JobLimit { get; init; }
}

/// <summary>Usage and its price: <c>GET /v1/usage</c>.</summary>
public sealed class UsageClient
{
    private readonly StrataClient _client;

    internal UsageClient(StrataClient client) => _client = client;

    /// <summary>
    /// Reserved and used resource-seconds of the attempts that ended in the window and of deployments' replicas
    /// inside it, priced: per tenant (<see cref="TenantUsage.Jobs"/> and <see cref="TenantUsage.Serving"/> apart),
    /// for the costliest jobs and deployments, and per UTC day (<see cref="UsageReport.Days"/>).
    /// </summary>
    /// <exception cref="ValidationException">The window or limit is invalid (from not before to, longer than 366 days, ...).</exception>
    /// <exception cref="ForbiddenException">A tenant's token asked for another tenant, or a job's token asked at all.</exception>
    /// <exception cref="StrataConnectionException">The server could not be reached.</exception>
    public Task<UsageReport> GetAsync(UsageQuery? options = null, CancellationToken cancellationToken = default)
    {
        var query = new StringBuilder("v1/usage");
        var separator = '?';
        void Add(string name, string value)
        {
            query.Append(separator).Append(name).Append('=').Append(Uri.EscapeDataString(value));
            separator = '&';
        }
        if (options?.From is { } from) Add("from", from.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture));
        if (options?.To is { } to) Add("to", to.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture));
        if (options?.Tenant is { Length: > 0 } tenant) Add("tenant", tenant);
        if (options?.JobLimit is { } limit) Add("limit", limit.ToString(CultureInfo.InvariantCulture));
        return _client.SendAsync<UsageReport>(HttpMethod.Get, query.ToString(), null, cancellationToken);
    }
}
