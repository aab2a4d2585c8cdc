using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Strata.Contracts;
using Strata.Core.Deployments;
using Strata.Server.Auth;
using Strata.Server.Deployments;
using Strata.Server.Storage;

namespace Strata.Server.Dashboard;

/// <summary>
/// Live updates of the deployment pages (docs/dashboard.md). A page carries a stamp of what it shows (a hash of each
/// deployment's status, replicas, versions, canary and events); <c>GET /ui/events/deployments?stamp=…[&amp;name=…]</c>
/// compares the tenant's deployments with it once a second and sends a <c>deployment</c> event whenever the stamp
/// changes. The page's script then fetches the page again and swaps in its live parts: the server renders the HTML,
/// as it does for the job page's charts, so no markup is written twice.
/// </summary>
public static class DeploymentEvents
{
    // Half the jobs list's rate: a deployment changes over seconds (replicas start, a rollout goes on), and these
    // streams stay open as long as the page does, since a deployment never ends the way a job does.
    private static readonly TimeSpan Poll = TimeSpan.FromSeconds(1);

    /// <summary>
    /// What a page of <paramref name="deployments"/> shows, hashed. The last 15 minutes' predictions are not in it:
    /// under load they change every second, and they are refreshed with the rest.
    /// </summary>
    public static string Stamp(IEnumerable<Deployment> deployments)
    {
        var text = new StringBuilder();
        foreach (var d in deployments)
        {
            text.Append(CultureInfo.InvariantCulture,
                $"{d.Name}|{d.Status}|{d.ReadyReplicas}/{d.DesiredReplicas}|{d.ModelVersion}|{d.PreviousModelVersion}|{d.UpdatedAt:O}|{d.Events.Count}|{d.Events.LastOrDefault()?.Time:O}");
            if (d.Canary is { } canary)
            {
                text.Append(CultureInfo.InvariantCulture, $"|canary {canary.ModelVersion} {canary.Weight:R} {canary.ReadyReplicas}/{canary.DesiredReplicas}");
            }
            text.Append('\n');
        }
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())), 0, 8);
    }

    /// <summary>The tenant's deployments as a page shows them, by name; only the one named when there is a name.</summary>
    public static async Task<List<Deployment>> ReadAsync(Store store, IDeploymentRuntime runtime, string tenantId, string? name, CancellationToken cancellationToken)
    {
        await using var db = store.CreateContext();
        var rows = db.Deployments.AsNoTracking().Where(d => d.TenantId == tenantId);
        if (name is not null) rows = rows.Where(d => d.Name == name);
        var records = await rows.OrderBy(d => d.Name).ToListAsync(cancellationToken);
        return records.Select(r => DeploymentMapping.ToContract(r, runtime)).ToList();
    }

    /// <summary>
    /// <c>GET /ui/events/deployments?stamp=…</c> for the list, with <c>&amp;name=…</c> for one deployment (a 404 when the
    /// tenant has none of that name: another tenant's is not watched).
    /// </summary>
    public static async Task StreamAsync(HttpContext context, Store store, IDeploymentRuntime runtime, CancellationToken cancellationToken)
    {
        if (context.Caller().TenantId is not { } tenantId)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        var name = context.Request.Query["name"].FirstOrDefault() is { Length: > 0 } named ? named : null;
        var seen = context.Request.Query["stamp"].FirstOrDefault() ?? "";
        try
        {
            var deployments = await ReadAsync(store, runtime, tenantId, name, cancellationToken);
            if (name is not null && deployments.Count == 0)
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }
            context.Response.ContentType = "text/event-stream";
            context.Response.Headers.CacheControl = "no-store";
            // The headers go at once, so that the page knows the stream is open before anything changes.
            await context.Response.Body.FlushAsync(cancellationToken);
            while (true)
            {
                var stamp = Stamp(deployments);
                if (stamp != seen)
                {
                    seen = stamp;
                    await context.Response.WriteAsync($"event: deployment\ndata: {stamp}\n\n", cancellationToken);
                    await context.Response.Body.FlushAsync(cancellationToken);
                }
                await Task.Delay(Poll, cancellationToken);
                deployments = await ReadAsync(store, runtime, tenantId, name, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The page went away.
        }
    }
}
