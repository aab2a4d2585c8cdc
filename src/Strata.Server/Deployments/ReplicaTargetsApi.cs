using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Strata.Contracts;
using Strata.Core.Deployments;
using Strata.Server.Auth;

namespace Strata.Server.Deployments;

/// <summary>
/// The replicas of every deployment as Prometheus' HTTP service discovery reads them (docs/metrics.md, "Replica
/// metrics"). A replica's own <c>/metrics</c> labels its series <c>model_name</c> and <c>version</c> only; the
/// discovery adds which tenant and deployment it serves, so that Prometheus can tell them apart. It lists every
/// tenant's deployments, so only an admin or a metrics reader (the token Prometheus authenticates with) reads it.
/// </summary>
public static class ReplicaTargetsApi
{
    public const string Path = "/v1/admin/prometheus/replicas";

    public static IEndpointRouteBuilder MapReplicaTargetsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet(Path, List).RequireAuthorization(Policies.MetricsRead).WithTags("Monitoring").WithName("ListReplicaScrapeTargets")
            .WithSummary("Every replica of every deployment, ready or starting, as Prometheus http_sd targets labelled tenant, deployment, model_name, version and replica (admin or metrics-reader).");
        return app;
    }

    /// <summary>One group per replica (each has its own version and id), ordered by tenant, deployment and replica.</summary>
    internal static Ok<List<PrometheusTargetGroup>> List(IDeploymentRuntime runtime)
    {
        var groups = new List<(DeploymentKey Key, ReplicaEndpoint Replica, string ModelName)>();
        foreach (var key in runtime.Deployments())
        {
            if (runtime.Observe(key) is not { } observed) continue;
            groups.AddRange(observed.Ready.Concat(observed.Starting).Select(replica => (key, replica, observed.ModelName)));
        }
        return TypedResults.Ok(groups
            .OrderBy(g => g.Key.TenantId, StringComparer.Ordinal).ThenBy(g => g.Key.Name, StringComparer.Ordinal).ThenBy(g => g.Replica.Id, StringComparer.Ordinal)
            .Select(g => new PrometheusTargetGroup
            {
                Targets = [(g.Replica.MetricsAddress ?? g.Replica.Address).Authority],
                Labels = new Dictionary<string, string>(StringComparer.Ordinal)
                {
                    ["__metrics_path__"] = "/metrics",
                    ["tenant"] = g.Key.TenantId,
                    ["deployment"] = g.Key.Name,
                    ["model_name"] = g.ModelName,
                    ["version"] = g.Replica.ModelVersion.ToString(CultureInfo.InvariantCulture),
                    ["replica"] = g.Replica.Id,
                },
            })
            .ToList());
    }
}
