using Microsoft.Extensions.Options;
using Strata.Contracts;
using Strata.Core.Deployments;
using Strata.Server.Runtime.Local;

namespace Strata.Server.Runtime.Kubernetes;

/// <summary>
/// The platform's in-flight autoscaler on Kubernetes (leader only: one writer of each scale). Every second, for each
/// deployment in mode <c>in_flight</c>, it sizes the main Deployment from the requests in flight on its ready replicas,
/// as the router counts them (<see cref="StabilizedReplicas"/>, the same windows as the local runtime's), and writes the
/// scale subresource; in mode <c>cpu</c> the HPA does that instead. Each canary is then kept at its share of the main
/// replicas (<see cref="CanaryTarget.ReplicasFor"/>), in both modes. The requests counted are the leader's: with several
/// servers behind a load balancer, each routes its own share (docs/kubernetes.md, "Model deployments").
/// </summary>
public sealed class DeploymentAutoscaler(
    KubernetesDeploymentRuntime runtime, IReplicaLoad load, IOptions<LocalDeploymentOptions> options, TimeProvider time, ILogger<DeploymentAutoscaler> logger)
    : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);
    private readonly Dictionary<DeploymentKey, StabilizedReplicas> _autoscalers = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await PassAsync(stoppingToken);
                await Task.Delay(Interval, time, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "An autoscaling pass over the model deployments failed; trying again");
                await Task.Delay(Interval, time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <summary>One pass over every deployment the watches show.</summary>
    public async Task PassAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var views = runtime.ScalingViews();
        foreach (var gone in _autoscalers.Keys.Where(k => views.All(v => v.Key != k)).ToList()) _autoscalers.Remove(gone);
        foreach (var view in views)
        {
            var replicas = view.Replicas;
            if (view.Mode == ScalingModes.InFlight)
            {
                if (!_autoscalers.TryGetValue(view.Key, out var autoscaler))
                {
                    _autoscalers[view.Key] = autoscaler = new StabilizedReplicas(
                        TimeSpan.FromSeconds(options.Value.ScaleUpStabilizationSeconds), TimeSpan.FromSeconds(options.Value.ScaleDownStabilizationSeconds));
                }
                var inFlight = view.ReadyReplicas.Sum(load.InFlight);
                var desired = autoscaler.Next(inFlight, view.TargetInFlight, view.MinReplicas, view.MaxReplicas, replicas, now);
                if (desired != replicas)
                {
                    logger.LogInformation("Deployment {Deployment}: {Before} → {After} replicas ({InFlight} requests in flight, target {Target} per replica)",
                        view.Key, replicas, desired, inFlight, view.TargetInFlight);
                    await runtime.ScaleAsync(DeploymentManifests.ObjectName(view.Key.Name, ReplicaTrack.Main), view.Namespace, desired, cancellationToken);
                    replicas = desired;
                }
            }
            if (view.CanaryWeight is { } weight && CanaryTarget.ReplicasFor(replicas, weight) is var canaryReplicas && canaryReplicas != view.CanaryReplicas)
            {
                await runtime.ScaleAsync(DeploymentManifests.ObjectName(view.Key.Name, ReplicaTrack.Canary), view.Namespace, canaryReplicas, cancellationToken);
            }
        }
    }
}
