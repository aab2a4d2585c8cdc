using k8s;
using k8s.Models;
using Strata.Contracts;
using Strata.Core.Deployments;
using Strata.Core.Runtime;
using Strata.Server.Runtime.Kubernetes;

namespace Strata.Kubernetes.Tests;

/// <summary>Every object Strata generates, checked against what the issue and DESIGN.md ask of it.</summary>
public sealed class ManifestTests
{
    private static readonly KubernetesRuntimeOptions Options = new() { PlatformNamespace = "strata-system", DefaultImage = "strata:test", MasterPort = 29500 };
    private static readonly TenantNamespace TeamA = new("team-a", "eng-42", new TenantQuotaLimits { CpuCores = 16, MemoryGb = 64, GpuCount = 2, Pods = 30, Jobs = 100, PersistentVolumeClaims = 5 });

    private static readonly string[] ReadVerbs = ["get", "list", "watch"];
    private static readonly string[] PandasAndSklearn = ["pandas==2.2.2", "scikit-learn"];

    private static JobLaunch Launch(int workers = 1, int gpus = 0, string? gpuType = null, int? timeout = 3600, string? image = "registry/team-a/train:1") => new()
    {
        Attempt = new AttemptRef("team-a", "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", 2),
        Entrypoint = "python train.py --epochs 3",
        DockerImage = image,
        Environment = new Dictionary<string, string>
        {
            ["DATA_PATH"] = "/data/churn.csv",
            ["HYPERPARAM_LR"] = "0.01",
            ["STRATA_JOB_ID"] = "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
            ["STRATA_ATTEMPT"] = "2",
            ["STRATA_CHECKPOINT_DIR"] = "/home/server/.strata/checkpoints/x",
            ["HOME"] = "/home/server/.strata/checkpoints/x",
            ["RANK"] = "0",
            ["MASTER_ADDR"] = "127.0.0.1",
        },
        Resources = ResourceRequest.FromGb(4, 16, gpus),
        GpuType = gpuType,
        NumWorkers = workers,
        TimeoutSeconds = timeout,
    };

    [Fact]
    public void No_object_of_an_attempt_carries_its_token_but_its_secret()
    {
        const string token = "eyJhbGciOiJFUzI1NiJ9.the-attempts-token";
        var launch = Launch(workers: 2);
        launch = launch with { Environment = new Dictionary<string, string>(launch.Environment) { ["STRATA_JOB_TOKEN"] = token } };
        var job = JobManifests.Job(launch, Options);
        job.Metadata.Uid = "job-uid";
        var owner = JobManifests.OwnerOf(job);
        IKubernetesObject[] objects =
        [
            job, JobManifests.HeadlessService(launch.Attempt, owner), JobManifests.WorkersPolicy(launch.Attempt, owner),
            JobManifests.CheckpointClaim("team-a", launch.Attempt.JobId, Options), .. TenantManifests.Build(TeamA, Options),
        ];
        var encoded = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(token));
        foreach (var item in objects)
        {
            var text = KubernetesJson.Serialize(item);
            Assert.DoesNotContain(token, text, StringComparison.Ordinal);
            Assert.DoesNotContain(encoded, text, StringComparison.Ordinal);
        }

        var env = Assert.Single(job.Spec.Template.Spec.Containers).Env.Single(e => e.Name == "STRATA_JOB_TOKEN");
        Assert.Null(env.Value);
        Assert.Equal(("strata-0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b-2-token", "token"), (env.ValueFrom.SecretKeyRef.Name, env.ValueFrom.SecretKeyRef.Key));
        var secret = JobManifests.TokenSecret(launch, owner)!;
        Assert.Equal(env.ValueFrom.SecretKeyRef.Name, secret.Metadata.Name);
        Assert.Equal(token, System.Text.Encoding.UTF8.GetString(secret.Data["token"]));
        Assert.Equal("job-uid", Assert.Single(secret.Metadata.OwnerReferences).Uid);
        // A launch without a token (none is issued) has no Secret and no reference to one.
        Assert.Null(JobManifests.TokenSecret(Launch(), owner));
        Assert.DoesNotContain(JobManifests.Job(Launch(), Options).Spec.Template.Spec.Containers[0].Env, e => e.Name == "STRATA_JOB_TOKEN");
    }

    [Fact]
    public void The_namespace_is_named_after_the_tenant_labelled_and_pod_security_restricted()
    {
        var ns = TenantManifests.Namespace(TeamA);
        Assert.Equal("ml-team-a", ns.Metadata.Name);
        Assert.Equal("team-a", ns.Metadata.Labels["tenant"]);
        Assert.Equal("strata", ns.Metadata.Labels["managed-by"]);
        Assert.Equal("eng-42", ns.Metadata.Labels["cost-center"]);
        foreach (var mode in new[] { "enforce", "warn", "audit" })
        {
            Assert.Equal("restricted", ns.Metadata.Labels[$"pod-security.kubernetes.io/{mode}"]);
        }
    }

    [Fact]
    public void A_tenant_without_a_cost_center_has_no_cost_center_label()
    {
        var ns = TenantManifests.Namespace(TeamA with { CostCenter = null });
        Assert.False(ns.Metadata.Labels.ContainsKey("cost-center"));
    }

    [Fact]
    public void The_resource_quota_carries_the_tenants_limits()
    {
        var hard = TenantManifests.ResourceQuota(TeamA).Spec.Hard;
        Assert.Equal("16", hard["requests.cpu"].ToString());
        Assert.Equal("16", hard["limits.cpu"].ToString());
        Assert.Equal("64Gi", hard["requests.memory"].ToString());
        Assert.Equal("64Gi", hard["limits.memory"].ToString());
        Assert.Equal("2", hard["requests.nvidia.com/gpu"].ToString());
        Assert.Equal("30", hard["pods"].ToString());
        Assert.Equal("100", hard["count/jobs.batch"].ToString());
        Assert.Equal("5", hard["persistentvolumeclaims"].ToString());
        Assert.Equal("ml-team-a", TenantManifests.ResourceQuota(TeamA).Metadata.NamespaceProperty);
    }

    [Fact]
    public void The_limit_range_gives_containers_equal_default_requests_and_limits()
    {
        var item = Assert.Single(TenantManifests.LimitRange(TeamA, Options).Spec.Limits);
        Assert.Equal("Container", item.Type);
        Assert.Equal("1", item.DefaultProperty["cpu"].ToString());
        Assert.Equal("2Gi", item.DefaultProperty["memory"].ToString());
        Assert.Equal(item.DefaultProperty["cpu"].ToString(), item.DefaultRequest["cpu"].ToString());
        Assert.Equal(item.DefaultProperty["memory"].ToString(), item.DefaultRequest["memory"].ToString());
    }

    [Fact]
    public void The_job_runner_service_account_mounts_no_token_and_its_role_only_reads()
    {
        var account = TenantManifests.ServiceAccount(TeamA);
        Assert.Equal("ml-job-runner", account.Metadata.Name);
        Assert.False(account.AutomountServiceAccountToken);

        var role = TenantManifests.Role(TeamA);
        Assert.All(role.Rules, rule => Assert.All(rule.Verbs, verb => Assert.Contains(verb, ReadVerbs)));
        Assert.DoesNotContain(role.Rules, rule => rule.Resources.Contains("secrets"));

        var binding = TenantManifests.RoleBinding(TeamA);
        var subject = Assert.Single(binding.Subjects);
        Assert.Equal(("ServiceAccount", "ml-job-runner", "ml-team-a"), (subject.Kind, subject.Name, subject.NamespaceProperty));
        Assert.Equal(("Role", role.Metadata.Name), (binding.RoleRef.Kind, binding.RoleRef.Name));
    }

    [Fact]
    public void Network_policies_deny_everything_but_dns_and_the_platform_api()
    {
        var deny = TenantManifests.DefaultDeny(TeamA);
        Assert.Empty(deny.Spec.PodSelector.MatchLabels ?? new Dictionary<string, string>());
        Assert.Equal(["Ingress", "Egress"], deny.Spec.PolicyTypes);
        Assert.Null(deny.Spec.Ingress);
        Assert.Null(deny.Spec.Egress);

        var dns = Assert.Single(TenantManifests.AllowDns(TeamA).Spec.Egress);
        Assert.Equal("kube-system", Assert.Single(dns.To).NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"]);
        Assert.Equal([("UDP", "53"), ("TCP", "53")], dns.Ports.Select(p => (p.Protocol, p.Port.Value)));

        var api = Assert.Single(TenantManifests.AllowPlatformApi(TeamA, Options).Spec.Egress);
        var peer = Assert.Single(api.To);
        Assert.Equal("strata-system", peer.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"]);
        Assert.Equal("strata", peer.PodSelector.MatchLabels["app.kubernetes.io/name"]);
        Assert.Equal("8080", Assert.Single(api.Ports).Port.Value);
        Assert.Null(TenantManifests.AllowPlatformApi(TeamA, Options).Spec.Ingress);
    }

    [Fact]
    public void Only_the_platforms_namespace_reaches_model_pods_and_only_on_their_serving_port()
    {
        var policy = TenantManifests.AllowPlatformToModels(TeamA, Options);
        Assert.Equal(["Ingress"], policy.Spec.PolicyTypes);
        Assert.Equal("strata.dev/deployment", Assert.Single(policy.Spec.PodSelector.MatchExpressions).Key);
        var rule = Assert.Single(policy.Spec.Ingress);
        Assert.Equal("strata-system", Assert.Single(rule.FromProperty).NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"]);
        Assert.Equal("8080", Assert.Single(rule.Ports).Port.Value);
    }

    [Fact]
    public void A_tenant_has_ten_objects_all_in_its_namespace_and_labelled()
    {
        var objects = TenantManifests.Build(TeamA, Options);
        Assert.Equal(10, objects.Count);
        Assert.IsType<V1Namespace>(objects[0]);
        Assert.All(objects.Skip(1), o => Assert.Equal("ml-team-a", o.Metadata.NamespaceProperty));
        Assert.All(objects, o => Assert.Equal("strata", o.Metadata.Labels["managed-by"]));
    }

    [Fact]
    public void A_job_is_named_after_its_attempt_with_requests_equal_to_limits()
    {
        var job = JobManifests.Job(Launch(), Options);
        Assert.Equal("strata-0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b-2", job.Metadata.Name);
        Assert.True(job.Metadata.Name.Length <= 63);
        Assert.Equal("ml-team-a", job.Metadata.NamespaceProperty);
        Assert.Equal("2", job.Metadata.Labels["strata.dev/attempt"]);
        var container = Assert.Single(job.Spec.Template.Spec.Containers);
        Assert.Equal("registry/team-a/train:1", container.Image);
        Assert.Equal(["/bin/sh", "-c", "python train.py --epochs 3"], container.Command);
        Assert.Equal("4", container.Resources.Limits["cpu"].ToString());
        Assert.Equal("16Gi", container.Resources.Limits["memory"].ToString());
        Assert.Equal(container.Resources.Limits.ToDictionary(p => p.Key, p => p.Value.ToString()), container.Resources.Requests.ToDictionary(p => p.Key, p => p.Value.ToString()));
        Assert.False(container.Resources.Limits.ContainsKey("nvidia.com/gpu"));
        Assert.Null(job.Spec.Template.Spec.NodeSelector);
    }

    [Fact]
    public void Requirements_are_installed_by_an_init_container_of_the_jobs_image_into_a_volume_first_on_its_pythonpath()
    {
        var launch = Launch(gpus: 1) with
        {
            Environment = new Dictionary<string, string> { ["PYTHONPATH"] = "/app/src" },
            PythonEnvironment = new Contracts.EnvironmentSpec { Requirements = System.Text.Json.JsonSerializer.SerializeToElement(PandasAndSklearn) },
        };
        var options = new KubernetesRuntimeOptions { DefaultImage = "strata:test", PipIndexUrl = "https://mirror.internal/simple" };

        var pod = JobManifests.Job(launch, options).Spec.Template.Spec;

        var install = Assert.Single(pod.InitContainers);
        var training = Assert.Single(pod.Containers);
        Assert.Equal("environment", install.Name);
        Assert.Equal(training.Image, install.Image);
        Assert.Equal(["--index-url", "https://mirror.internal/simple", "pandas==2.2.2", "scikit-learn"], install.Command.Skip(4));
        Assert.Contains("pip install --no-cache-dir --target", install.Command[2], StringComparison.Ordinal);
        Assert.Equal(JobManifests.EnvironmentPath, install.Command[3]);
        Assert.Equal(training.SecurityContext, install.SecurityContext);
        Assert.False(install.Resources.Limits.ContainsKey(JobManifests.GpuResource));
        Assert.Equal("/strata/python:/app/src", training.Env.Single(e => e.Name == "PYTHONPATH").Value);
        Assert.Contains(training.VolumeMounts, m => m.Name == JobManifests.EnvironmentVolume && m.MountPath == JobManifests.EnvironmentPath && m.ReadOnlyProperty == true);
        Assert.Contains(pod.Volumes, v => v.Name == JobManifests.EnvironmentVolume && v.EmptyDir is not null);
    }

    [Fact]
    public void A_requirements_file_is_read_from_the_images_working_folder_and_no_requirements_need_no_init_container()
    {
        var file = Launch() with { PythonEnvironment = new Contracts.EnvironmentSpec { Requirements = System.Text.Json.JsonSerializer.SerializeToElement("requirements.txt") } };

        Assert.Equal(["-r", "requirements.txt"], Assert.Single(JobManifests.Job(file, Options).Spec.Template.Spec.InitContainers).Command.Skip(4));
        Assert.Null(JobManifests.Job(Launch(), Options).Spec.Template.Spec.InitContainers);
    }

    [Fact]
    public void An_operator_who_turned_installing_off_has_requirements_refused_with_the_reason()
    {
        var rules = JobManifests.EnvironmentRules(new KubernetesRuntimeOptions { InstallRequirements = false });

        Assert.Contains("InstallRequirements", rules.RequirementsRefusal, StringComparison.Ordinal);
        Assert.Null(JobManifests.EnvironmentRules(new KubernetesRuntimeOptions()).RequirementsRefusal);
    }

    [Fact]
    public void A_job_without_an_image_runs_the_platforms_image()
    {
        Assert.Equal("strata:test", Assert.Single(JobManifests.Job(Launch(image: null), Options).Spec.Template.Spec.Containers).Image);
    }

    [Fact]
    public void A_gpu_job_asks_for_gpus_and_selects_nodes_of_its_gpu_type()
    {
        var spec = JobManifests.Job(Launch(gpus: 2, gpuType: "nvidia-a100"), Options).Spec.Template.Spec;
        var container = Assert.Single(spec.Containers);
        Assert.Equal("2", container.Resources.Limits["nvidia.com/gpu"].ToString());
        Assert.Equal("2", container.Resources.Requests["nvidia.com/gpu"].ToString());
        Assert.Equal("nvidia-a100", spec.NodeSelector["strata.dev/gpu-type"]);
        Assert.Contains(spec.Tolerations, t => t.Key == "nvidia.com/gpu");
    }

    [Fact]
    public void A_gpu_type_in_the_operators_table_asks_for_its_mig_resource_or_selects_its_node_labels()
    {
        var options = new KubernetesRuntimeOptions
        {
            GpuTypes =
            {
                ["nvidia-a100-1g.10gb"] = new GpuTypeOptions { Resource = "nvidia.com/mig-1g.10gb" },
                ["nvidia-a100"] = new GpuTypeOptions { NodeSelector = { ["nvidia.com/gpu.product"] = "NVIDIA-A100-SXM4-80GB" } },
            },
        };

        var mig = JobManifests.Job(Launch(gpus: 1, gpuType: "nvidia-a100-1g.10gb"), options).Spec.Template.Spec;
        var migLimits = Assert.Single(mig.Containers).Resources.Limits;
        Assert.Equal("1", migLimits["nvidia.com/mig-1g.10gb"].ToString());
        Assert.False(migLimits.ContainsKey("nvidia.com/gpu"));
        Assert.Equal("1", Assert.Single(mig.Containers).Resources.Requests["nvidia.com/mig-1g.10gb"].ToString());
        Assert.Null(mig.NodeSelector);

        // Keys are compared without case.
        var labelled = JobManifests.Job(Launch(gpus: 2, gpuType: "NVIDIA-A100"), options).Spec.Template.Spec;
        Assert.Equal("2", Assert.Single(labelled.Containers).Resources.Limits["nvidia.com/gpu"].ToString());
        Assert.Equal(new Dictionary<string, string> { ["nvidia.com/gpu.product"] = "NVIDIA-A100-SXM4-80GB" }, labelled.NodeSelector);

        // A type the table does not know keeps the label selector.
        var other = JobManifests.Job(Launch(gpus: 1, gpuType: "nvidia-t4"), options).Spec.Template.Spec;
        Assert.Equal("1", Assert.Single(other.Containers).Resources.Limits["nvidia.com/gpu"].ToString());
        Assert.Equal("nvidia-t4", other.NodeSelector["strata.dev/gpu-type"]);
    }

    [Theory]
    [InlineData(null, null, "names neither a Resource nor a NodeSelector")]
    [InlineData("mig-1g.10gb", null, "must be an extended resource")]
    [InlineData("nvidia.com/mig-1g.10gb", null, null)]
    [InlineData(null, "NVIDIA-A100-SXM4-80GB", null)]
    public void A_gpu_types_entry_must_name_an_extended_resource_or_node_labels(string? resource, string? product, string? error)
    {
        var entry = new GpuTypeOptions { Resource = resource };
        if (product is not null) entry.NodeSelector["nvidia.com/gpu.product"] = product;
        var options = new KubernetesRuntimeOptions { GpuTypes = { ["nvidia-a100"] = entry } };

        var results = new List<System.ComponentModel.DataAnnotations.ValidationResult>();
        var valid = System.ComponentModel.DataAnnotations.Validator.TryValidateObject(options, new(options), results, validateAllProperties: true);

        Assert.Equal(error is null, valid);
        if (error is not null) Assert.Contains(error, Assert.Single(results).ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_attempt_of_a_job_mounts_the_jobs_checkpoint_claim_at_the_checkpoint_dir()
    {
        var first = JobManifests.Job(Launch() with { Attempt = new AttemptRef("team-a", "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", 1) }, Options).Spec.Template.Spec;
        var second = JobManifests.Job(Launch(workers: 3), Options).Spec.Template.Spec;
        foreach (var spec in new[] { first, second })
        {
            var volume = Assert.Single(spec.Volumes, v => v.PersistentVolumeClaim is not null);
            Assert.Equal("strata-0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b-checkpoints", volume.PersistentVolumeClaim.ClaimName);
            var mount = Assert.Single(spec.Containers[0].VolumeMounts, m => m.Name == volume.Name);
            Assert.Equal(JobManifests.CheckpointPath, mount.MountPath);
            Assert.Equal(JobManifests.CheckpointPath, spec.Containers[0].Env.Single(e => e.Name == "STRATA_CHECKPOINT_DIR").Value);
        }

        var without = JobManifests.Job(Launch(), new KubernetesRuntimeOptions { CheckpointVolumeGb = 0 }).Spec.Template.Spec;
        Assert.All(without.Volumes, v => Assert.Null(v.PersistentVolumeClaim));
    }

    [Fact]
    public void The_checkpoint_claim_has_the_configured_size_class_and_access_mode_in_the_tenants_namespace()
    {
        var claim = JobManifests.CheckpointClaim("team-a", "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", Options);
        Assert.Equal(("strata-0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b-checkpoints", "ml-team-a"), (claim.Metadata.Name, claim.Metadata.NamespaceProperty));
        Assert.Equal(["ReadWriteOnce"], claim.Spec.AccessModes);
        Assert.Null(claim.Spec.StorageClassName);
        Assert.Equal("10Gi", claim.Spec.Resources.Requests["storage"].ToString());
        Assert.Equal("0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", claim.Metadata.Labels["strata.dev/job-id"]);
        Assert.Equal("checkpoints", claim.Metadata.Labels["strata.dev/volume"]);
        // Owned by no Job: an attempt's end (its Job's TTL) must not take the job's checkpoints.
        Assert.Null(claim.Metadata.OwnerReferences);

        var shared = JobManifests.CheckpointClaim("team-a", "j", new KubernetesRuntimeOptions { CheckpointStorageClass = "nfs", CheckpointVolumeGb = 50, CheckpointAccessMode = "ReadWriteMany" });
        Assert.Equal(("nfs", "50Gi"), (shared.Spec.StorageClassName, shared.Spec.Resources.Requests["storage"].ToString()));
        Assert.Equal(["ReadWriteMany"], shared.Spec.AccessModes);
    }

    [Fact]
    public void A_job_runs_restricted_with_a_read_only_root_and_scratch_volumes()
    {
        var spec = JobManifests.Job(Launch(), Options).Spec.Template.Spec;
        var security = Assert.Single(spec.Containers).SecurityContext;
        Assert.True(security.RunAsNonRoot);
        Assert.False(security.AllowPrivilegeEscalation);
        Assert.True(security.ReadOnlyRootFilesystem);
        Assert.Equal(["ALL"], security.Capabilities.Drop);
        Assert.Equal("RuntimeDefault", security.SeccompProfile.Type);
        Assert.True(spec.SecurityContext.RunAsNonRoot);
        Assert.Equal("RuntimeDefault", spec.SecurityContext.SeccompProfile.Type);
        Assert.Equal("Never", spec.RestartPolicy);
        Assert.Equal("ml-job-runner", spec.ServiceAccountName);
        Assert.False(spec.AutomountServiceAccountToken);
        var mounts = Assert.Single(spec.Containers).VolumeMounts.Select(m => m.MountPath).ToList();
        Assert.Contains("/strata/work", mounts);
        Assert.Contains("/tmp", mounts);
        Assert.All(spec.Volumes.Where(v => v.Name != JobManifests.CheckpointVolume), v => Assert.NotNull(v.EmptyDir));
    }

    /// <summary>
    /// Issue 13's check on Kubernetes: a job's pod lives in its tenant's namespace, where the server's Secret
    /// (in the platform namespace) cannot be named; it mounts no secret, projected or host-path volume, and no
    /// claim but its own job's checkpoint claim (a claim is namespaced: the pod's namespace is its tenant's), takes
    /// no value from a Secret or ConfigMap, and has no token to ask the API for one; its role only reads, in its
    /// own namespace.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void A_jobs_pod_can_read_neither_the_servers_secret_nor_another_namespaces_volumes(int workers)
    {
        var job = JobManifests.Job(Launch(workers: workers), Options);
        var pod = job.Spec.Template.Spec;
        Assert.Equal("ml-team-a", job.Metadata.NamespaceProperty);
        Assert.NotEqual(Options.PlatformNamespace, job.Metadata.NamespaceProperty);
        Assert.All(pod.Volumes, v =>
        {
            if (v.PersistentVolumeClaim is { } claim) Assert.Equal("strata-0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b-checkpoints", claim.ClaimName);
            else Assert.NotNull(v.EmptyDir);
            Assert.Null(v.Secret);
            Assert.Null(v.Projected);
            Assert.Null(v.HostPath);
            Assert.Null(v.ConfigMap);
            Assert.Null(v.Csi);
            Assert.Null(v.Nfs);
        });
        var containers = pod.Containers.Concat(pod.InitContainers ?? []).ToList();
        Assert.All(containers, c =>
        {
            Assert.All(c.Env ?? [], e => Assert.Null(e.ValueFrom?.SecretKeyRef));
            Assert.Null(c.EnvFrom);
            Assert.All(c.VolumeMounts ?? [], m => Assert.Contains(pod.Volumes, v => v.Name == m.Name));
        });
        Assert.False(pod.AutomountServiceAccountToken);
        Assert.Null(pod.HostNetwork);
        Assert.Null(pod.HostPID);
        Assert.Null(pod.HostIPC);

        var role = TenantManifests.Build(TeamA, Options).OfType<V1Role>().Single();
        Assert.Equal("ml-team-a", role.Metadata.NamespaceProperty);
        Assert.DoesNotContain(role.Rules, r => r.Resources.Contains("secrets"));
    }

    [Fact]
    public void A_job_gets_the_contracts_environment_with_pod_paths_for_home_and_checkpoints()
    {
        var env = Assert.Single(JobManifests.Job(Launch(), Options).Spec.Template.Spec.Containers).Env.ToDictionary(e => e.Name, e => e.Value);
        Assert.Equal("/data/churn.csv", env["DATA_PATH"]);
        Assert.Equal("0.01", env["HYPERPARAM_LR"]);
        Assert.Equal("2", env["STRATA_ATTEMPT"]);
        Assert.Equal("/strata/work", env["HOME"]);
        Assert.Equal("/strata/work/checkpoints", env["STRATA_CHECKPOINT_DIR"]);
    }

    [Fact]
    public void Strata_retries_by_attempt_so_a_job_has_no_retries_of_its_own_and_fails_at_once_on_a_disruption_or_an_error_exit()
    {
        var spec = JobManifests.Job(Launch(), Options).Spec;
        Assert.Equal(0, spec.BackoffLimit);
        Assert.Equal(3600, spec.ActiveDeadlineSeconds);
        Assert.Equal(86400, spec.TtlSecondsAfterFinished);
        var rules = spec.PodFailurePolicy.Rules;
        // A disrupted pod is not replaced inside the Job: the attempt ends as evicted and Strata retries the whole gang.
        Assert.Equal("FailJob", rules[0].Action);
        Assert.Equal(("DisruptionTarget", "True"), (rules[0].OnPodConditions[0].Type, rules[0].OnPodConditions[0].Status));
        Assert.Equal("FailJob", rules[1].Action);
        Assert.Equal(("training", "NotIn"), (rules[1].OnExitCodes.ContainerName, rules[1].OnExitCodes.OperatorProperty));
        Assert.Equal([0], rules[1].OnExitCodes.Values);
    }

    [Fact]
    public void A_job_without_a_timeout_has_no_deadline()
    {
        Assert.Null(JobManifests.Job(Launch(timeout: null), Options).Spec.ActiveDeadlineSeconds);
    }

    [Fact]
    public void A_distributed_job_is_an_indexed_job_whose_workers_find_rank_0_by_its_stable_name()
    {
        var job = JobManifests.Job(Launch(workers: 4), Options);
        Assert.Equal("Indexed", job.Spec.CompletionMode);
        Assert.Equal(4, job.Spec.Completions);
        Assert.Equal(4, job.Spec.Parallelism);
        Assert.Equal(0, job.Spec.BackoffLimit); // one worker failing fails the gang
        Assert.Equal(job.Metadata.Name, job.Spec.Template.Spec.Subdomain);
        var env = Assert.Single(job.Spec.Template.Spec.Containers).Env;
        string Value(string name) => Assert.Single(env, e => e.Name == name).Value;
        Assert.Equal($"{job.Metadata.Name}-0.{job.Metadata.Name}.ml-team-a.svc", Value("MASTER_ADDR"));
        Assert.Equal("4", Value("WORLD_SIZE"));
        Assert.Equal("29500", Value("MASTER_PORT"));
        Assert.Equal("0", Value("LOCAL_RANK"));
        var rank = Assert.Single(env, e => e.Name == "RANK");
        Assert.Null(rank.Value);
        Assert.Equal("metadata.annotations['batch.kubernetes.io/job-completion-index']", rank.ValueFrom.FieldRef.FieldPath);
    }

    [Fact]
    public void A_distributed_jobs_headless_service_and_policy_are_owned_by_its_job()
    {
        var job = JobManifests.Job(Launch(workers: 4), Options);
        job.Metadata.Uid = "uid-1";
        var owner = JobManifests.OwnerOf(job);
        var attempt = Launch().Attempt;
        var service = JobManifests.HeadlessService(attempt, owner);
        Assert.Equal(job.Metadata.Name, service.Metadata.Name);
        Assert.Equal("None", service.Spec.ClusterIP);
        Assert.True(service.Spec.PublishNotReadyAddresses);
        Assert.Equal(job.Spec.Template.Metadata.Labels, service.Spec.Selector);
        Assert.Equal("uid-1", Assert.Single(service.Metadata.OwnerReferences).Uid);

        var policy = JobManifests.WorkersPolicy(attempt, owner);
        Assert.Equal(job.Spec.Template.Metadata.Labels, policy.Spec.PodSelector.MatchLabels);
        Assert.Equal(job.Spec.Template.Metadata.Labels, Assert.Single(Assert.Single(policy.Spec.Ingress).FromProperty).PodSelector.MatchLabels);
        Assert.Equal(job.Spec.Template.Metadata.Labels, Assert.Single(Assert.Single(policy.Spec.Egress).To).PodSelector.MatchLabels);
    }

    [Fact]
    public void The_attempt_is_read_back_from_a_jobs_labels()
    {
        var job = JobManifests.Job(Launch(), Options);
        Assert.Equal(Launch().Attempt, KubernetesNames.AttemptOf(job.Metadata));
        Assert.Null(KubernetesNames.AttemptOf(new V1ObjectMeta { Labels = new Dictionary<string, string> { ["tenant"] = "x" } }));
    }

    [Theory]
    [InlineData(4.0, "4")]
    [InlineData(0.5, "500m")]
    [InlineData(1.25, "1250m")]
    public void Cpu_quantities_are_whole_cores_or_millicores(double cores, string expected) =>
        Assert.Equal(expected, Quantities.Cpu(cores).ToString());

    [Fact]
    public void Generated_objects_serialize_with_their_kind_and_api_version()
    {
        var objects = TenantManifests.Build(TeamA, Options).Cast<IKubernetesObject>()
            .Append(JobManifests.Job(Launch(workers: 2), Options));
        foreach (var item in objects)
        {
            var yaml = KubernetesYaml.Serialize(item);
            var loaded = Assert.Single(KubernetesYaml.LoadAllFromString(yaml));
            Assert.Equal(item.GetType(), loaded.GetType());
        }
    }

    private static readonly DeploymentTarget Churn = new(
        new DeploymentKey("team-a", "churn"), "churn", 3, "file:///unused/model.zip", null, MinReplicas: 2, MaxReplicas: 6, TargetInFlight: 8,
        CpuCores: 1.5, MemoryGb: 2, ScalingMode: ScalingModes.Cpu, TargetCpuPercent: 60);

    private static readonly V1OwnerReference ChurnOwner = new() { ApiVersion = "apps/v1", Kind = "Deployment", Name = "model-churn", Uid = "uid-1", Controller = true };

    [Fact]
    public void A_model_deployment_rolls_out_without_losing_capacity_fetches_its_model_and_probes_its_server()
    {
        var deployment = DeploymentManifests.MainDeployment(Churn, "http://strata.strata-system.svc:8080", DateTimeOffset.UnixEpoch, Options);
        Assert.Equal("ml-team-a", deployment.Metadata.NamespaceProperty);
        Assert.Equal("model-churn", deployment.Metadata.Name);
        Assert.Equal("RollingUpdate", deployment.Spec.Strategy.Type);
        Assert.Equal("1", deployment.Spec.Strategy.RollingUpdate.MaxSurge.Value);
        Assert.Equal("0", deployment.Spec.Strategy.RollingUpdate.MaxUnavailable.Value);
        // The autoscaler (HPA or Strata's) owns the count: an apply that named it would take it back.
        Assert.Null(deployment.Spec.Replicas);
        var pod = deployment.Spec.Template.Spec;
        var container = Assert.Single(pod.Containers);
        Assert.Equal(["/app/worker/strata-worker", "serve", "--model", "/model", "--host", "0.0.0.0", "--port", "8080", "--model-name", "churn", "--version", "3"], container.Command);
        Assert.Equal("/health/ready", container.ReadinessProbe.HttpGet.Path);
        Assert.Equal("/health/live", container.LivenessProbe.HttpGet.Path);
        Assert.Equal("1500m", container.Resources.Limits["cpu"].ToString());
        Assert.Equal(container.Resources.Limits.ToDictionary(p => p.Key, p => p.Value.ToString()), container.Resources.Requests.ToDictionary(p => p.Key, p => p.Value.ToString()));
        Assert.True(container.SecurityContext.ReadOnlyRootFilesystem);
        Assert.Equal(["ALL"], container.SecurityContext.Capabilities.Drop);
        Assert.DoesNotContain(container.VolumeMounts, m => m.Name == "fetch-token");
        // The model arrives by the init container, with the version's number and the token from a mounted Secret.
        var fetch = Assert.Single(pod.InitContainers);
        Assert.Equal(["/app/worker/strata-worker", "fetch", "--url", "http://strata.strata-system.svc:8080", "--model", "churn", "--version", "3", "--out", "/model", "--token-file", "/var/run/strata/fetch/token"], fetch.Command);
        Assert.Equal("model-churn-fetch", Assert.Single(pod.Volumes, v => v.Secret is not null).Secret.SecretName);
        Assert.Null(fetch.Env);
        Assert.False(pod.AutomountServiceAccountToken);
        Assert.Equal("in_flight", new DeploymentTarget(Churn.Key, "churn", 3, "", null, 1, 1, 8, 1, 1).ScalingMode);

        var service = DeploymentManifests.Service(Churn.Key, ReplicaTrack.Main, "churn", Options, ChurnOwner);
        Assert.Equal(deployment.Spec.Selector.MatchLabels, service.Spec.Selector);
        Assert.Equal(8080, service.Spec.Ports[0].TargetPort.Value is var target ? int.Parse(target, System.Globalization.CultureInfo.InvariantCulture) : 0);
        Assert.Equal("uid-1", Assert.Single(service.Metadata.OwnerReferences).Uid);

        var hpa = DeploymentManifests.Autoscaler(Churn, ChurnOwner);
        Assert.Equal((2, 6), (hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas));
        Assert.Equal(60, Assert.Single(hpa.Spec.Metrics).Resource.Target.AverageUtilization);
        Assert.Equal(deployment.Metadata.Name, hpa.Spec.ScaleTargetRef.Name);

        var pdb = DeploymentManifests.DisruptionBudget(Churn.Key, ReplicaTrack.Main, "churn", ChurnOwner);
        Assert.Equal("1", pdb.Spec.MaxUnavailable.Value);
        Assert.Equal(deployment.Spec.Selector.MatchLabels, pdb.Spec.Selector.MatchLabels);

        // A canary is a second Deployment, owned by the first, whose pods its own Service selects.
        var canary = DeploymentManifests.CanaryDeployment(Churn, new CanaryTarget(4, "", null, 0.25), "http://api", Options, ChurnOwner);
        Assert.Equal("model-churn-canary", canary.Metadata.Name);
        Assert.Equal("0.25", canary.Metadata.Annotations["strata.dev/canary-weight"]);
        Assert.NotEqual(deployment.Spec.Selector.MatchLabels["strata.dev/track"], canary.Spec.Selector.MatchLabels["strata.dev/track"]);
        Assert.Equal(canary.Spec.Selector.MatchLabels, DeploymentManifests.Service(Churn.Key, ReplicaTrack.Canary, "churn", Options, ChurnOwner).Spec.Selector);
    }

    [Fact]
    public void An_object_speaks_for_a_deployment_only_in_its_tenants_namespace()
    {
        var labels = new Dictionary<string, string> { ["tenant"] = "team-b", ["strata.dev/deployment"] = "churn", ["strata.dev/track"] = "canary" };
        Assert.Equal((new DeploymentKey("team-b", "churn"), ReplicaTrack.Canary), DeploymentManifests.Identify(new V1ObjectMeta { NamespaceProperty = "ml-team-b", Labels = labels }));
        // A pod in team A's namespace labelled as team B's is not team B's replica.
        Assert.Null(DeploymentManifests.Identify(new V1ObjectMeta { NamespaceProperty = "ml-team-a", Labels = labels }));
        Assert.Null(DeploymentManifests.Identify(new V1ObjectMeta { NamespaceProperty = "ml-team-b", Labels = new Dictionary<string, string> { ["tenant"] = "team-b" } }));
    }

    [Fact]
    public void Model_deployment_objects_hold_no_token_and_long_names_stay_within_63_characters()
    {
        const string token = "eyJ-a-secret-token-value";
        var secret = DeploymentManifests.FetchSecret(Churn.Key, "churn", token, ChurnOwner);
        Assert.Equal(token, System.Text.Encoding.UTF8.GetString(secret.Data["token"]));
        IKubernetesObject[] specs =
        [
            DeploymentManifests.MainDeployment(Churn, "http://api", DateTimeOffset.UnixEpoch, Options),
            DeploymentManifests.CanaryDeployment(Churn, new CanaryTarget(4, "", null, 0.5), "http://api", Options, ChurnOwner),
            DeploymentManifests.Service(Churn.Key, ReplicaTrack.Main, "churn", Options, ChurnOwner),
            DeploymentManifests.Autoscaler(Churn, ChurnOwner),
        ];
        foreach (var item in specs) Assert.DoesNotContain(token, KubernetesJson.Serialize(item), StringComparison.Ordinal);

        var longName = new string('a', 63);
        foreach (var track in new[] { ReplicaTrack.Main, ReplicaTrack.Canary })
        {
            var name = DeploymentManifests.ObjectName(longName, track);
            Assert.True(name.Length <= 63, name);
            Assert.Matches("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", name);
        }
        Assert.NotEqual(DeploymentManifests.ObjectName(longName, ReplicaTrack.Main), DeploymentManifests.ObjectName(longName, ReplicaTrack.Canary));
    }
}
