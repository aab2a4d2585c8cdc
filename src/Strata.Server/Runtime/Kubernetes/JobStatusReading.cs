using k8s.Models;
using Strata.Core.Runtime;

namespace Strata.Server.Runtime.Kubernetes;

/// <summary>How a pod's training container ended.</summary>
/// <param name="MemoryLimitBytes">The container's memory limit, where its pod spec gives one: what an OOM kill exceeded.</param>
public sealed record Termination(int ExitCode, string? Reason, string? Message, DateTime? FinishedAt, long? MemoryLimitBytes = null);

/// <summary>A pod the cluster took away: its <c>DisruptionTarget</c> condition's reason and message.</summary>
public sealed record Disruption(string Reason, string? Message);

/// <summary>What the pods of a failed Job tell about its end; read once per Job.</summary>
/// <param name="OutOfMemory">A training container the kernel killed for its memory.</param>
/// <param name="Disruption">A pod the cluster took away (evicted, preempted by the scheduler, a tainted node).</param>
/// <param name="FirstError">The training container that exited non-zero first: the others of a gang were stopped after it.</param>
/// <param name="NodeLost">A pod whose node stopped reporting (<c>NodeLost</c>, phase <c>Unknown</c>).</param>
/// <param name="EnvironmentFailed">The init container that installs the job's requirements, where it exited non-zero: pip failed.</param>
public sealed record PodEvidence(Termination? OutOfMemory, Disruption? Disruption, Termination? FirstError, bool NodeLost, Termination? EnvironmentFailed = null)
{
    public bool IsEmpty => OutOfMemory is null && Disruption is null && FirstError is null && !NodeLost && EnvironmentFailed is null;
}

/// <summary>Reading a Job's and its pods' status into Strata's outcomes; pure, for unit tests.</summary>
public static class JobStatusReading
{
    public const string DisruptionTarget = "DisruptionTarget";

    /// <summary>The Job's final condition (<c>Complete</c> or <c>Failed</c>, status True), or null while it runs.</summary>
    public static (bool Succeeded, V1JobCondition Condition)? Finished(V1Job job)
    {
        foreach (var condition in job.Status?.Conditions ?? [])
        {
            if (condition.Status != "True") continue;
            if (condition.Type == "Complete") return (true, condition);
            if (condition.Type == "Failed") return (false, condition);
        }
        return null;
    }

    /// <summary>What the pods of a Job (every rank of a gang) say about how it ended.</summary>
    public static PodEvidence Evidence(IEnumerable<V1Pod> pods)
    {
        var list = pods.ToList();
        var errors = list
            .SelectMany(p => (p.Status?.ContainerStatuses ?? []).Select(c => (Status: c, Limit: MemoryLimit(p, c.Name))))
            .Where(c => c.Status.Name == KubernetesNames.TrainingContainer && c.Status.State?.Terminated is { ExitCode: not 0 })
            .Select(c => Ended(c.Status.State.Terminated, c.Limit))
            .OrderBy(t => t.FinishedAt ?? DateTime.MaxValue)
            .ToList();
        var disruption = list
            .SelectMany(p => p.Status?.Conditions ?? [])
            .Where(c => c.Type == DisruptionTarget && c.Status == "True")
            .Select(c => new Disruption(c.Reason ?? DisruptionTarget, c.Message))
            .FirstOrDefault();
        var nodeLost = list.Any(p => p.Status?.Reason == "NodeLost" || p.Status?.Phase == "Unknown");
        var environment = list
            .SelectMany(p => p.Status?.InitContainerStatuses ?? [])
            .Where(c => c.Name == KubernetesNames.EnvironmentContainer && c.State?.Terminated is { ExitCode: not 0 } && c.State.Terminated.Reason != "OOMKilled")
            .Select(c => new Termination(c.State.Terminated.ExitCode, c.State.Terminated.Reason, c.State.Terminated.Message, c.State.Terminated.FinishedAt))
            .FirstOrDefault();
        return new PodEvidence(errors.FirstOrDefault(t => t.Reason == "OOMKilled"), disruption, errors.FirstOrDefault(), nodeLost, environment);
    }

    private static Termination Ended(V1ContainerStateTerminated state, long? memoryLimit) =>
        new(state.ExitCode, state.Reason, state.Message, state.FinishedAt, memoryLimit);

    private static long? MemoryLimit(V1Pod pod, string container) =>
        pod.Spec?.Containers?.FirstOrDefault(c => c.Name == container)?.Resources?.Limits is { } limits
        && limits.TryGetValue("memory", out var quantity) ? quantity.ToInt64() : null;

    /// <summary>
    /// Why an attempt failed; the whole gang's end when it is distributed (one rank's failure fails the Job, see
    /// <see cref="JobManifests"/>). <c>DeadlineExceeded</c> is its <c>timeout_seconds</c>. Then, from the pods: a
    /// container the kernel killed for its memory is out of memory; a pod the cluster took away (the
    /// <c>DisruptionTarget</c> condition, even when its container then exited non-zero from the kill) was evicted;
    /// requirements pip could not install are an environment error, with pip's last lines; a container that exited
    /// non-zero first is the job's own error, with its exit code and the tail of its log;
    /// a pod whose node stopped reporting, or a Job that failed with nothing of this left, lost its node or pods.
    /// </summary>
    public static AttemptOutcome Classify(V1JobCondition failed, PodEvidence? pods)
    {
        if (failed.Reason == "DeadlineExceeded")
        {
            return new AttemptOutcome.TimedOut { Message = "stopped at its time-out (activeDeadlineSeconds)" };
        }
        if (pods?.OutOfMemory is { } oom)
        {
            // The kubelet reports no peak: the limit is what the container went past.
            var limit = oom.MemoryLimitBytes is { } bytes ? $"its memory limit of {ResourceRequest.FormatGb(bytes)}" : "its memory limit";
            return new AttemptOutcome.OutOfMemory
            {
                ExitCode = oom.ExitCode,
                Message = $"killed for exceeding {limit} (OOMKilled): ask for more with compute.memory_gb, or use less",
            };
        }
        if (pods?.Disruption is { } disruption)
        {
            return new AttemptOutcome.Evicted { Message = $"its pod was evicted ({disruption.Reason}{(string.IsNullOrEmpty(disruption.Message) ? "" : ": " + disruption.Message)})" };
        }
        if (pods?.EnvironmentFailed is { } pip)
        {
            // The tail of pip's output (FallbackToLogsOnError): why the requirements could not be installed.
            return new AttemptOutcome.EnvironmentError
            {
                ExitCode = pip.ExitCode,
                Message = $"the Python environment could not be installed (pip exited with code {pip.ExitCode}){(string.IsNullOrWhiteSpace(pip.Message) ? "" : ":\n" + pip.Message.Trim())}",
            };
        }
        if (pods?.FirstError is { } exited)
        {
            return new AttemptOutcome.ExitedWithError
            {
                ExitCode = exited.ExitCode,
                // A container runtime reports a process killed by signal N as 128+N.
                Signal = exited.ExitCode is > 128 and <= 128 + 64 ? exited.ExitCode - 128 : null,
                Message = $"exited with code {exited.ExitCode}",
                // The tail of its log (FallbackToLogsOnError): the evidence of a code error.
                Exception = Tracebacks.LastException(exited.Message),
                ReportedError = Tracebacks.LastReportedError(exited.Message),
            };
        }
        if (pods is { NodeLost: true })
        {
            return new AttemptOutcome.SupervisorLost { Message = "its node was lost (NodeLost)" };
        }
        if (failed.Reason == "PodFailurePolicy")
        {
            // A pod failure policy rule failed the Job, but the pod is gone: the condition's message names the rule
            // ("Pod ... has condition DisruptionTarget matching FailJob rule at index 0", or a container's exit code).
            return failed.Message?.Contains(DisruptionTarget, StringComparison.Ordinal) == true
                ? new AttemptOutcome.Evicted { Message = $"its pod was evicted ({failed.Message})" }
                : new AttemptOutcome.ExitedWithError { Message = failed.Message ?? "exited with an error" };
        }
        return new AttemptOutcome.SupervisorLost { Message = $"its pod or its node was lost ({failed.Reason}: {failed.Message})" };
    }
}
