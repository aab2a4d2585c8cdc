using k8s;
using k8s.Models;

namespace Strata.Server.Runtime.Kubernetes;

/// <summary>What a tenant's namespace holds, as the provisioner applies it.</summary>
/// <param name="CostCenter">Becomes the namespace's <c>cost-center</c> label when set.</param>
public sealed record TenantNamespace(string TenantId, string? CostCenter, TenantQuotaLimits Quota);

/// <summary>
/// Builds the objects of a tenant's namespace <c>ml-&lt;tenant&gt;</c> (DESIGN.md, "Runtimes"): the namespace
/// (Pod Security <c>restricted</c>), its ResourceQuota and LimitRange, the jobs' ServiceAccount with its Role
/// and RoleBinding, and NetworkPolicies that deny all traffic but DNS and the platform's API.
/// Pure: the same tenant always gives the same objects, which is what makes provisioning idempotent.
/// </summary>
public static class TenantManifests
{
    public const string QuotaName = "strata-quota";
    public const string LimitRangeName = "strata-limits";
    public const string DefaultDenyPolicy = "default-deny";
    public const string AllowDnsPolicy = "allow-dns";
    public const string AllowPlatformApiPolicy = "allow-platform-api";
    public const string AllowPlatformToModelsPolicy = "allow-platform-to-models";
    private const string PodSecurityLevel = "restricted";

    /// <summary>Every object of the tenant, the namespace first.</summary>
    public static IReadOnlyList<IKubernetesObject<V1ObjectMeta>> Build(TenantNamespace tenant, KubernetesRuntimeOptions options) =>
    [
        Namespace(tenant),
        ResourceQuota(tenant),
        LimitRange(tenant, options),
        ServiceAccount(tenant),
        Role(tenant),
        RoleBinding(tenant),
        DefaultDeny(tenant),
        AllowDns(tenant),
        AllowPlatformApi(tenant, options),
        AllowPlatformToModels(tenant, options),
    ];

    public static V1Namespace Namespace(TenantNamespace tenant)
    {
        var labels = Labels(tenant);
        if (!string.IsNullOrEmpty(tenant.CostCenter)) labels[KubernetesNames.CostCenterLabel] = tenant.CostCenter;
        foreach (var mode in new[] { "enforce", "warn", "audit" })
        {
            labels[$"pod-security.kubernetes.io/{mode}"] = PodSecurityLevel;
            labels[$"pod-security.kubernetes.io/{mode}-version"] = "latest";
        }
        return new V1Namespace { ApiVersion = "v1", Kind = "Namespace", Metadata = new V1ObjectMeta { Name = KubernetesNames.Namespace(tenant.TenantId), Labels = labels } };
    }

    public static V1ResourceQuota ResourceQuota(TenantNamespace tenant)
    {
        var quota = tenant.Quota;
        var cpu = Quantities.Cpu(quota.CpuCores);
        var memory = Quantities.MemoryGb(quota.MemoryGb);
        return new V1ResourceQuota
        {
            ApiVersion = "v1",
            Kind = "ResourceQuota",
            Metadata = Metadata(tenant, QuotaName),
            Spec = new V1ResourceQuotaSpec
            {
                Hard = new Dictionary<string, ResourceQuantity>(StringComparer.Ordinal)
                {
                    ["requests.cpu"] = cpu,
                    ["limits.cpu"] = cpu,
                    ["requests.memory"] = memory,
                    ["limits.memory"] = memory,
                    ["requests.nvidia.com/gpu"] = Quantities.Count(quota.GpuCount),
                    ["pods"] = Quantities.Count(quota.Pods),
                    ["count/jobs.batch"] = Quantities.Count(quota.Jobs),
                    ["persistentvolumeclaims"] = Quantities.Count(quota.PersistentVolumeClaims),
                },
            },
        };
    }

    /// <summary>
    /// Defaults for containers that name no resources (a quota on requests and limits refuses those
    /// otherwise), and requests equal to limits by default.
    /// </summary>
    public static V1LimitRange LimitRange(TenantNamespace tenant, KubernetesRuntimeOptions options)
    {
        var defaults = new Dictionary<string, ResourceQuantity>(StringComparer.Ordinal)
        {
            ["cpu"] = Quantities.Cpu(options.DefaultContainerCpuCores),
            ["memory"] = Quantities.MemoryGb(options.DefaultContainerMemoryGb),
        };
        return new V1LimitRange
        {
            ApiVersion = "v1",
            Kind = "LimitRange",
            Metadata = Metadata(tenant, LimitRangeName),
            Spec = new V1LimitRangeSpec
            {
                Limits =
                [
                    new V1LimitRangeItem
                    {
                        Type = "Container",
                        DefaultProperty = defaults,
                        DefaultRequest = new Dictionary<string, ResourceQuantity>(defaults, StringComparer.Ordinal),
                    },
                ],
            },
        };
    }

    /// <summary>The jobs' identity. No API token is mounted: a training process has no business with the cluster's API.</summary>
    public static V1ServiceAccount ServiceAccount(TenantNamespace tenant) => new()
    {
        ApiVersion = "v1",
        Kind = "ServiceAccount",
        Metadata = Metadata(tenant, KubernetesNames.JobServiceAccount),
        AutomountServiceAccountToken = false,
    };

    /// <summary>
    /// Least privilege: read the pods of the namespace (a distributed job may look its peers up) and its
    /// own config maps. No secrets, nothing that creates or changes anything.
    /// </summary>
    public static V1Role Role(TenantNamespace tenant) => new()
    {
        ApiVersion = "rbac.authorization.k8s.io/v1",
        Kind = "Role",
        Metadata = Metadata(tenant, KubernetesNames.JobRole),
        Rules =
        [
            new V1PolicyRule { ApiGroups = [""], Resources = ["pods", "pods/log"], Verbs = ["get", "list", "watch"] },
            new V1PolicyRule { ApiGroups = [""], Resources = ["configmaps"], Verbs = ["get"] },
        ],
    };

    public static V1RoleBinding RoleBinding(TenantNamespace tenant) => new()
    {
        ApiVersion = "rbac.authorization.k8s.io/v1",
        Kind = "RoleBinding",
        Metadata = Metadata(tenant, KubernetesNames.JobRole),
        Subjects = [new Rbacv1Subject { Kind = "ServiceAccount", Name = KubernetesNames.JobServiceAccount, NamespaceProperty = KubernetesNames.Namespace(tenant.TenantId) }],
        RoleRef = new V1RoleRef { ApiGroup = "rbac.authorization.k8s.io", Kind = "Role", Name = KubernetesNames.JobRole },
    };

    /// <summary>Nothing in or out, unless another policy allows it.</summary>
    public static V1NetworkPolicy DefaultDeny(TenantNamespace tenant) => new()
    {
        ApiVersion = "networking.k8s.io/v1",
        Kind = "NetworkPolicy",
        Metadata = Metadata(tenant, DefaultDenyPolicy),
        Spec = new V1NetworkPolicySpec { PodSelector = new V1LabelSelector(), PolicyTypes = ["Ingress", "Egress"] },
    };

    /// <summary>Name lookups, to the cluster's DNS in kube-system.</summary>
    public static V1NetworkPolicy AllowDns(TenantNamespace tenant) => new()
    {
        ApiVersion = "networking.k8s.io/v1",
        Kind = "NetworkPolicy",
        Metadata = Metadata(tenant, AllowDnsPolicy),
        Spec = new V1NetworkPolicySpec
        {
            PodSelector = new V1LabelSelector(),
            PolicyTypes = ["Egress"],
            Egress =
            [
                new V1NetworkPolicyEgressRule
                {
                    To =
                    [
                        new V1NetworkPolicyPeer
                        {
                            NamespaceSelector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["kubernetes.io/metadata.name"] = "kube-system" } },
                            PodSelector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["k8s-app"] = "kube-dns" } },
                        },
                    ],
                    Ports = [new V1NetworkPolicyPort { Protocol = "UDP", Port = 53 }, new V1NetworkPolicyPort { Protocol = "TCP", Port = 53 }],
                },
            ],
        },
    };

    /// <summary>Jobs report metrics and outputs to the platform's API (<c>STRATA_API_URL</c>).</summary>
    public static V1NetworkPolicy AllowPlatformApi(TenantNamespace tenant, KubernetesRuntimeOptions options) => new()
    {
        ApiVersion = "networking.k8s.io/v1",
        Kind = "NetworkPolicy",
        Metadata = Metadata(tenant, AllowPlatformApiPolicy),
        Spec = new V1NetworkPolicySpec
        {
            PodSelector = new V1LabelSelector(),
            PolicyTypes = ["Egress"],
            Egress =
            [
                new V1NetworkPolicyEgressRule
                {
                    To =
                    [
                        new V1NetworkPolicyPeer
                        {
                            NamespaceSelector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["kubernetes.io/metadata.name"] = options.PlatformNamespace } },
                            PodSelector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app.kubernetes.io/name"] = options.PlatformAppLabel } },
                        },
                    ],
                    Ports = [new V1NetworkPolicyPort { Protocol = "TCP", Port = options.PlatformApiPort }],
                },
            ],
        },
    };

    /// <summary>
    /// The platform's namespace (the server's predict route, and a Prometheus there scraping the replicas' <c>/metrics</c>)
    /// reaches model deployments' pods on their serving port; nothing else does, jobs of the same tenant included.
    /// </summary>
    public static V1NetworkPolicy AllowPlatformToModels(TenantNamespace tenant, KubernetesRuntimeOptions options) => new()
    {
        ApiVersion = "networking.k8s.io/v1",
        Kind = "NetworkPolicy",
        Metadata = Metadata(tenant, AllowPlatformToModelsPolicy),
        Spec = new V1NetworkPolicySpec
        {
            PodSelector = new V1LabelSelector
            {
                MatchExpressions = [new V1LabelSelectorRequirement { Key = DeploymentManifests.DeploymentLabel, OperatorProperty = "Exists" }],
            },
            PolicyTypes = ["Ingress"],
            Ingress =
            [
                new V1NetworkPolicyIngressRule
                {
                    FromProperty =
                    [
                        new V1NetworkPolicyPeer
                        {
                            NamespaceSelector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["kubernetes.io/metadata.name"] = options.PlatformNamespace } },
                        },
                    ],
                    Ports = [new V1NetworkPolicyPort { Protocol = "TCP", Port = DeploymentManifests.ServerPort }],
                },
            ],
        },
    };

    private static V1ObjectMeta Metadata(TenantNamespace tenant, string name) => new()
    {
        Name = name,
        NamespaceProperty = KubernetesNames.Namespace(tenant.TenantId),
        Labels = Labels(tenant),
    };

    private static Dictionary<string, string> Labels(TenantNamespace tenant) => new(StringComparer.Ordinal)
    {
        [KubernetesNames.TenantLabel] = tenant.TenantId,
        [KubernetesNames.ManagedByLabel] = KubernetesNames.ManagedByValue,
    };
}
