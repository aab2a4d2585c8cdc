using System.Text.Json;

namespace Strata.Contracts;

/// <summary>The lifecycle states of a training job (the seed course's five).</summary>
public enum JobStatus
{
    Pending,
    Running,
    Succeeded,
    Failed,
    /// <summary>Cancelled while an attempt ran: its processes are being stopped. It becomes <see cref="Cancelled"/> once the runtime says they are gone.</summary>
    Cancelling,
    /// <summary>Terminal: cancelled, and nothing of it runs any more.</summary>
    Cancelled,
}

/// <summary>The values of <see cref="ComputeSpec.Type"/>.</summary>
public static class ComputeTypes
{
    public const string Cpu = "cpu";
    public const string Gpu = "gpu";
    public const string Tpu = "tpu";
    public static readonly IReadOnlyList<string> All = [Cpu, Gpu, Tpu];
}

/// <summary>Compute asked for one worker of a job. Omitted fields take the server's defaults.</summary>
public sealed record ComputeSpec
{
    /// <summary><c>cpu</c>, <c>gpu</c> or <c>tpu</c>; see <see cref="ComputeTypes"/>.</summary>
    public string? Type { get; init; }
    /// <summary>Whole cores, 1 to 96.</summary>
    public int? CpuCores { get; init; }
    /// <summary>Memory in GB, 1 to 768.</summary>
    public int? MemoryGb { get; init; }
    /// <summary>GPUs, 1 to 8; only with type <c>gpu</c>.</summary>
    public int? GpuCount { get; init; }
    /// <summary>A GPU model such as <c>nvidia-a100</c>; a node selector on Kubernetes.</summary>
    public string? GpuType { get; init; }
    /// <summary>
    /// A share of one GPU, time-sliced with other jobs: more than 0 and less than 1, in steps of 0.05 (0.25, 0.5).
    /// Implies one device (<c>gpu_count</c> 1 or left out) and one worker; counts as that share in capacity and
    /// quota. The local runtime only (docs/gpus.md).
    /// </summary>
    public double? GpuFraction { get; init; }
    /// <summary>
    /// Processes (threads included) the job may have at once, 1 to 65,536; the default is 4,096. A fork
    /// beyond it fails inside the job (the cgroup <c>pids</c> controller).
    /// </summary>
    public int? MaxProcesses { get; init; }
    /// <summary>
    /// Disk in GB the job may fill: its working folder, its checkpoint folder and its local model output
    /// folder together; more than 0, at most 10,240; the default is 20. Beyond it the attempt is stopped
    /// with <c>disk_limit_exceeded</c>.
    /// </summary>
    public double? DiskGb { get; init; }
}

/// <summary>Distributed training: the number of workers (PyTorch DDP conventions), admitted all or none.</summary>
public sealed record DistributedSpec
{
    public int? NumWorkers { get; init; }
}

/// <summary>Retries of failed attempts, by the failure's class (docs/retries.md).</summary>
public sealed record RetrySpec
{
    /// <summary>Attempts in all, the first included: 1 to 10. The default is 3.</summary>
    public int? MaxAttempts { get; init; }
    /// <summary>Seconds before the first retry, doubled for each further one and capped at 300. The default is 10.</summary>
    public int? Backoff { get; init; }
    /// <summary>
    /// The base of the backoff before a retry, in seconds: the wait is a random time up to
    /// <c>min(300, backoff_seconds × 2^n)</c> (full jitter). An alias of <see cref="Backoff"/>, which it overrides.
    /// </summary>
    public int? BackoffSeconds { get; init; }
    /// <summary>Exit codes that mean the infrastructure failed (a flaky mount, a lost peer): retried. At most 32, 1 to 255.</summary>
    public List<int>? RetryOnExitCodes { get; init; }
    /// <summary>Exit codes that mean the job's own error: never retried, even when listed in <see cref="RetryOnExitCodes"/>. At most 32, 1 to 255.</summary>
    public List<int>? FailOnExitCodes { get; init; }
    /// <summary>What an attempt stopped at its <c>timeout_seconds</c> leads to: <c>fail</c> (the default) or <c>retry</c>.</summary>
    public string? OnTimeout { get; init; }
    /// <summary>The factor an out-of-memory attempt's <c>memory_gb</c> grows by for its retry: 1 to 4. The default is 1.5.</summary>
    public double? MemoryGrowth { get; init; }
}

/// <summary>
/// The Python a job runs with (docs/environments.md). Any of <see cref="Requirements"/>, <see cref="Python"/> and
/// <see cref="SystemSitePackages"/> gives the job a virtual environment of its own, built once per content and
/// tenant and reused by later jobs; <c>python</c> in the job then means that environment's.
/// </summary>
public sealed record EnvironmentSpec
{
    /// <summary>
    /// What pip installs: a file of the job's code (<c>"requirements.txt"</c>, a relative path), or a list of
    /// requirement strings (<c>["pandas==2.2.2", "scikit-learn"]</c>).
    /// </summary>
    public JsonElement? Requirements { get; init; }
    /// <summary>The interpreter the environment is made from: an absolute path inside a configured data root. The default is the server's (<c>Runtime:Local:Python</c>).</summary>
    public string? Python { get; init; }
    /// <summary>The machine's own packages (Debian's <c>python3-*</c>) are visible in the environment.</summary>
    public bool? SystemSitePackages { get; init; }
    /// <summary>The job's <c>PATH</c> is the server's, not the system's folders only; allowed only where the operator allows it.</summary>
    public bool? InheritPath { get; init; }
}

/// <summary>
/// What a team asks to run. Keeps the seed course's fields and meanings; Strata adds <c>model</c>,
/// <c>label</c>, <c>priority</c>, <c>distributed</c>, <c>retry</c> and <c>timeout_seconds</c>.
/// </summary>
public sealed record TrainingJobSpec
{
    /// <summary>A DNS-1123 label, unique among the tenant's active jobs.</summary>
    public string? Name { get; init; }
    /// <summary>Optional; when given it must be the caller's tenant.</summary>
    public string? TenantId { get; init; }
    public string? DockerImage { get; init; }
    /// <summary>A shell command line. The default is <c>python train.py</c>.</summary>
    public string? Entrypoint { get; init; }
    /// <summary>A git repository to clone into the attempt's working folder (https, ssh, or a local path in a data root).</summary>
    public string? CodeRepo { get; init; }
    /// <summary>The commit, tag or branch of <see cref="CodeRepo"/> to check out; the default branch when omitted.</summary>
    public string? CodeCommit { get; init; }
    /// <summary>An uploaded tar.gz (<c>artifact://&lt;id&gt;</c>) extracted into the attempt's working folder; what <c>strata run</c> sends.</summary>
    public string? CodeArtifact { get; init; }
    public string? DataPath { get; init; }
    public ComputeSpec? Compute { get; init; }
    /// <summary>Passed to the job as <c>HYPERPARAM_&lt;NAME&gt;</c> environment variables.</summary>
    public Dictionary<string, JsonElement>? Hyperparameters { get; init; }
    public Dictionary<string, string>? EnvVars { get; init; }
    public string? ModelOutputPath { get; init; }
    /// <summary>
    /// A built-in trainer (<c>lightgbm</c>, <c>fasttree</c>, <c>logistic_regression</c>, <c>linear_regression</c>):
    /// the job runs <c>strata-worker train</c> on <c>data_path</c> instead of an entrypoint.
    /// </summary>
    public string? Model { get; init; }
    /// <summary>The label column of a built-in trainer's CSV.</summary>
    public string? Label { get; init; }
    /// <summary>A built-in trainer's task: <c>binary</c>, <c>multiclass</c> or <c>regression</c>; inferred from the label when omitted.</summary>
    public string? Task { get; init; }
    /// <summary>Higher runs first within a tenant; -1000 to 1000, default 0.</summary>
    public int? Priority { get; init; }
    public DistributedSpec? Distributed { get; init; }
    public RetrySpec? Retry { get; init; }
    /// <summary>Wall-clock limit of one attempt, 1 to 2,592,000 seconds (30 days); none by default.</summary>
    public int? TimeoutSeconds { get; init; }
    /// <summary>
    /// <c>reject</c> or <c>queue</c> (<see cref="QuotaPolicies"/>): what happens when the job would take the tenant
    /// over its quota. The default is the tenant's choice (<c>on_quota_exceeded</c> of its quota).
    /// </summary>
    public string? OnQuotaExceeded { get; init; }
    /// <summary>The job's Python: requirements, interpreter, the machine's packages, the server's <c>PATH</c>.</summary>
    public EnvironmentSpec? Environment { get; init; }
}

/// <summary>Where an attempt of a job runs.</summary>
public sealed record RuntimeInfo
{
    /// <summary><c>local</c> or <c>kubernetes</c>.</summary>
    public required string Kind { get; init; }
    /// <summary>The local attempt folder's name, or the Kubernetes Job's name.</summary>
    public string? Name { get; init; }
    public string? Namespace { get; init; }
}

/// <summary>One of the jobs an ambiguous reference names (<see cref="ProblemTypes.AmbiguousReference"/>).</summary>
public sealed record JobCandidate
{
    /// <summary>The most candidates a 409 lists; its <c>count</c> says how many there are.</summary>
    public const int MaxListed = 10;

    public required string Id { get; init; }
    public required string Name { get; init; }
    public required JobStatus Status { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
}

/// <summary>What a finished job produced.</summary>
public sealed record JobOutput
{
    public string? Artifact { get; init; }
    public string? ModelVersion { get; init; }
}

/// <summary>
/// A training job as the API returns it. Every field of the seed course's resource is always present
/// (null where it does not apply), so the seed's clients can index them.
/// </summary>
public sealed record TrainingJob
{
    public required string Id { get; init; }
    public required TrainingJobSpec Spec { get; init; }
    public required JobStatus Status { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; init; }
    public string? ErrorMessage { get; init; }
    public string? KubernetesJobName { get; init; }
    public Dictionary<string, double> Metrics { get; init; } = [];
    /// <summary>Why the job is pending or how it ended, from <see cref="StatusReasons"/>.</summary>
    public string? StatusReason { get; init; }
    /// <summary>
    /// The status reason in words where the reason alone does not say enough: for a job waiting for quota, the
    /// resource, its limit, and what holds it (jobs, deployments). Only on a single job's answer.
    /// </summary>
    public string? StatusMessage { get; init; }
    /// <summary>How many attempts have been started.</summary>
    public int Attempts { get; init; }
    public RuntimeInfo? Runtime { get; init; }
    /// <summary>While pending, its place among its tenant's pending jobs in the order they are taken (1 = next); else null.</summary>
    public int? QueuePosition { get; init; }
    public JobOutput? Output { get; init; }
    /// <summary>Requests the job could lower, judged on its measured attempts (docs/usage.md); empty when none.</summary>
    public RightSizingHintInfo[] RightSizing { get; init; } = [];
}

/// <summary>The closed set of <c>status_reason</c> values.</summary>
public static class StatusReasons
{
    public const string WaitingForCapacity = "waiting_for_capacity";
    public const string WaitingForQuota = "waiting_for_quota";
    public const string WaitingForRetry = "waiting_for_retry";
    /// <summary>An attempt stopped to make room for a higher-priority job of the same tenant; the job is queued again.</summary>
    public const string Preempted = "preempted";
    public const string Starting = "starting";
    public const string Completed = "completed";
    public const string ExitedWithError = "exited_with_error";
    public const string OutOfMemory = "out_of_memory";
    /// <summary>Stopped for filling more disk than <c>compute.disk_gb</c> in its working, checkpoint and model output folders.</summary>
    public const string DiskLimitExceeded = "disk_limit_exceeded";
    public const string TimedOut = "timed_out";
    public const string Killed = "killed";
    public const string SupervisorLost = "supervisor_lost";
    /// <summary>The cluster took its pod away (a <c>DisruptionTarget</c>: evicted, preempted by the scheduler, a tainted or drained node); retried.</summary>
    public const string Evicted = "evicted";
    public const string StartFailed = "start_failed";
    /// <summary>The job's Python environment could not be built (pip failed: a requirement that does not exist, a package that does not build); not retried.</summary>
    public const string EnvironmentError = "environment_error";
    public const string CancelledByUser = "cancelled_by_user";
    public const string TenantDeleted = "tenant_deleted";
    /// <summary>A built-in trainer exited successfully but its output could not be registered as a model version.</summary>
    public const string ModelRegistrationFailed = "model_registration_failed";
}

/// <summary>Why a pending job waits: its <c>status_reason</c> while pending (<see cref="PendingReasons.ToStatusReason"/>).</summary>
public enum PendingReason
{
    /// <summary><c>waiting_for_capacity</c>: the runtime has no room for it now (or a preemption is making room).</summary>
    WaitingForCapacity,
    /// <summary><c>waiting_for_quota</c>: its tenant's quota (resources or running jobs) has no room for it now.</summary>
    WaitingForQuota,
    /// <summary><c>waiting_for_retry</c>: a failed attempt's backoff has not ended.</summary>
    WaitingForRetry,
}

/// <summary>The wire form of <see cref="PendingReason"/>.</summary>
public static class PendingReasons
{
    /// <summary>The snake_case <see cref="StatusReasons"/> value the API shows.</summary>
    public static string ToStatusReason(this PendingReason reason) => reason switch
    {
        PendingReason.WaitingForCapacity => StatusReasons.WaitingForCapacity,
        PendingReason.WaitingForQuota => StatusReasons.WaitingForQuota,
        PendingReason.WaitingForRetry => StatusReasons.WaitingForRetry,
        _ => throw new ArgumentOutOfRangeException(nameof(reason), reason, null),
    };
}

/// <summary>The states of one attempt of a job.</summary>
public enum AttemptStatus
{
    Starting,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    /// <summary>Stopped to make room for a higher-priority job of the same tenant; not a failure of the job.</summary>
    Preempted,
}

/// <summary>One run of a job's process (or gang of processes); a retry is a new attempt.</summary>
public sealed record JobAttempt
{
    public required int Number { get; init; }
    public required AttemptStatus Status { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; init; }
    public int? ExitCode { get; init; }
    public string? Reason { get; init; }
    public string? ErrorMessage { get; init; }
    /// <summary>How its runtime saw it end (<c>exited_with_error</c>, <c>out_of_memory</c>, ...); null while it runs.</summary>
    public string? Outcome { get; init; }
    /// <summary>Why it failed: <c>out_of_memory</c>, <c>user_error</c>, <c>infrastructure</c>, <c>preempted</c> or <c>timed_out</c>; null for a success or while it runs.</summary>
    public string? Classification { get; init; }
    /// <summary>What its end led to: <c>succeed</c>, <c>fail</c>, <c>retry</c>, <c>requeue</c>, <c>cancelled</c> or <c>none</c>; null while it runs.</summary>
    public string? Decision { get; init; }
    /// <summary>The compute per worker it ran with: the spec's, or more memory after an out-of-memory kill (the spec stays as written).</summary>
    public EffectiveCompute? EffectiveCompute { get; init; }
    public long? PeakMemoryBytes { get; init; }
    public double? CpuSeconds { get; init; }
    /// <summary>How it used its GPUs, as the local runtime sampled them (<c>nvidia-smi</c>); null where nothing was sampled.</summary>
    public AttemptGpuUse? Gpu { get; init; }
    public RuntimeInfo? Runtime { get; init; }
    /// <summary>Reserved and used resource-seconds, once the attempt has ended; else null.</summary>
    public AttemptUsageInfo? Usage { get; init; }
    /// <summary>
    /// The newest file in the job's checkpoint folder when the attempt ended: where its next attempt resumes from.
    /// Null while it runs, when there was none, or where the server cannot see the folder (a Kubernetes volume).
    /// </summary>
    public AttemptCheckpoint? Checkpoint { get; init; }
}

/// <summary>A file in a job's checkpoint folder (<c>STRATA_CHECKPOINT_DIR</c>).</summary>
public sealed record AttemptCheckpoint
{
    /// <summary>Its path in the checkpoint folder.</summary>
    public required string Path { get; init; }
    public required DateTimeOffset ModifiedAt { get; init; }
}

/// <summary>An attempt's GPUs as sampled while it held them (docs/gpus.md).</summary>
public sealed record AttemptGpuUse
{
    /// <summary>The average utilisation of its devices, 0 to 100.</summary>
    public required double UtilizationPercent { get; init; }
    /// <summary>The most memory in use on its devices in one sample, MiB (a shared device's: every job's on it).</summary>
    public long? PeakMemoryMb { get; init; }
}

/// <summary>The compute per worker an attempt ran with.</summary>
public sealed record EffectiveCompute
{
    public required double CpuCores { get; init; }
    public required double MemoryGb { get; init; }
    public required int GpuCount { get; init; }
}

/// <summary>One file a job wrote to its output folder (<c>GET /v1/jobs/training/{id}/outputs</c>).</summary>
public sealed record JobOutputFile
{
    /// <summary>Relative to the output folder, with <c>/</c> between folders: the name to download it by.</summary>
    public required string Path { get; init; }
    public required long SizeBytes { get; init; }
    public required DateTimeOffset ModifiedAt { get; init; }
}

/// <summary>The files in a job's output folder, by path.</summary>
public sealed record JobOutputListing
{
    public required JobOutputFile[] Files { get; init; }
    /// <summary>True when the folder holds more entries than one listing looks at; the files beyond are not shown.</summary>
    public bool Truncated { get; init; }
}

/// <summary>
/// Answer of <c>POST /v1/jobs/training?dry_run=true</c>: the submission would be accepted. Nothing was created or held;
/// a real submission can still be refused if the quota fills up meanwhile.
/// </summary>
public sealed record DryRunResult
{
    /// <summary>The spec as a submission would store it, defaults filled in.</summary>
    public required TrainingJobSpec Spec { get; init; }
    /// <summary>True when the tenant's quota has no room now and the job would wait (<c>on_quota_exceeded: queue</c>).</summary>
    public bool WouldWaitForQuota { get; init; }
}
