using k8s;
using k8s.Models;

namespace Strata.Kubernetes.Tests;

/// <summary>Every YAML under deploy/kubernetes loads into the official client's typed models, and says what the issue asks.</summary>
public sealed class DeployManifestTests
{
    private static readonly string Folder = Path.Combine(RepositoryRoot(), "deploy", "kubernetes");

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Strata.slnx"))) directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("repository root not found");
    }

    /// <summary>Every object of every manifest (kustomization.yaml is kustomize's own file, not an object).</summary>
    private static List<object> Objects() => Directory.GetFiles(Folder, "*.yaml")
        .Where(f => Path.GetFileName(f) != "kustomization.yaml")
        .SelectMany(f => KubernetesYaml.LoadAllFromString(File.ReadAllText(f)))
        .ToList();

    private static T One<T>() => Assert.Single(Objects().OfType<T>());

    [Fact]
    public void Every_manifest_loads_into_typed_models()
    {
        foreach (var file in Directory.GetFiles(Folder, "*.yaml").Where(f => Path.GetFileName(f) != "kustomization.yaml"))
        {
            var objects = KubernetesYaml.LoadAllFromString(File.ReadAllText(file));
            Assert.NotEmpty(objects);
            Assert.All(objects, o => Assert.IsAssignableFrom<IKubernetesObject<V1ObjectMeta>>(o));
        }
    }

    [Fact]
    public void The_kustomization_lists_every_manifest_and_nothing_missing()
    {
        var kustomization = File.ReadAllLines(Path.Combine(Folder, "kustomization.yaml"));
        var listed = kustomization.SkipWhile(l => l.Trim() != "resources:").Skip(1).TakeWhile(l => l.TrimStart().StartsWith("- ", StringComparison.Ordinal))
            .Select(l => l.Trim()[2..]).ToHashSet(StringComparer.Ordinal);
        var files = Directory.GetFiles(Folder, "*.yaml").Select(Path.GetFileName).Where(f => f != "kustomization.yaml").ToHashSet(StringComparer.Ordinal);
        Assert.Equal(files.Order(), listed.Order());
    }

    [Fact]
    public void The_server_runs_three_spread_replicas_with_probes_as_a_non_root_user()
    {
        var deployment = One<V1Deployment>();
        Assert.Equal(3, deployment.Spec.Replicas);
        Assert.NotEmpty(deployment.Spec.Template.Spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution);
        var container = Assert.Single(deployment.Spec.Template.Spec.Containers);
        Assert.Equal("/health/ready", container.ReadinessProbe.HttpGet.Path);
        Assert.Equal("/health/live", container.LivenessProbe.HttpGet.Path);
        Assert.True(deployment.Spec.Template.Spec.SecurityContext.RunAsNonRoot);
        Assert.Equal("strata", deployment.Spec.Template.Spec.ServiceAccountName);
        Assert.Equal("strata", Assert.Single(container.EnvFrom).ConfigMapRef.Name);
        Assert.Equal(deployment.Spec.Selector.MatchLabels, One<V1Service>().Spec.Selector);
    }

    [Fact]
    public void The_configuration_selects_the_kubernetes_runtime_and_leader_election()
    {
        var data = One<V1ConfigMap>().Data;
        Assert.Equal("kubernetes", data["Runtime__Kind"]);
        Assert.Equal("true", data["Leadership__Enabled"]);
        Assert.Equal("postgres", data["Storage__Provider"]);
    }

    [Fact]
    public void The_autoscaler_keeps_two_to_ten_replicas_at_70_percent_cpu_and_drains_take_one_at_a_time()
    {
        var hpa = One<V2HorizontalPodAutoscaler>();
        Assert.Equal((2, 10), (hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas));
        Assert.Equal(70, Assert.Single(hpa.Spec.Metrics).Resource.Target.AverageUtilization);
        Assert.Equal("strata", hpa.Spec.ScaleTargetRef.Name);
        Assert.Equal("1", One<V1PodDisruptionBudget>().Spec.MaxUnavailable.Value);
    }

    [Fact]
    public void The_cluster_role_covers_what_strata_manages_and_only_writes_secrets()
    {
        var role = One<V1ClusterRole>();
        Assert.DoesNotContain(role.Rules, r => r.Resources.Contains("*") || r.Verbs.Contains("*"));
        bool Allows(string group, string resource, string verb) =>
            role.Rules.Any(r => r.ApiGroups.Contains(group) && r.Resources.Contains(resource) && r.Verbs.Contains(verb));
        // Server-side apply is a patch, and a create where it creates.
        foreach (var (group, resource) in new[] { ("", "namespaces"), ("", "resourcequotas"), ("", "limitranges"), ("", "serviceaccounts"), ("", "services"), ("", "persistentvolumeclaims"), ("", "secrets"), ("batch", "jobs"), ("rbac.authorization.k8s.io", "roles"), ("rbac.authorization.k8s.io", "rolebindings"), ("networking.k8s.io", "networkpolicies"), ("apps", "deployments"), ("autoscaling", "horizontalpodautoscalers"), ("policy", "poddisruptionbudgets") })
        {
            Assert.True(Allows(group, resource, "patch") && Allows(group, resource, "create"), $"{resource}: create and patch");
        }
        // Secrets: applied, never read back (get, list, watch) nor deleted (the garbage collector does that with their Job).
        var secretVerbs = role.Rules.Where(r => r.Resources.Contains("secrets")).SelectMany(r => r.Verbs).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["create", "patch"], secretVerbs);
        Assert.True(Allows("batch", "jobs", "watch"));
        Assert.True(Allows("", "namespaces", "delete"));
        // Model deployments: watched with their Services and pods, scaled by the platform's autoscaler, deleted whole through their owner.
        Assert.True(Allows("apps", "deployments", "watch") && Allows("apps", "deployments", "delete") && Allows("", "services", "watch"));
        Assert.True(Allows("apps", "deployments/scale", "patch"));
        Assert.True(Allows("autoscaling", "horizontalpodautoscalers", "delete"));
        Assert.True(Allows("", "pods/log", "get"));
        // The jobs' Role may only be created by someone holding its permissions.
        Assert.True(Allows("", "pods", "watch") && Allows("", "configmaps", "get"));
        var binding = One<V1ClusterRoleBinding>();
        Assert.Equal(("strata", "strata-system"), (Assert.Single(binding.Subjects).Name, binding.Subjects[0].NamespaceProperty));
    }

    [Fact]
    public void Strata_reads_nodes_and_writes_pods_only_in_its_own_namespace_for_placeholders()
    {
        var role = One<V1ClusterRole>();
        Assert.Equal(["get", "list", "watch"], role.Rules.Where(r => r.Resources.Contains("nodes")).SelectMany(r => r.Verbs).Order(StringComparer.Ordinal));
        Assert.DoesNotContain(role.Rules, r => r.Resources.Contains("pods") && r.Verbs.Intersect(["create", "patch", "update", "delete"]).Any());
        var placeholders = One<V1Role>();
        Assert.Equal("strata-system", placeholders.Metadata.NamespaceProperty);
        Assert.Equal(["create", "delete", "patch"], Assert.Single(placeholders.Rules).Verbs.Order(StringComparer.Ordinal));
        Assert.Equal(["pods"], placeholders.Rules[0].Resources);
        var binding = One<V1RoleBinding>();
        Assert.Equal((placeholders.Metadata.Name, "strata"), (binding.RoleRef.Name, Assert.Single(binding.Subjects).Name));
    }

    [Fact]
    public void Placeholders_have_a_priority_below_every_real_pod_that_the_cluster_autoscaler_still_acts_on()
    {
        var priority = One<V1PriorityClass>();
        // Below 0 (the default): any real pod preempts them. At or above -10, the cluster autoscaler's default cut-off
        // for expendable pods: it adds nodes for them.
        Assert.InRange(priority.Value ?? 0, -10, -1);
        Assert.Equal("Never", priority.PreemptionPolicy);
        Assert.False(priority.GlobalDefault);
        Assert.Equal(priority.Metadata.Name, One<V1ConfigMap>().Data["Runtime__Kubernetes__PlaceholderPriorityClass"]);
    }

    [Fact]
    public void The_queue_depth_autoscaling_scales_reserve_pods_on_the_pending_jobs_exposed_by_the_prometheus_adapter()
    {
        var folder = Path.Combine(Folder, "queue-depth");
        var kustomization = File.ReadAllLines(Path.Combine(folder, "kustomization.yaml"));
        var listed = kustomization.SkipWhile(l => l.Trim() != "resources:").Skip(1).TakeWhile(l => l.TrimStart().StartsWith("- ", StringComparison.Ordinal))
            .Select(l => l.Trim()[2..]).Order(StringComparer.Ordinal);
        Assert.Equal(Directory.GetFiles(folder, "*.yaml").Select(Path.GetFileName).Where(f => f != "kustomization.yaml").Order(StringComparer.Ordinal), listed);
        var objects = Directory.GetFiles(folder, "*.yaml").Where(f => Path.GetFileName(f) != "kustomization.yaml")
            .SelectMany(f => KubernetesYaml.LoadAllFromString(File.ReadAllText(f))).ToList();

        // The adapter's rule names the metric the server exports (docs/metrics.md) and keeps its name.
        var adapter = Assert.Single(objects.OfType<V1ConfigMap>());
        var rules = new YamlDotNet.Serialization.DeserializerBuilder().Build().Deserialize<Dictionary<string, List<Dictionary<string, object>>>>(adapter.Data["config.yaml"]);
        var rule = Assert.Single(rules["externalRules"]);
        Assert.StartsWith("ml_platform_queue_depth{", (string)rule["seriesQuery"], StringComparison.Ordinal);
        Assert.Equal("ml_platform_queue_depth", ((Dictionary<object, object>)rule["name"])["as"]);
        Assert.Contains("<<.Series>>{<<.LabelMatchers>>}", (string)rule["metricsQuery"], StringComparison.Ordinal);
        Assert.Contains("`ml_platform_queue_depth`", File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "metrics.md")), StringComparison.Ordinal);

        var hpa = Assert.Single(objects.OfType<V2HorizontalPodAutoscaler>());
        var metric = Assert.Single(hpa.Spec.Metrics);
        Assert.Equal(("External", "ml_platform_queue_depth", "AverageValue"), (metric.Type, metric.External.Metric.Name, metric.External.Target.Type));
        Assert.Equal("1", metric.External.Target.AverageValue.ToString());
        Assert.Equal(0, hpa.Spec.Behavior.ScaleUp.StabilizationWindowSeconds);
        Assert.True(hpa.Spec.Behavior.ScaleDown.StabilizationWindowSeconds >= 60);

        var reserve = Assert.Single(objects.OfType<V1Deployment>());
        Assert.Equal(reserve.Metadata.Name, hpa.Spec.ScaleTargetRef.Name);
        var pod = reserve.Spec.Template.Spec;
        Assert.Equal(One<V1PriorityClass>().Metadata.Name, pod.PriorityClassName);
        // strata-system enforces the restricted Pod Security Standard.
        Assert.True(pod.SecurityContext.RunAsNonRoot);
        Assert.Equal("RuntimeDefault", pod.SecurityContext.SeccompProfile.Type);
        var container = Assert.Single(pod.Containers);
        Assert.False(container.SecurityContext.AllowPrivilegeEscalation);
        Assert.Equal(["ALL"], container.SecurityContext.Capabilities.Drop);
        Assert.Equal(container.Resources.Requests["cpu"], container.Resources.Limits["cpu"]);
    }
}
