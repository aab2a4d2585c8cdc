using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Options;
using Strata.Contracts;
using Strata.Core.Deployments;
using Strata.Core.Jobs;
using Strata.Server.Auth;
using Strata.Server.Idempotency;
using Strata.Server.Models;
using Strata.Server.Problems;
using Strata.Server.Storage;

namespace Strata.Server.Deployments;

/// <summary>A stored deployment and what its runtime observes, as the API (and the dashboard) show it.</summary>
public static class DeploymentMapping
{
    public static Deployment ToContract(DeploymentRecord record, IDeploymentRuntime runtime)
    {
        var observed = runtime.Observe(new DeploymentKey(record.TenantId, record.Name));
        // The canary's replicas are counted apart; during a rollout the main ones include the old version's.
        var main = observed?.Ready.Where(r => r.ModelVersion != record.CanaryModelVersion).ToList() ?? [];
        var ready = main.Count;
        var desired = observed?.DesiredReplicas ?? record.MinReplicas;
        var current = main.All(r => r.ModelVersion == record.ModelVersion);
        DeploymentCanaryStatus? canary = null;
        if (record.CanaryModelVersion is { } canaryVersion)
        {
            canary = new DeploymentCanaryStatus
            {
                Model = record.CanaryModelRef!,
                ModelVersion = canaryVersion,
                Weight = record.CanaryWeight!.Value,
                DesiredReplicas = CanaryTarget.ReplicasFor(desired, record.CanaryWeight.Value),
                ReadyReplicas = observed?.Ready.Count(r => r.ModelVersion == canaryVersion) ?? 0,
            };
            current &= canary.ReadyReplicas >= canary.DesiredReplicas;
        }
        var events = JsonSerializer.Deserialize<List<DeploymentEvent>>(record.EventsJson, StrataJson.Options) ?? [];
        if (observed is not null)
        {
            events.AddRange(observed.Events.Select(e => new DeploymentEvent { Time = e.Time, Reason = e.Reason, Message = e.Message }));
        }
        return new Deployment
        {
            Name = record.Name,
            Model = record.ModelRef,
            ModelName = record.ModelName,
            ModelVersion = record.ModelVersion,
            PreviousModelVersion = record.PreviousModelVersion,
            Canary = canary,
            Status = ready == 0 ? DeploymentStatuses.Pending : ready >= desired && current ? DeploymentStatuses.Ready : DeploymentStatuses.Progressing,
            Compute = new DeploymentCompute { CpuCores = record.CpuCores, MemoryGb = record.MemoryGb },
            MinReplicas = record.MinReplicas,
            MaxReplicas = record.MaxReplicas,
            Scaling = new DeploymentScaling { Mode = record.ScalingMode, TargetInFlight = record.TargetInFlight, TargetCpuPercent = record.TargetCpuPercent },
            DesiredReplicas = desired,
            ReadyReplicas = ready,
            EndpointUrl = $"/v1/deployments/{record.Name}/predict",
            CreatedAt = record.CreatedAt,
            UpdatedAt = record.UpdatedAt,
            Events = [.. events.OrderBy(e => e.Time)],
        };
    }
}
