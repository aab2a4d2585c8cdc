using System.Collections.Concurrent;
using System.Net;
using System.Runtime.CompilerServices;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Options;
using Strata.Contracts;
using Strata.Core.Runtime;

namespace Strata.Server.Runtime.Kubernetes;

/// <summary>
/// Runs each attempt as a <c>batch/v1</c> Job in its tenant's namespace (an Indexed Job with a headless
/// Service when distributed; see <see cref="JobManifests"/>). Everything is named after the attempt, so
/// starting is idempotent (a 409 means the Job is there already) and a restarted server finds its Jobs by
/// listing them. State comes from a watch (<see cref="JobWatcher"/>), never from polling each Job.
/// </summary>
public sealed class KubernetesJobRuntime : IJobRuntime, IRuntimeProfile, IDisposable
{
    private readonly ClusterApi _api;
    private readonly JobWatcher _watcher;
    private readonly ClusterCapacity _cluster;
    private readonly TenantProvisioner _provisioner;
    private readonly KubernetesRuntimeOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<KubernetesJobRuntime> _logger;
    /// <summary>Jobs this server deleted to stop them: their deletion is a stop, not a loss.</summary>
    private readonly ConcurrentDictionary<string, byte> _stopped = new(StringComparer.Ordinal);
    /// <summary>How failed Jobs ended, read once from their pods (keyed by the Job's name), until collected.</summary>
    private readonly ConcurrentDictionary<string, PodEvidence> _evidence = new(StringComparer.Ordinal);
    /// <summary>The capacity of the <c>Capacity*</c> settings: used until (and unless) the cluster's is known.</summary>
    private readonly RuntimeCapacity _configured;

    public KubernetesJobRuntime(
        ClusterApi api, JobWatcher watcher, ClusterCapacity cluster, TenantProvisioner provisioner, IOptions<KubernetesRuntimeOptions> options, TimeProvider time, ILogger<KubernetesJobRuntime> logger)
    {
        _api = api;
        _watcher = watcher;
        _cluster = cluster;
        _provisioner = provisioner;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _configured = new RuntimeCapacity(
            ResourceRequest.FromGb(_options.CapacityCpuCores, _options.CapacityMemoryGb, _options.CapacityGpus),
            _options.MaxWorkersPerJob,
            // A share of a GPU (compute.gpu_fraction) needs a time-slicing device plugin; not supported yet.
            SharesGpus: false,
            Environments: JobManifests.EnvironmentRules(_options),
            Source: CapacitySources.Configuration);
    }

    public string Kind => KubernetesNames.RuntimeKind;

    /// <summary>
    /// What the cluster leaves free (<see cref="ClusterCapacity"/>) once it is known, else the <c>Capacity*</c> settings.
    /// A job is checked at submission against the larger of the settings and the nodes' allocatable: the cluster
    /// autoscaler may add the nodes it waits for (<see cref="PlaceholderPods"/>).
    /// </summary>
    public RuntimeCapacity Capacity => _cluster.Current is { } cluster
        ? _configured with { Total = cluster.Free, Ceiling = Larger(_configured.Total, cluster.Allocatable), Source = CapacitySources.Cluster }
        : _configured;

    public string Description => $"{Kind} runtime";

    public int DefaultCpuCores => _options.DefaultCpuCores;

    public int DefaultMemoryGb => _options.DefaultMemoryGb;

    /// <summary>Each tenant's jobs run in its own namespace.</summary>
    public SandboxStatus Isolation => new() { Enabled = true, Mode = Kind };

    public string IsolationDescription => $"{Kind} (each tenant's namespace)";

    public RuntimeInfo Describe(AttemptRef attempt) => KubernetesNames.Describe(attempt);

    public async Task<RuntimeInfo> StartAsync(JobLaunch launch, CancellationToken cancellationToken)
    {
        var attempt = launch.Attempt;
        var desired = JobManifests.Job(launch, _options);
        try
        {
            var job = await ApplyAsync(desired, launch, cancellationToken);
            if (job is null)
            {
                // The tenant's namespace is not there yet (a new tenant, or one the last pass has not reached).
                await _provisioner.ProvisionAsync(attempt.TenantId, cancellationToken);
                job = await ApplyAsync(desired, launch, cancellationToken)
                    ?? throw new RuntimeStartException($"the namespace {KubernetesNames.Namespace(attempt.TenantId)} does not exist");
            }
            var owner = JobManifests.OwnerOf(job);
            // The token's Secret was applied before the Job, so that no pod starts without it; now the Job owns it.
            if (JobManifests.TokenSecret(launch, owner) is { } secret) await _api.ApplyAsync(secret, cancellationToken);
            if (launch.NumWorkers > 1)
            {
                await _api.ApplyAsync(JobManifests.HeadlessService(attempt, owner), cancellationToken);
                await _api.ApplyAsync(JobManifests.WorkersPolicy(attempt, owner), cancellationToken);
            }
        }
        catch (ApplyConflictException e)
        {
            throw new RuntimeStartException($"Kubernetes kept another manager's fields of the attempt's objects: {e.Message}", e);
        }
        catch (HttpOperationException e) when (!ClusterApi.IsTransient(e))
        {
            // Refused for good: invalid, forbidden (over the namespace's quota, a Pod Security violation).
            throw new RuntimeStartException($"Kubernetes refused the attempt's Job, its Secret or its checkpoint claim ({(int)e.Response.StatusCode}): {ClusterApi.StatusMessage(e)}", e);
        }
        return Describe(attempt);
    }

    /// <summary>
    /// The job's checkpoint claim first (when it has one; a later attempt finds it there and keeps it), then the
    /// attempt's token Secret, then its Job, whose pods mount the claim and read the Secret; null when the tenant's
    /// namespace does not exist.
    /// </summary>
    private async Task<V1Job?> ApplyAsync(V1Job desired, JobLaunch launch, CancellationToken cancellationToken)
    {
        var attempt = launch.Attempt;
        if (_options.CheckpointVolumeGb > 0
            && await _api.ApplyAsync(JobManifests.CheckpointClaim(attempt.TenantId, attempt.JobId, _options), cancellationToken) is null)
        {
            return null;
        }
        // Owner-less until the Job exists: a server that stops in between leaves a Secret whose token is refused
        // once the attempt is over (a job token is valid only while its attempt runs).
        if (JobManifests.TokenSecret(launch, owner: null) is { } secret && await _api.ApplyAsync(secret, cancellationToken) is null) return null;
        try
        {
            return (await _api.ApplyAsync(desired, cancellationToken))?.Item;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.UnprocessableEntity)
        {
            // Invalid as a new Job is a refusal; as a change to the attempt's Job that is there, built by a server
            // configured otherwise (another default image, say), it is the pod template's immutability: the attempt
            // runs as it was started.
            if (await _api.ReadJobAsync(desired.Metadata.Name, desired.Metadata.NamespaceProperty, cancellationToken) is not { } existing) throw;
            _logger.LogWarning("Job {Job} differs from what this server would build for its attempt, and cannot change ({Message}); it runs as it was created",
                desired.Metadata.Name, ClusterApi.StatusMessage(e));
            return existing;
        }
    }

    public async Task StopAsync(AttemptRef attempt, CancellationToken cancellationToken)
    {
        var name = KubernetesNames.JobName(attempt);
        _stopped[name] = 0;
        await _api.DeleteJobAsync(name, KubernetesNames.Namespace(attempt.TenantId), cancellationToken);
    }

    /// <summary>A fresh list of every Job Strata has not collected yet (one call for all tenants).</summary>
    public async Task<IReadOnlyList<AttemptObservation>> ListAsync(CancellationToken cancellationToken)
    {
        var jobs = await _api.ListJobsAsync(cancellationToken);
        var observations = new List<AttemptObservation>(jobs.Items.Count);
        foreach (var job in jobs.Items)
        {
            if (await ObserveAsync(job, cancellationToken) is { } observation) observations.Add(observation);
        }
        return observations;
    }

    public async IAsyncEnumerable<AttemptObservation> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var change in _watcher.Events.ReadAllAsync(cancellationToken))
        {
            var observation = change.Type == WatchEventType.Deleted
                ? Vanished(change.Job)
                : await ObserveAsync(change.Job, cancellationToken);
            if (observation is not null) yield return observation;
        }
    }

    /// <summary>
    /// The log of the attempt's pod of rank <see cref="LogOptions.Rank"/> (its completion index; a job of one
    /// worker has rank 0 only) from the cluster's <c>pods/log</c>, or every rank's interleaved with <c>[rank N]</c>
    /// prefixes (<see cref="RankLogs"/>); null while no container of those ranks has started. Kubernetes applies the
    /// tail (per rank) and follows the log itself.
    /// </summary>
    public async Task<Stream?> OpenLogAsync(AttemptRef attempt, LogOptions options, CancellationToken cancellationToken)
    {
        var ns = KubernetesNames.Namespace(attempt.TenantId);
        var pods = await _api.ListPodsAsync(ns, KubernetesNames.AttemptSelector(attempt), cancellationToken);
        var byRank = RankLogs.PodsByRank(pods.Items);
        if (options.Rank != LogOptions.AllRanks)
        {
            if (!byRank.TryGetValue(options.Rank, out var pod)) return null;
            return await _api.OpenPodLogAsync(pod, ns, KubernetesNames.TrainingContainer, options.Follow, options.TailLines, timestamps: false, cancellationToken);
        }
        var logs = new List<(int Rank, Stream Log)>();
        try
        {
            foreach (var (rank, pod) in byRank)
            {
                // With timestamps, so that the ranks' lines can be put in the order they were written.
                if (await _api.OpenPodLogAsync(pod, ns, KubernetesNames.TrainingContainer, options.Follow, options.TailLines, timestamps: true, cancellationToken) is { } log)
                {
                    logs.Add((rank, log));
                }
            }
        }
        catch
        {
            foreach (var (_, log) in logs) await log.DisposeAsync();
            throw;
        }
        if (logs.Count == 0) return null;
        return options.Follow ? RankLogs.Follow(logs, cancellationToken) : await RankLogs.MergeAsync(logs, cancellationToken);
    }

    /// <summary>
    /// Marks a finished Job collected, so that it is no longer listed or watched; its pods and their logs stay
    /// until the Job's time-to-live ends. With <paramref name="discardLogs"/> (the job is gone) the Job and the
    /// job's checkpoint claim are deleted now.
    /// </summary>
    public async Task ForgetAsync(AttemptRef attempt, bool discardLogs, CancellationToken cancellationToken)
    {
        var name = KubernetesNames.JobName(attempt);
        var ns = KubernetesNames.Namespace(attempt.TenantId);
        _evidence.TryRemove(name, out _);
        if (discardLogs)
        {
            // The job itself is gone: its checkpoints go with it.
            _stopped[name] = 0;
            await _api.DeleteJobAsync(name, ns, cancellationToken);
            await _api.DeleteClaimAsync(KubernetesNames.CheckpointClaimName(attempt.JobId), ns, cancellationToken);
        }
        else
        {
            await _api.LabelJobAsync(name, ns, new Dictionary<string, string> { [KubernetesNames.CollectedLabel] = "true" }, cancellationToken);
        }
    }

    public void Dispose()
    {
        _watcher.Dispose();
        _cluster.Dispose();
    }

    private static ResourceRequest Larger(ResourceRequest a, ResourceRequest b) => ResourceRequest.WithMilliGpus(
        Math.Max(a.CpuCores, b.CpuCores), Math.Max(a.MemoryBytes, b.MemoryBytes), Math.Max(a.MilliGpus, b.MilliGpus));

    /// <summary>What a Job says about its attempt; null for a Job that is not an attempt of Strata's.</summary>
    private async Task<AttemptObservation?> ObserveAsync(V1Job job, CancellationToken cancellationToken)
    {
        if (KubernetesNames.AttemptOf(job.Metadata) is not { } attempt) return null;
        var status = job.Status;
        var startedAt = ToOffset(status?.StartTime);
        var finished = JobStatusReading.Finished(job);
        if (finished is null)
        {
            return new AttemptObservation { Attempt = attempt, StartedAt = startedAt };
        }
        var (succeeded, condition) = finished.Value;
        var finishedAt = ToOffset(status?.CompletionTime) ?? ToOffset(condition.LastTransitionTime) ?? _time.GetUtcNow();
        if (succeeded)
        {
            return new AttemptObservation { Attempt = attempt, Outcome = new AttemptOutcome.Succeeded { ExitCode = 0 }, StartedAt = startedAt, FinishedAt = finishedAt };
        }
        var evidence = condition.Reason == "DeadlineExceeded" ? null : await EvidenceOfAsync(job, attempt, cancellationToken);
        return new AttemptObservation
        {
            Attempt = attempt,
            Outcome = JobStatusReading.Classify(condition, evidence),
            StartedAt = startedAt,
            FinishedAt = finishedAt,
        };
    }

    /// <summary>A Job deleted before it finished: stopped when this server deleted it, else lost (and retried).</summary>
    private AttemptObservation? Vanished(V1Job job)
    {
        if (KubernetesNames.AttemptOf(job.Metadata) is not { } attempt) return null;
        var name = job.Metadata.Name;
        var stopped = _stopped.TryRemove(name, out _);
        // A finished or collected Job leaving the watch is old news: its end was reported already.
        if (JobStatusReading.Finished(job) is not null || job.Metadata.Labels?.ContainsKey(KubernetesNames.CollectedLabel) == true) return null;
        return stopped
            ? new AttemptObservation { Attempt = attempt, Outcome = new AttemptOutcome.Stopped { Message = "its Job was deleted to stop it" }, FinishedAt = _time.GetUtcNow() }
            : new AttemptObservation { Attempt = attempt, Outcome = new AttemptOutcome.SupervisorLost { Message = $"its Job {name} was deleted outside Strata" }, FinishedAt = _time.GetUtcNow() };
    }

    /// <summary>How the Job's pods ended; read once per Job, null when the pods cannot be read.</summary>
    private async Task<PodEvidence?> EvidenceOfAsync(V1Job job, AttemptRef attempt, CancellationToken cancellationToken)
    {
        var name = job.Metadata.Name;
        if (_evidence.TryGetValue(name, out var known)) return known;
        try
        {
            var pods = await _api.ListPodsAsync(job.Metadata.NamespaceProperty, KubernetesNames.AttemptSelector(attempt), cancellationToken);
            var evidence = JobStatusReading.Evidence(pods.Items);
            // Pods that say nothing yet may still be read again; once they have spoken, later reads must agree.
            if (!evidence.IsEmpty) _evidence[name] = evidence;
            return evidence;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Forbidden)
        {
            _logger.LogWarning("Cannot read the pods of {Job}: {Message}", job.Metadata.Name, ClusterApi.StatusMessage(e));
            return null;
        }
    }

    private static DateTimeOffset? ToOffset(DateTime? time) =>
        time is { } t ? new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc)) : null;
}
