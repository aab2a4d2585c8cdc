using Microsoft.AspNetCore.Http.HttpResults;
using Strata.Contracts;
using Strata.Core.Runtime;
using Strata.Server.Auth;
using Strata.Server.Runtime.Local.Sandbox;
using Strata.Server.Scheduling;

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

    internal static Ok<CapacityStatus> Get(IJobRuntime runtime, JobQueue queue, IServiceProvider services)
    {
        var capacity = runtime.Capacity;
        return TypedResults.Ok(new CapacityStatus
        {
            Runtime = runtime.Kind,
            Total = Resources(capacity.Total),
            Allocated = Resources(queue.Allocated),
            MaxWorkersPerJob = capacity.MaxWorkersPerJob,
            Sandbox = Isolation(runtime, services.GetService<LocalSandbox>()),
        });
    }

    /// <summary>How the runtime confines jobs: the local sandbox's state, or Kubernetes' namespaces.</summary>
    public static SandboxStatus Isolation(IJobRuntime runtime, LocalSandbox? sandbox) => sandbox is null
        ? new SandboxStatus { Enabled = true, Mode = runtime.Kind }
        : new SandboxStatus
        {
            Enabled = sandbox.Enabled,
            Mode = sandbox.Enabled ? SandboxOptions.Bwrap : SandboxOptions.None,
            Reason = sandbox.Why,
            Network = sandbox.Enabled ? sandbox.Network : null,
            SeparateUsers = sandbox.SeparateUsers,
        };

    private static CapacityResources Resources(ResourceRequest request) => new()
    {
        CpuCores = request.CpuCores,
        MemoryGb = request.MemoryBytes / (double)ResourceRequest.BytesPerGb,
        GpuCount = request.Gpus,
    };
}
