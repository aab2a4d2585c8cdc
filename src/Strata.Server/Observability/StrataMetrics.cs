using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json;
using Strata.Contracts;
using Strata.Core.Deployments;
using Strata.Core.Runtime;
using Strata.Server.Queue;
using Strata.Server.Storage;

namespace Strata.Server.Observability;

/// <summary>
/// The platform's own instruments (meter <c>Strata</c>), exactly those of <c>docs/metrics.md</c>. The
/// Prometheus exporter appends <c>_total</c> to counters and <c>_seconds</c> to instruments in unit
/// <c>s</c>, so counters are named without <c>_total</c> and timings without <c>_seconds</c>.
/// Labels are bounded: tenant ids, job statuses and the closed set of failure reasons, never job ids.
/// Counting is cheap (one <see cref="TagList"/> on the stack): it sits on the submission path.
/// </summary>
public sealed class StrataMetrics
{
    public const string MeterName = "Strata";

    /// <summary>Job durations: 1 s to 24 h.</summary>
    public static readonly double[] JobDurationBuckets = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800, 43200, 86400];
    /// <summary>Scheduling cycles: 0.1 ms to 1 s.</summary>
    public static readonly double[] SchedulerCycleBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

    /// <summary>The failure reasons a label may carry; any other is counted as <c>exited_with_error</c>.</summary>
    private static readonly HashSet<string> FailureReasons =
    [
        StatusReasons.ExitedWithError, StatusReasons.OutOfMemory, StatusReasons.DiskLimitExceeded, StatusReasons.TimedOut, StatusReasons.SupervisorLost, StatusReasons.Evicted, StatusReasons.StartFailed,
        StatusReasons.EnvironmentError,
    ];

    private readonly Counter<long> _jobsCreated;
    private readonly Counter<long> _jobsFinished;
    private readonly Histogram<double> _jobDuration;
    private readonly Counter<long> _jobFailures;
    private readonly Counter<long> _jobRetries;
    private readonly Histogram<double> _cycleDuration;
    private readonly Counter<long> _cycles;
    private readonly Counter<double> _usageCoreSeconds;
    private readonly Counter<double> _usageMemoryGbSeconds;
    private readonly Counter<double> _usageGpuSeconds;
    private readonly Counter<long> _predictionCacheHits;
    private readonly Counter<long> _predictionCacheMisses;
    private readonly Counter<long> _unhandledErrors;
    private readonly JobQueue _queue;
    private readonly TimeProvider _time;
    private readonly Quotas.TenantQuotas? _quotas;
    private readonly IDeploymentRuntime? _deployments;
    private long _lastCycleUnixMs = -1;
    /// <summary>Tenants whose counters exist, at zero for what has not happened yet.</summary>
    private readonly ConcurrentDictionary<string, byte> _countedTenants = new(StringComparer.Ordinal);
    /// <summary>Tenants the gauges have shown: they read 0 once idle rather than vanish (until the tenant is deleted).</summary>
    private readonly ConcurrentDictionary<string, byte> _shownTenants = new(StringComparer.Ordinal);

    /// <param name="quotas">The tenants' quotas, for the quota gauges; without it (unit tests of the other instruments) they report nothing.</param>
    /// <param name="deployments">Where deployments run, for the replica gauge; without it, it reports nothing.</param>
    public StrataMetrics(IMeterFactory meters, JobQueue queue, TimeProvider time, Quotas.TenantQuotas? quotas = null, IDeploymentRuntime? deployments = null,
        IRuntimeProfile? runtime = null)
    {
        _queue = queue;
        _time = time;
        _quotas = quotas;
        _deployments = deployments;
        var meter = meters.Create(MeterName);
        _jobsCreated = meter.CreateCounter<long>("ml_platform_jobs_created", description: "Jobs accepted (201).");
        _jobsFinished = meter.CreateCounter<long>("ml_platform_jobs_finished", description: "Jobs that reached succeeded, failed or cancelled.");
        _jobDuration = meter.CreateHistogram("ml_platform_job_duration", "s", "From a job's first start to its end.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = JobDurationBuckets });
        _jobFailures = meter.CreateCounter<long>("ml_platform_job_failures", description: "Failed attempts by reason, retried or not.");
        _jobRetries = meter.CreateCounter<long>("ml_platform_job_retries", description: "Attempts started again after an infrastructure failure.");
        _cycleDuration = meter.CreateHistogram("ml_platform_scheduler_cycle_duration", "s", "One scheduling cycle.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SchedulerCycleBuckets });
        _cycles = meter.CreateCounter<long>("ml_platform_scheduler_cycles", description: "Scheduling cycles run.");
        _usageCoreSeconds = meter.CreateCounter<double>("ml_platform_usage_core_seconds", description: "Core-seconds of ended attempts, reserved and used (docs/usage.md).");
        _usageMemoryGbSeconds = meter.CreateCounter<double>("ml_platform_usage_memory_gb_seconds", description: "Memory GB-seconds of ended attempts, reserved and used.");
        _usageGpuSeconds = meter.CreateCounter<double>("ml_platform_usage_gpu_seconds", description: "GPU-seconds of ended attempts, reserved and used.");
        _predictionCacheHits = meter.CreateCounter<long>("ml_platform_prediction_cache_hits", description: "Predictions answered from the prediction cache.");
        _predictionCacheMisses = meter.CreateCounter<long>("ml_platform_prediction_cache_misses", description: "Predictions the cache did not hold, answered by a replica.");
        _unhandledErrors = meter.CreateCounter<long>("ml_platform_unhandled_errors", description: "Requests answered 500 by the exception handler of last resort (a bug).");
        // At zero from the start, so that the first one is an increase (the alert UnhandledErrors).
        _unhandledErrors.Add(0);
        if (runtime is not null)
        {
            var isolated = runtime.Isolation.Enabled ? 1 : 0;
            meter.CreateObservableGauge("ml_platform_sandbox_enabled", () => isolated,
                description: "1 when jobs run isolated (a bubblewrap sandbox, or Kubernetes), 0 when they are NOT isolated from the server or each other.");
        }
        meter.CreateObservableGauge("ml_platform_active_jobs", ObserveActiveJobs, description: "Jobs pending or running now.");
        meter.CreateObservableGauge("ml_platform_queue_depth", ObserveQueueDepth, description: "Pending jobs.");
        meter.CreateObservableGauge("ml_platform_oldest_pending_age", ObserveOldestPendingAge, "s", "Age of the tenant's oldest pending job (0 when none).");
        meter.CreateObservableGauge("ml_platform_scheduler_last_cycle_timestamp", ObserveLastCycle, "s", "Unix time of the last scheduling cycle.");
        meter.CreateObservableGauge("ml_platform_quota_limit", ObserveQuotaLimits, description: "A tenant's quota, per resource (cores, GB, GPUs, jobs).");
        meter.CreateObservableGauge("ml_platform_quota_used", ObserveQuotaUsed, description: "What counts against a tenant's quota now, per resource (as GET /v1/quota's used).");
        meter.CreateObservableGauge("ml_platform_deployment_replicas", ObserveDeploymentReplicas,
            description: "A deployment's replicas, desired and ready (as GET /v1/deployments/{name}), and its canary's.");
    }

    /// <summary>A job was accepted.</summary>
    public void JobCreated(string tenantId)
    {
        EnsureCounters(tenantId);
        _jobsCreated.Add(1, new KeyValuePair<string, object?>("tenant", tenantId));
    }

    /// <summary>A job reached a final status: counted, and its duration observed if it ever started.</summary>
    public void JobEnded(JobEnded ended)
    {
        EnsureCounters(ended.TenantId);
        var tags = new TagList { { "tenant", ended.TenantId }, { "status", StatusLabel(ended.Status) } };
        _jobsFinished.Add(1, tags);
        if (ended.StartedAt is { } started)
        {
            _jobDuration.Record(Math.Max(0, (ended.CompletedAt - started).TotalSeconds), tags);
        }
    }

    /// <summary>What recording an attempt's end changed: a failure (retried or not), a retry, the job's end, the usage it recorded.</summary>
    public void AttemptRecorded(string tenantId, string? failureReason, bool retried, JobEnded? ended = null, Core.Usage.AttemptUsage? usage = null)
    {
        EnsureCounters(tenantId);
        if (failureReason is { } reason)
        {
            _jobFailures.Add(1, new TagList { { "tenant", tenantId }, { "reason", FailureReasons.Contains(reason) ? reason : StatusReasons.ExitedWithError } });
        }
        if (retried)
        {
            _jobRetries.Add(1, new KeyValuePair<string, object?>("tenant", tenantId));
        }
        if (ended is { } job)
        {
            JobEnded(job);
        }
        if (usage is not null)
        {
            AddUsage(tenantId, "reserved", usage.Reserved);
            if (usage.Used is { } used) AddUsage(tenantId, "used", used);
        }
    }

    private void AddUsage(string tenantId, string kind, Core.Usage.ResourceSeconds amount)
    {
        var tags = new TagList { { "tenant", tenantId }, { "kind", kind } };
        _usageCoreSeconds.Add(amount.CoreSeconds, tags);
        _usageMemoryGbSeconds.Add(amount.MemoryGbSeconds, tags);
        _usageGpuSeconds.Add(amount.GpuSeconds, tags);
    }

    /// <summary>A prediction was answered from the cache.</summary>
    public void PredictionCacheHit(string tenantId)
    {
        EnsureCounters(tenantId);
        _predictionCacheHits.Add(1, new KeyValuePair<string, object?>("tenant", tenantId));
    }

    /// <summary>A prediction was not in the cache and went to a replica.</summary>
    public void PredictionCacheMiss(string tenantId)
    {
        EnsureCounters(tenantId);
        _predictionCacheMisses.Add(1, new KeyValuePair<string, object?>("tenant", tenantId));
    }

    /// <summary>A request failed with an exception that nothing handled (it was answered 500).</summary>
    public void UnhandledError() => _unhandledErrors.Add(1);

    /// <summary>A scheduling cycle ran (whether or not it had anything to decide).</summary>
    public void SchedulerCycled(TimeSpan duration)
    {
        _cycleDuration.Record(duration.TotalSeconds);
        _cycles.Add(1);
        Volatile.Write(ref _lastCycleUnixMs, _time.GetUtcNow().ToUnixTimeMilliseconds());
    }

    /// <summary>
    /// Creates a tenant's counters at zero for every status and reason, the first time the tenant is
    /// seen: a series that appears at 1 hides its first increase from <c>rate()</c> and <c>increase()</c>,
    /// and panels and alerts would read "no data" rather than 0. A dictionary look-up after the first time.
    /// </summary>
    private void EnsureCounters(string tenantId)
    {
        if (_countedTenants.ContainsKey(tenantId) || !_countedTenants.TryAdd(tenantId, 0)) return;
        var tenant = new KeyValuePair<string, object?>("tenant", tenantId);
        _jobsCreated.Add(0, tenant);
        _jobRetries.Add(0, tenant);
        _predictionCacheHits.Add(0, tenant);
        _predictionCacheMisses.Add(0, tenant);
        foreach (var status in (ReadOnlySpan<string>)["succeeded", "failed", "cancelled"])
        {
            _jobsFinished.Add(0, tenant, new("status", status));
        }
        foreach (var reason in FailureReasons)
        {
            _jobFailures.Add(0, tenant, new("reason", reason));
        }
        foreach (var kind in (ReadOnlySpan<string>)["reserved", "used"])
        {
            _usageCoreSeconds.Add(0, tenant, new("kind", kind));
            _usageMemoryGbSeconds.Add(0, tenant, new("kind", kind));
            _usageGpuSeconds.Add(0, tenant, new("kind", kind));
        }
    }

    /// <summary>A deleted tenant leaves the gauges (its counters stay until the server restarts).</summary>
    public void TenantDeleted(string tenantId)
    {
        _shownTenants.TryRemove(tenantId, out _);
        _countedTenants.TryRemove(tenantId, out _);
    }

    /// <summary>The label of a status, as the API spells it (<c>succeeded</c>, ...), without allocating.</summary>
    public static string StatusLabel(JobStatus status) => status switch
    {
        JobStatus.Pending => "pending",
        JobStatus.Running => "running",
        JobStatus.Succeeded => "succeeded",
        JobStatus.Failed => "failed",
        JobStatus.Cancelled => "cancelled",
        _ => JsonNamingPolicy.SnakeCaseLower.ConvertName(status.ToString()),
    };

    /// <summary>The queue per tenant, with every tenant shown before and idle now at zero.</summary>
    private Dictionary<string, TenantQueueSummary> Summarize()
    {
        var summary = _queue.SummarizeByTenant();
        foreach (var tenant in summary.Keys) _shownTenants.TryAdd(tenant, 0);
        foreach (var tenant in _shownTenants.Keys) summary.TryAdd(tenant, default);
        foreach (var tenant in _countedTenants.Keys) summary.TryAdd(tenant, default);
        return summary;
    }

    private IEnumerable<Measurement<long>> ObserveActiveJobs()
    {
        foreach (var (tenant, summary) in Summarize())
        {
            yield return new Measurement<long>(summary.Pending, new("tenant", tenant), new("status", "pending"));
            yield return new Measurement<long>(summary.Running, new("tenant", tenant), new("status", "running"));
        }
    }

    private IEnumerable<Measurement<long>> ObserveQueueDepth()
    {
        foreach (var (tenant, summary) in Summarize())
        {
            yield return new Measurement<long>(summary.Pending, new KeyValuePair<string, object?>("tenant", tenant));
        }
    }

    private IEnumerable<Measurement<double>> ObserveOldestPendingAge()
    {
        var now = _time.GetUtcNow();
        foreach (var (tenant, summary) in Summarize())
        {
            var age = summary.OldestWaitingSince is { } since ? Math.Max(0, (now - since).TotalSeconds) : 0;
            yield return new Measurement<double>(age, new KeyValuePair<string, object?>("tenant", tenant));
        }
    }

    private IEnumerable<Measurement<double>> ObserveQuotaLimits() => ObserveQuota(usage => usage.Limit);

    private IEnumerable<Measurement<double>> ObserveQuotaUsed() => ObserveQuota(usage => usage.Used);

    /// <summary>Every known tenant, every resource of <c>GET /v1/quota</c>: a tenant with nothing running reads 0, not "no data".</summary>
    private IEnumerable<Measurement<double>> ObserveQuota(Func<QuotaUsage, double> value)
    {
        if (_quotas is null) yield break;
        foreach (var (tenant, entry) in _quotas.All)
        {
            var status = Quotas.QuotaMapping.ToStatus(tenant, entry.Quota, _queue.QuotaUse(tenant));
            foreach (var (resource, usage) in status.Resources)
            {
                yield return new Measurement<double>(value(usage), new("tenant", tenant), new("resource", resource));
            }
        }
    }

    /// <summary>
    /// Per deployment the runtime runs: <c>desired</c> and <c>ready</c> as <c>GET /v1/deployments/{name}</c> counts
    /// them (the main version's replicas, a rollout's old version included), and while a canary is set
    /// <c>canary_desired</c> and <c>canary_ready</c>. From the server, so that "no ready replica" does not
    /// depend on scraping the replicas themselves.
    /// </summary>
    private IEnumerable<Measurement<long>> ObserveDeploymentReplicas()
    {
        if (_deployments is null) yield break;
        foreach (var key in _deployments.Deployments())
        {
            if (_deployments.Observe(key) is not { } observed) continue;
            var tenant = new KeyValuePair<string, object?>("tenant", key.TenantId);
            var deployment = new KeyValuePair<string, object?>("deployment", key.Name);
            var canaryReady = observed.Canary is { } canary ? observed.Ready.Count(r => r.ModelVersion == canary.ModelVersion) : 0;
            yield return new Measurement<long>(observed.DesiredReplicas, tenant, deployment, new("state", "desired"));
            yield return new Measurement<long>(observed.Ready.Count - canaryReady, tenant, deployment, new("state", "ready"));
            if (observed.Canary is { } split)
            {
                yield return new Measurement<long>(split.DesiredReplicas, tenant, deployment, new("state", "canary_desired"));
                yield return new Measurement<long>(canaryReady, tenant, deployment, new("state", "canary_ready"));
            }
        }
    }

    private IEnumerable<Measurement<double>> ObserveLastCycle()
    {
        var last = Volatile.Read(ref _lastCycleUnixMs);
        if (last >= 0) yield return new Measurement<double>(last / 1000.0);
    }
}
