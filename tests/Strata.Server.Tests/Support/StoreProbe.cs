using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Strata.Server.Storage;

namespace Strata.Server.Tests.Support;

/// <summary>Looks into the app's store for state the API does not show.</summary>
internal static class StoreProbe
{
    /// <summary>True while some attempt of the job still has output to read for metric lines.</summary>
    public static bool LogMetricsPending(this StrataApp app, string jobId)
    {
        using var db = app.Services.GetRequiredService<Store>().CreateContext();
        return db.Attempts.AsNoTracking().Any(a => a.JobId == jobId && a.LogMetricsPending);
    }

    /// <summary>The incarnation of the tenant (what its tokens carry as <c>tenant_uid</c>).</summary>
    public static string TenantUid(this StrataApp app, string tenantId)
    {
        using var db = app.Services.GetRequiredService<Store>().CreateContext();
        return db.Tenants.AsNoTracking().Single(t => t.Id == tenantId).Uid;
    }
}
