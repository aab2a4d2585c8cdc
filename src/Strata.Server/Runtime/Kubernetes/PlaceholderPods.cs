using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using k8s.Models;
using Microsoft.Extensions.Options;
using Strata.Contracts;
using Strata.Core.Runtime;
using Strata.Core.Scheduling;
using Strata.Server.Queue;

namespace Strata.Server.Runtime.Kubernetes;

/// <summary>What one placeholder pass did.</summary>
public sealed record PlaceholderPass(int Wanted, int Created, int Deleted);

/// <summary>
/// Makes the queue's demand visible to the cluster autoscaler, which sees pods, not Strata's queue. For the jobs that
/// wait for capacity, whole gangs in queue order and at most <see cref="KubernetesRuntimeOptions.MaxPlaceholders"/>
/// pods, it keeps one pod per worker in the platform namespace, sized as the worker (its requests, GPUs and GPU node
/// selector), running a pause image under a PriorityClass of negative priority: they do nothing, any real pod
/// preempts them, and the autoscaler adds nodes for them while they are pending. Level-triggered (every
/// <see cref="KubernetesRuntimeOptions.PlaceholderSeconds"/>, on the leader): the missing ones are applied, the others
/// deleted (their job started, was cancelled or waits for something else); a restarted server finds its placeholders
/// by their label and keeps those still wanted. Placeholders do not count against the capacity (<see cref="ClusterCapacity"/>):
/// once a node they brought is up, the job fits, is admitted, and its placeholders go.
/// </summary>
public sealed class PlaceholderPods(
    ClusterApi api,
    JobQueue queue,
    IOptions<KubernetesRuntimeOptions> options,
    TimeProvider time,
    ILogger<PlaceholderPods> logger) : BackgroundService
{
    public const string Container = "placeholder";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await queue.Loaded.WaitAsync(stoppingToken);
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.PlaceholderSeconds), time);
        do
        {
            try
            {
                var pass = await ConvergeAsync(stoppingToken);
                if (pass.Created > 0 || pass.Deleted > 0)
                {
                    logger.LogInformation("Placeholder pods for jobs waiting for capacity: {Wanted} wanted, {Created} created, {Deleted} deleted", pass.Wanted, pass.Created, pass.Deleted);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "The placeholder pass failed; the next one retries");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>One pass: the placeholders the queue wants now, applied where missing; every other one deleted.</summary>
    public async Task<PlaceholderPass> ConvergeAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var wanted = Wanted(queue, settings).ToDictionary(p => p.Metadata.Name, StringComparer.Ordinal);
        var existing = (await api.ListPodsAsync(settings.PlatformNamespace, KubernetesNames.PlaceholdersSelector, cancellationToken)).Items;
        var deleted = 0;
        foreach (var pod in existing.Where(p => !wanted.ContainsKey(p.Metadata.Name)))
        {
            await api.DeletePodNowAsync(pod.Metadata.Name, settings.PlatformNamespace, cancellationToken);
            deleted++;
        }
        var created = 0;
        var present = existing.Select(p => p.Metadata.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var (name, pod) in wanted)
        {
            // A pod's spec cannot change: a placeholder's name says its size, so one that is there is as wanted.
            if (present.Contains(name)) continue;
            if (await api.ApplyAsync(pod, cancellationToken) is null)
            {
                logger.LogWarning("The platform namespace {Namespace} does not exist: no placeholder pods for jobs waiting for capacity", settings.PlatformNamespace);
                break;
            }
            created++;
        }
        return new PlaceholderPass(wanted.Count, created, deleted);
    }

    /// <summary>One pod per worker of the jobs waiting for capacity, whole gangs in queue order, while the cap allows.</summary>
    public static IEnumerable<V1Pod> Wanted(JobQueue queue, KubernetesRuntimeOptions options)
    {
        var left = options.MaxPlaceholders;
        foreach (var job in queue.Snapshot())
        {
            if (job.Workers > left || queue.Describe(job.JobId).Reason != PendingReason.WaitingForCapacity) continue;
            left -= job.Workers;
            var perWorker = ResourceRequest.WithMilliGpus(job.Request.CpuCores / job.Workers, job.Request.MemoryBytes / job.Workers, job.Request.MilliGpus / job.Workers);
            for (var worker = 0; worker < job.Workers; worker++) yield return Pod(job, perWorker, worker, options);
        }
    }

    /// <summary>
    /// The placeholder of one worker: <c>strata-placeholder-&lt;job id&gt;-&lt;size&gt;-&lt;worker&gt;</c>, where the size is a
    /// short hash of what it asks for, so that a job retried with more memory gets new placeholders instead of a change.
    /// </summary>
    public static V1Pod Pod(PendingJob job, ResourceRequest perWorker, int worker, KubernetesRuntimeOptions options)
    {
        var placement = JobManifests.Placement(perWorker, job.GpuType, options);
        var size = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join(",",
            placement.Resources.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => r.Key + "=" + r.Value)) + "|" + job.GpuType)))[..8];
        return new V1Pod
        {
            ApiVersion = "v1",
            Kind = "Pod",
            Metadata = new V1ObjectMeta
            {
                Name = $"strata-placeholder-{job.JobId}-{size}-{worker.ToString(CultureInfo.InvariantCulture)}",
                NamespaceProperty = options.PlatformNamespace,
                Labels = new Dictionary<string, string>(StringComparer.Ordinal)
                {
                    [KubernetesNames.ManagedByLabel] = KubernetesNames.ManagedByValue,
                    [KubernetesNames.PlaceholderLabel] = "true",
                    [KubernetesNames.TenantLabel] = job.TenantId,
                    [KubernetesNames.JobIdLabel] = job.JobId,
                },
                // A pod that no controller owns would keep the cluster autoscaler from removing its node; this one holds nothing.
                Annotations = new Dictionary<string, string>(StringComparer.Ordinal) { ["cluster-autoscaler.kubernetes.io/safe-to-evict"] = "true" },
            },
            Spec = new V1PodSpec
            {
                PriorityClassName = options.PlaceholderPriorityClass,
                // Preempted or deleted at once: it holds no work.
                TerminationGracePeriodSeconds = 0,
                AutomountServiceAccountToken = false,
                EnableServiceLinks = false,
                NodeSelector = placement.NodeSelector,
                Tolerations = placement.Tolerations,
                SecurityContext = new V1PodSecurityContext
                {
                    RunAsNonRoot = true,
                    RunAsUser = 65535,
                    SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
                },
                Containers =
                [
                    new V1Container
                    {
                        Name = Container,
                        Image = options.PlaceholderImage,
                        Resources = new V1ResourceRequirements
                        {
                            Requests = placement.Resources,
                            Limits = new Dictionary<string, ResourceQuantity>(placement.Resources, StringComparer.Ordinal),
                        },
                        SecurityContext = new V1SecurityContext
                        {
                            AllowPrivilegeEscalation = false,
                            ReadOnlyRootFilesystem = true,
                            Capabilities = new V1Capabilities { Drop = ["ALL"] },
                        },
                    },
                ],
            },
        };
    }
}
