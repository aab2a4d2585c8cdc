using Strata.Core.Jobs;
using Strata.Core.Tracking;

namespace Strata.Server.Problems;

/// <summary>
/// The largest request body of each kind of route, in bytes: the table "Requests" of docs/limits.md.
/// Every route that reads a body reads it through <see cref="JsonBody"/> with one of these, so that a
/// body over its limit is a 413 problem however it is sent (with a <c>Content-Length</c> or chunked).
/// Uploads (<c>POST /v1/artifacts</c>) stream with their own limit, <c>Artifacts:MaxUploadBytes</c>.
/// </summary>
public static class BodyLimits
{
    /// <summary>Any other request body: Kestrel's server-wide limit (1 MiB).</summary>
    public const int Default = 1024 * 1024;
    /// <summary>A training job spec (64 KiB).</summary>
    public const int JobSpec = JobLimits.MaxSpecBytes;
    /// <summary>Tenant and token requests (16 KiB).</summary>
    public const int Tenants = 16 * 1024;
    /// <summary>A tenant's quota (16 KiB).</summary>
    public const int Quotas = 16 * 1024;
    /// <summary>Deployment requests (64 KiB).</summary>
    public const int Deployments = 64 * 1024;
    /// <summary>Registry requests: models, versions, aliases (512 KiB).</summary>
    public const int Registry = 512 * 1024;
    /// <summary>A compute recommendation request (4 KiB): three fields.</summary>
    public const int Recommendations = 4 * 1024;
    /// <summary>A metric report (256 KiB).</summary>
    public const int MetricReport = MetricLimits.MaxReportBytes;
    /// <summary>A prediction request, forwarded to a replica (16 MiB): the only JSON route above <see cref="Default"/>.</summary>
    public const int Predict = 16 * 1024 * 1024;
}
