using System.Globalization;
using k8s.Models;
using Strata.Core.Jobs;
using Strata.Core.Runtime;

namespace Strata.Server.Runtime.Kubernetes;

/// <summary>
/// Builds the objects of one attempt: a <c>batch/v1</c> Job, and for a distributed job (an Indexed Job) a
/// headless Service that gives each worker a stable DNS name and a NetworkPolicy that lets the workers
/// reach each other. Pure, and deterministic per attempt: a restart builds the same names again.
/// </summary>
/// <remarks>
/// Who retries: Strata. Each attempt is one Job with <c>backoffLimit: 0</c>; a failure ends the attempt and
/// Strata's retry policy decides (from the failure's class, <c>Core/Attempts/AttemptPolicy</c>) whether a new
/// attempt — a new Job, the whole gang — follows. Retrying inside the Job as well would run a job more times
/// than its <c>retry.max_attempts</c> says and hide attempts from the API. The <c>podFailurePolicy</c> fails the
/// Job at once, so that every pod of a gang stops and the attempt ends with a clear reason: on a pod the cluster
/// took away (<c>DisruptionTarget</c>: evicted, preempted by the scheduler, a tainted node; classified
/// <c>evicted</c>, an infrastructure failure that is retried with backoff), and on any non-zero exit of the
/// training container (the job's own error, unless its exit code or evidence says otherwise). A pod lost
/// otherwise fails it as <c>BackoffLimitExceeded</c>, also an infrastructure failure. The Job does not replace
/// a disrupted pod itself: a new pod joining a gang whose other ranks are mid-run cannot rejoin their
/// rendezvous, and a replacement would be an attempt that the API never shows.
/// </remarks>
public static class JobManifests
{
    public const string WorkVolume = "work";
    public const string TmpVolume = "tmp";
    public const string CheckpointVolume = "checkpoints";
    public const string WorkPath = "/strata/work";
    public const string CheckpointPath = WorkPath + "/checkpoints";
    public const string EnvironmentVolume = "python-environment";
    /// <summary>Where an init container installs the job's requirements, first on its <c>PYTHONPATH</c>.</summary>
    public const string EnvironmentPath = "/strata/python";

    /// <summary>
    /// What a job's <c>environment</c> may ask for on Kubernetes, where the image is the environment: requirements
    /// installed on top of it (unless the operator turned that off), never another interpreter or the server's <c>PATH</c>.
    /// </summary>
    public static EnvironmentRules EnvironmentRules(KubernetesRuntimeOptions options) => new(
        RequirementsRefusal: options.InstallRequirements ? null
            : "cannot be installed on this platform (Runtime:Kubernetes:InstallRequirements is false): the job's image (docker_image) must hold its packages",
        PythonRefusal: "is the image's on Kubernetes: name an image (docker_image) with the interpreter you need",
        InheritPathRefusal: "does not apply on Kubernetes: the job's PATH is its image's");

    public static V1Job Job(JobLaunch launch, KubernetesRuntimeOptions options)
    {
        var attempt = launch.Attempt;
        var name = KubernetesNames.JobName(attempt);
        var ns = KubernetesNames.Namespace(attempt.TenantId);
        var labels = KubernetesNames.AttemptLabels(attempt);
        var distributed = launch.NumWorkers > 1;
        var placement = Placement(launch.Resources, launch.GpuType, options);
        var limits = placement.Resources;

        var container = new V1Container
        {
            Name = KubernetesNames.TrainingContainer,
            Image = string.IsNullOrEmpty(launch.DockerImage) ? options.DefaultImage : launch.DockerImage,
            Command = ["/bin/sh", "-c", launch.Entrypoint],
            Env = Environment(launch, name, ns, options),
            // A container that fails without writing /dev/termination-log reports the tail of its log (at most
            // 80 lines, 2 KiB) as its termination message: where a Python traceback's exception line is found.
            TerminationMessagePolicy = "FallbackToLogsOnError",
            // Requests equal limits: the pod is Guaranteed, never throttled below what was admitted.
            Resources = new V1ResourceRequirements { Requests = limits, Limits = new Dictionary<string, ResourceQuantity>(limits, StringComparer.Ordinal) },
            SecurityContext = new V1SecurityContext
            {
                RunAsNonRoot = true,
                AllowPrivilegeEscalation = false,
                ReadOnlyRootFilesystem = true,
                Capabilities = new V1Capabilities { Drop = ["ALL"] },
                SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
            },
            VolumeMounts =
            [
                new V1VolumeMount { Name = WorkVolume, MountPath = WorkPath },
                new V1VolumeMount { Name = TmpVolume, MountPath = "/tmp" },
            ],
        };
        var requirements = RequirementsInstall(launch, options, container);
        var checkpoints = options.CheckpointVolumeGb > 0;
        if (checkpoints)
        {
            // Every attempt of the job mounts the job's one claim: a retry resumes from what the last one saved.
            container.VolumeMounts.Add(new V1VolumeMount { Name = CheckpointVolume, MountPath = CheckpointPath });
        }

        var pod = new V1PodSpec
        {
            RestartPolicy = "Never",
            ServiceAccountName = KubernetesNames.JobServiceAccount,
            AutomountServiceAccountToken = false,
            EnableServiceLinks = false,
            Containers = [container],
            SecurityContext = new V1PodSecurityContext
            {
                RunAsNonRoot = true,
                RunAsUser = options.RunAsUser,
                RunAsGroup = options.RunAsUser,
                FsGroup = options.RunAsUser,
                SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
            },
            Volumes =
            [
                new V1Volume { Name = WorkVolume, EmptyDir = new V1EmptyDirVolumeSource { SizeLimit = new ResourceQuantity($"{options.ScratchGb}Gi") } },
                new V1Volume { Name = TmpVolume, EmptyDir = new V1EmptyDirVolumeSource { SizeLimit = new ResourceQuantity("1Gi") } },
            ],
        };
        if (requirements is not null)
        {
            pod.InitContainers = [requirements];
            pod.Volumes.Add(new V1Volume { Name = EnvironmentVolume, EmptyDir = new V1EmptyDirVolumeSource { SizeLimit = new ResourceQuantity($"{options.ScratchGb}Gi") } });
        }
        if (checkpoints)
        {
            pod.Volumes.Add(new V1Volume
            {
                Name = CheckpointVolume,
                PersistentVolumeClaim = new V1PersistentVolumeClaimVolumeSource { ClaimName = KubernetesNames.CheckpointClaimName(attempt.JobId) },
            });
        }
        pod.Tolerations = placement.Tolerations;
        pod.NodeSelector = placement.NodeSelector;
        if (distributed)
        {
            // Pods of an Indexed Job are named <job>-<index>; with the subdomain they resolve as
            // <job>-<index>.<service>.<namespace>.svc through the headless Service.
            pod.Subdomain = name;
        }

        return new V1Job
        {
            ApiVersion = "batch/v1",
            Kind = "Job",
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns, Labels = labels },
            Spec = new V1JobSpec
            {
                BackoffLimit = 0,
                CompletionMode = distributed ? "Indexed" : "NonIndexed",
                Completions = launch.NumWorkers,
                Parallelism = launch.NumWorkers,
                ActiveDeadlineSeconds = launch.TimeoutSeconds,
                TtlSecondsAfterFinished = options.TtlSecondsAfterFinished,
                PodFailurePolicy = new V1PodFailurePolicy
                {
                    Rules =
                    [
                        new V1PodFailurePolicyRule
                        {
                            // Before the exit codes: a disrupted pod's container exits non-zero from the kill.
                            Action = "FailJob",
                            OnPodConditions = [new V1PodFailurePolicyOnPodConditionsPattern { Type = JobStatusReading.DisruptionTarget, Status = "True" }],
                        },
                        new V1PodFailurePolicyRule
                        {
                            Action = "FailJob",
                            OnExitCodes = new V1PodFailurePolicyOnExitCodesRequirement
                            {
                                ContainerName = KubernetesNames.TrainingContainer,
                                OperatorProperty = "NotIn",
                                Values = [0],
                            },
                        },
                    ],
                },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string>(labels, StringComparer.Ordinal) },
                    Spec = pod,
                },
            },
        };
    }

    /// <summary>
    /// The init container that installs the job's requirements (docs/environments.md), or null when it names none:
    /// the job's own image runs <c>pip install --target</c> into a volume that the training container then finds first
    /// on its <c>PYTHONPATH</c>. A requirements file is read from the image's working folder, where the job's code is.
    /// It runs as the job does (same user, limits and security context); where pip fails, the attempt ends with
    /// <c>environment_error</c> and pip's last lines (<see cref="JobStatusReading.Classify"/>).
    /// </summary>
    private static V1Container? RequirementsInstall(JobLaunch launch, KubernetesRuntimeOptions options, V1Container training)
    {
        var file = PythonEnvironments.RequirementsFile(launch.PythonEnvironment);
        var list = PythonEnvironments.RequirementList(launch.PythonEnvironment);
        if (file is null && list.Count == 0) return null;
        training.VolumeMounts.Add(new V1VolumeMount { Name = EnvironmentVolume, MountPath = EnvironmentPath, ReadOnlyProperty = true });
        var pythonPath = training.Env.FirstOrDefault(variable => variable.Name == "PYTHONPATH");
        if (pythonPath is null) training.Env.Add(new V1EnvVar { Name = "PYTHONPATH", Value = EnvironmentPath });
        else pythonPath.Value = $"{EnvironmentPath}:{pythonPath.Value}";

        // The arguments travel as the shell's positional parameters: nothing of the spec is parsed by a shell.
        List<string> command = ["/bin/sh", "-c", "exec \"$(command -v python3 || command -v python)\" -m pip install --no-cache-dir --target \"$0\" \"$@\"", EnvironmentPath];
        if (options.PipIndexUrl == "none") command.Add("--no-index");
        else if (!string.IsNullOrEmpty(options.PipIndexUrl)) command.AddRange(["--index-url", options.PipIndexUrl]);
        if (!string.IsNullOrEmpty(options.PipFindLinks)) command.AddRange(["--find-links", options.PipFindLinks]);
        if (file is not null) command.AddRange(["-r", file]);
        command.AddRange(list);
        return new V1Container
        {
            Name = KubernetesNames.EnvironmentContainer,
            Image = training.Image,
            Command = command,
            Env =
            [
                new V1EnvVar { Name = "HOME", Value = "/tmp" },
                new V1EnvVar { Name = "PYTHONUNBUFFERED", Value = "1" },
                new V1EnvVar { Name = "PIP_DISABLE_PIP_VERSION_CHECK", Value = "1" },
                new V1EnvVar { Name = "PIP_NO_INPUT", Value = "1" },
                new V1EnvVar { Name = "PIP_PROGRESS_BAR", Value = "off" },
            ],
            TerminationMessagePolicy = "FallbackToLogsOnError",
            // The job's cpu and memory (requests equal limits, as the pod is Guaranteed), not its GPUs: pip needs none.
            Resources = new V1ResourceRequirements
            {
                Requests = training.Resources.Requests.Where(r => r.Key is "cpu" or "memory").ToDictionary(r => r.Key, r => r.Value, StringComparer.Ordinal),
                Limits = training.Resources.Limits.Where(r => r.Key is "cpu" or "memory").ToDictionary(r => r.Key, r => r.Value, StringComparer.Ordinal),
            },
            SecurityContext = training.SecurityContext,
            VolumeMounts =
            [
                new V1VolumeMount { Name = EnvironmentVolume, MountPath = EnvironmentPath },
                new V1VolumeMount { Name = TmpVolume, MountPath = "/tmp" },
            ],
        };
    }

    /// <summary>
    /// The job's checkpoint volume (<c>STRATA_CHECKPOINT_DIR</c>), one per job in its tenant's namespace: created
    /// before its first attempt's Job, mounted by every attempt, owned by no Job (an attempt's end must not take
    /// it), and deleted with the job's records or with the job's TTL once the job has ended (<see cref="CheckpointVolumeSweep"/>).
    /// It counts against the namespace's ResourceQuota (<c>persistentvolumeclaims</c>): a job over it fails to start.
    /// </summary>
    public static V1PersistentVolumeClaim CheckpointClaim(string tenantId, string jobId, KubernetesRuntimeOptions options) => new()
    {
        ApiVersion = "v1",
        Kind = "PersistentVolumeClaim",
        Metadata = new V1ObjectMeta
        {
            Name = KubernetesNames.CheckpointClaimName(jobId),
            NamespaceProperty = KubernetesNames.Namespace(tenantId),
            Labels = KubernetesNames.CheckpointClaimLabels(tenantId, jobId),
        },
        Spec = new V1PersistentVolumeClaimSpec
        {
            AccessModes = [options.CheckpointAccessMode],
            // Null: the cluster's default storage class.
            StorageClassName = options.CheckpointStorageClass,
            Resources = new V1VolumeResourceRequirements
            {
                Requests = new Dictionary<string, ResourceQuantity>(StringComparer.Ordinal) { ["storage"] = new ResourceQuantity($"{options.CheckpointVolumeGb}Gi") },
            },
        },
    };

    /// <summary>The job contract's variable that carries the attempt's token.</summary>
    public const string TokenVariable = "STRATA_JOB_TOKEN";

    /// <summary>The key of the token in the attempt's Secret.</summary>
    public const string TokenKey = "token";

    /// <summary>
    /// The attempt's token (<c>STRATA_JOB_TOKEN</c>), which its pods read through a <c>secretKeyRef</c>; null when the
    /// launch has none. Owned by the attempt's Job once there is one (<paramref name="owner"/>), so that the garbage
    /// collector deletes it with the Job (stopped, collected at its time-to-live, or deleted with its job).
    /// </summary>
    public static V1Secret? TokenSecret(JobLaunch launch, V1OwnerReference? owner)
    {
        if (!launch.Environment.TryGetValue(TokenVariable, out var token)) return null;
        var attempt = launch.Attempt;
        return new V1Secret
        {
            ApiVersion = "v1",
            Kind = "Secret",
            Metadata = new V1ObjectMeta
            {
                Name = KubernetesNames.TokenSecretName(attempt),
                NamespaceProperty = KubernetesNames.Namespace(attempt.TenantId),
                Labels = KubernetesNames.AttemptLabels(attempt),
                OwnerReferences = owner is null ? null : [owner],
            },
            Type = "Opaque",
            // data, not stringData: server-side apply tracks data, and the API server would turn stringData into it.
            Data = new Dictionary<string, byte[]>(StringComparer.Ordinal) { [TokenKey] = System.Text.Encoding.UTF8.GetBytes(token) },
        };
    }

    /// <summary>
    /// How one worker asks for its compute (an attempt's pods, and the placeholders of a job waiting for capacity): its
    /// resources, requests equal to limits; for GPUs, the toleration of GPU nodes' taint and the node selector of its
    /// <c>gpu_type</c>.
    /// </summary>
    public static WorkerPlacement Placement(ResourceRequest perWorker, string? gpuType, KubernetesRuntimeOptions options)
    {
        var resources = new Dictionary<string, ResourceQuantity>(StringComparer.Ordinal)
        {
            ["cpu"] = Quantities.Cpu(perWorker.CpuCores),
            ["memory"] = Quantities.Memory(perWorker.MemoryBytes),
        };
        var entry = !string.IsNullOrEmpty(gpuType) && options.GpuTypes.TryGetValue(gpuType, out var known) ? known : null;
        List<V1Toleration>? tolerations = null;
        if (perWorker.Gpus > 0)
        {
            resources[entry?.Resource ?? GpuResource] = Quantities.Count(perWorker.Gpus);
            // GPU nodes are usually tainted so that only pods that ask for GPUs land there.
            tolerations = [new V1Toleration { Key = "nvidia.com/gpu", OperatorProperty = "Exists", Effect = "NoSchedule" }];
        }
        // The operator's table: a MIG profile is its own resource, which only nodes that have it offer.
        var nodeSelector = entry is not null
            ? entry.NodeSelector.Count > 0 ? new Dictionary<string, string>(entry.NodeSelector, StringComparer.Ordinal) : null
            : !string.IsNullOrEmpty(gpuType) ? new Dictionary<string, string> { [options.GpuTypeNodeLabel] = gpuType } : null;
        return new WorkerPlacement(resources, nodeSelector, tolerations);
    }

    /// <summary>The extended resource of a whole NVIDIA GPU (the device plugin's).</summary>
    public const string GpuResource = "nvidia.com/gpu";

    /// <summary>Gives every worker of a distributed job a stable DNS name; owned by the Job, so deleted with it.</summary>
    public static V1Service HeadlessService(AttemptRef attempt, V1OwnerReference owner) => new()
    {
        ApiVersion = "v1",
        Kind = "Service",
        Metadata = new V1ObjectMeta
        {
            Name = KubernetesNames.JobName(attempt),
            NamespaceProperty = KubernetesNames.Namespace(attempt.TenantId),
            Labels = KubernetesNames.AttemptLabels(attempt),
            OwnerReferences = [owner],
        },
        Spec = new V1ServiceSpec
        {
            ClusterIP = "None",
            Selector = KubernetesNames.AttemptLabels(attempt),
            // Workers look each other up while starting, before anything is "ready".
            PublishNotReadyAddresses = true,
        },
    };

    /// <summary>The tenant's namespace denies all traffic; a distributed job's workers may talk to each other (and only they).</summary>
    public static V1NetworkPolicy WorkersPolicy(AttemptRef attempt, V1OwnerReference owner)
    {
        var workers = new V1NetworkPolicyPeer { PodSelector = new V1LabelSelector { MatchLabels = KubernetesNames.AttemptLabels(attempt) } };
        return new V1NetworkPolicy
        {
            ApiVersion = "networking.k8s.io/v1",
            Kind = "NetworkPolicy",
            Metadata = new V1ObjectMeta
            {
                Name = KubernetesNames.JobName(attempt),
                NamespaceProperty = KubernetesNames.Namespace(attempt.TenantId),
                Labels = KubernetesNames.AttemptLabels(attempt),
                OwnerReferences = [owner],
            },
            Spec = new V1NetworkPolicySpec
            {
                PodSelector = new V1LabelSelector { MatchLabels = KubernetesNames.AttemptLabels(attempt) },
                PolicyTypes = ["Ingress", "Egress"],
                Ingress = [new V1NetworkPolicyIngressRule { FromProperty = [workers] }],
                Egress = [new V1NetworkPolicyEgressRule { To = [workers] }],
            },
        };
    }

    /// <summary>The owner reference that ties an attempt's Secret, Service and policy to its Job (garbage-collected with it).</summary>
    public static V1OwnerReference OwnerOf(V1Job job) => new()
    {
        ApiVersion = "batch/v1",
        Kind = "Job",
        Name = job.Metadata.Name,
        Uid = job.Metadata.Uid,
        Controller = true,
        BlockOwnerDeletion = true,
    };

    /// <summary>
    /// The job contract's environment as the launch has it, with what differs in a pod: the scratch volume
    /// for HOME and checkpoints, and for a distributed job the rendezvous (rank 0's stable name, the rank from
    /// the pod's completion index).
    /// </summary>
    private static List<V1EnvVar> Environment(JobLaunch launch, string jobName, string ns, KubernetesRuntimeOptions options)
    {
        var values = new SortedDictionary<string, string>(launch.Environment.ToDictionary(), StringComparer.Ordinal)
        {
            ["HOME"] = WorkPath,
            ["STRATA_CHECKPOINT_DIR"] = CheckpointPath,
        };
        // The token is read from the attempt's Secret (TokenSecret): no spec carries its value.
        var token = values.Remove(TokenVariable);
        var distributed = launch.NumWorkers > 1;
        if (distributed)
        {
            // One worker per pod: the rank is the pod's completion index, set below from its annotation.
            GangEnvironment.Add(values, new GangPlace(launch.NumWorkers, Rank: 0, LocalRank: 0, LocalWorldSize: 1, NodeRank: 0),
                $"{jobName}-0.{jobName}.{ns}.svc", options.MasterPort);
            values.Remove(GangEnvironment.Rank);
            values.Remove(GangEnvironment.NodeRank);
        }
        var env = values.Select(pair => new V1EnvVar { Name = pair.Key, Value = pair.Value }).ToList();
        if (token)
        {
            env.Add(new V1EnvVar
            {
                Name = TokenVariable,
                ValueFrom = new V1EnvVarSource { SecretKeyRef = new V1SecretKeySelector { Name = KubernetesNames.TokenSecretName(launch.Attempt), Key = TokenKey } },
            });
        }
        if (distributed)
        {
            foreach (var rankName in (string[])[GangEnvironment.Rank, GangEnvironment.NodeRank])
            {
                env.Add(new V1EnvVar
                {
                    Name = rankName,
                    ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = $"metadata.annotations['{KubernetesNames.CompletionIndexAnnotation}']" } },
                });
            }
        }
        return env;
    }
}

/// <summary>What <see cref="JobManifests.Placement"/> gives one worker's pod.</summary>
public sealed record WorkerPlacement(Dictionary<string, ResourceQuantity> Resources, Dictionary<string, string>? NodeSelector, List<V1Toleration>? Tolerations);
