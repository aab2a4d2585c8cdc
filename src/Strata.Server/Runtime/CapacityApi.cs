using Microsoft.AspNetCore.Http.HttpResults;
using Strata.Contracts;
using Strata.Core.Runtime;
using Strata.Server.Auth;
using Strata.Server.Queue;

namespace Strata.Server.Runtime;

/// <summary><c>GET /v1/admin/capacity</c>: the runtime's capacity, what is allocated, and how jobs are confined (admin only).</summary>
public static class CapacityApi
{
    public const string Path = "/v1/admin/capacity";

    public static IEndpointRouteBuilder MapCapacityApi(this IEndpointRouteBuilder app)
    {
        app.MapGet(Path, Get).RequireAuthorization(Policies.Admin).WithTags("Monitoring").WithName("GetCapacity")
            .WithSummary("The runtime's capacity, what admitted attempts hold, and whether jobs run in a sandbox (admin).");
        return app;
    }

    internal static Ok<CapacityStatus> Get(IJobRuntime runtime, IRuntimeProfile profile, JobQueue queue)
    {
        var capacity = runtime.Capacity;
        return TypedResults.Ok(new CapacityStatus
        {
            Runtime = runtime.Kind,
            Total = Resources(capacity.Total),
            Source = capacity.Source,
            Allocated = Resources(queue.Allocated),
            MaxWorkersPerJob = capacity.MaxWorkersPerJob,
            Sandbox = profile.Isolation,
            Gpus = profile.GpuDevices,
        });
    }

    private static CapacityResources Resources(ResourceRequest request) => new()
    {
        CpuCores = request.CpuCores,
        MemoryGb = request.MemoryBytes / (double)ResourceRequest.BytesPerGb,
        GpuCount = request.GpuCount,
    };
}
