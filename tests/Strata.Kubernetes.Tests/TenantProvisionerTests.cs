using System.Text.Json.Nodes;
using Strata.Server.Runtime.Kubernetes;

namespace Strata.Kubernetes.Tests;

/// <summary>Tenant provisioning against the fake API server: idempotent passes, drift repaired, deleted tenants' namespaces removed.</summary>
public sealed class TenantProvisionerTests : IAsyncLifetime
{
    private ClusterHarness _cluster = null!;

    public async Task InitializeAsync()
    {
        _cluster = await ClusterHarness.StartAsync();
        await _cluster.AddTenantAsync("team-a", costCenter: "eng-42");
        await _cluster.AddTenantAsync("team-b");
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task A_pass_creates_every_tenants_objects_and_a_second_pass_changes_nothing()
    {
        var provisioner = _cluster.NewProvisioner();
        var first = await provisioner.ReconcileAllAsync(CancellationToken.None);
        Assert.Equal(new ProvisioningPass(2, 20, 0, 0), first);
        var ns = _cluster.Api.Get(FakeKubernetesApi.Namespaces, null, "ml-team-a")!;
        Assert.Equal("eng-42", ns["metadata"]!["labels"]!["cost-center"]!.GetValue<string>());
        Assert.Equal("restricted", ns["metadata"]!["labels"]!["pod-security.kubernetes.io/enforce"]!.GetValue<string>());
        Assert.Equal(4, _cluster.Api.List(FakeKubernetesApi.NetworkPolicies, "ml-team-b").Count);

        // Every object is server-side applied by the field manager "strata", which owns what it set.
        Assert.Equal(20, _cluster.Api.CountApplies("fieldManager=strata&force=false"));
        Assert.Equal(0, _cluster.Api.CountRequests("POST", "/") + _cluster.Api.CountRequests("PUT", "/"));
        Assert.Contains(".spec.hard", _cluster.Api.FieldsOwnedBy(FakeKubernetesApi.ResourceQuotas, "ml-team-a", TenantManifests.QuotaName, ClusterApi.FieldManager));

        var version = _cluster.Api.ResourceVersion;
        var second = await _cluster.NewProvisioner().ReconcileAllAsync(CancellationToken.None);
        Assert.Equal(new ProvisioningPass(2, 0, 0, 0), second);
        // Applying what is there already writes nothing.
        Assert.Equal(version, _cluster.Api.ResourceVersion);
    }

    [Fact]
    public async Task The_ResourceQuota_takes_cores_memory_and_GPUs_from_the_tenants_own_quota()
    {
        await using (var db = _cluster.Store.CreateContext())
        {
            var tenant = db.Tenants.Single(t => t.Id == "team-a");
            tenant.QuotaCpuCores = 12;
            tenant.QuotaMemoryGb = 48;
            tenant.QuotaGpuCount = 2;
            await db.SaveChangesAsync();
        }

        await _cluster.NewProvisioner().ReconcileAllAsync(CancellationToken.None);

        var hard = _cluster.Api.Get(FakeKubernetesApi.ResourceQuotas, "ml-team-a", TenantManifests.QuotaName)!["spec"]!["hard"]!;
        Assert.Equal("12", hard["requests.cpu"]!.GetValue<string>());
        Assert.Equal("12", hard["limits.cpu"]!.GetValue<string>());
        Assert.Equal("48Gi", hard["requests.memory"]!.GetValue<string>());
        Assert.Equal("2", hard["requests.nvidia.com/gpu"]!.GetValue<string>());
        // team-b has no quota of its own: the server's defaults.
        var defaults = new Strata.Server.Quotas.QuotaDefaults();
        var other = _cluster.Api.Get(FakeKubernetesApi.ResourceQuotas, "ml-team-b", TenantManifests.QuotaName)!["spec"]!["hard"]!;
        Assert.Equal(defaults.CpuCores.ToString(System.Globalization.CultureInfo.InvariantCulture), other["requests.cpu"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_deleted_quota_and_a_removed_label_are_put_back_on_the_next_pass()
    {
        var provisioner = _cluster.NewProvisioner();
        await provisioner.ReconcileAllAsync(CancellationToken.None);

        _cluster.Api.Remove(FakeKubernetesApi.ResourceQuotas, "ml-team-a", TenantManifests.QuotaName);
        _cluster.Api.Update(FakeKubernetesApi.Namespaces, null, "ml-team-b", ns => ns["metadata"]!["labels"]!.AsObject().Remove("pod-security.kubernetes.io/enforce"));

        var pass = await provisioner.ReconcileAllAsync(CancellationToken.None);

        Assert.Equal(new ProvisioningPass(2, 1, 0, 0), pass);
        Assert.NotNull(_cluster.Api.Get(FakeKubernetesApi.ResourceQuotas, "ml-team-a", TenantManifests.QuotaName));
        Assert.Equal("restricted", _cluster.Api.Get(FakeKubernetesApi.Namespaces, null, "ml-team-b")!["metadata"]!["labels"]!["pod-security.kubernetes.io/enforce"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_field_another_manager_changed_is_reported_as_a_conflict_and_not_overwritten()
    {
        var provisioner = _cluster.NewProvisioner();
        await provisioner.ReconcileAllAsync(CancellationToken.None);
        // Someone grants the jobs' role more with kubectl edit: the rules are now theirs.
        _cluster.Api.Update(FakeKubernetesApi.Roles, "ml-team-a", KubernetesNames.JobRole, role =>
            role["rules"]!.AsArray().Add(new JsonObject { ["apiGroups"] = new JsonArray(""), ["resources"] = new JsonArray("secrets"), ["verbs"] = new JsonArray("get") }));

        var pass = await provisioner.ReconcileAllAsync(CancellationToken.None);

        // team-a's pass fails (and is logged); team-b's goes on.
        Assert.Equal(new ProvisioningPass(2, 0, 0, 1), pass);
        var rules = _cluster.Api.Get(FakeKubernetesApi.Roles, "ml-team-a", KubernetesNames.JobRole)!["rules"]!.AsArray();
        Assert.Contains(rules, r => r!["resources"]!.AsArray().Any(x => x!.GetValue<string>() == "secrets"));
        Assert.Equal([".rules"], _cluster.Api.FieldsOwnedBy(FakeKubernetesApi.Roles, "ml-team-a", KubernetesNames.JobRole, FakeKubernetesApi.KubectlEdit));

        var role = TenantManifests.Build(new TenantNamespace("team-a", null, new TenantQuotaLimits()), _cluster.Options).OfType<k8s.Models.V1Role>().Single();
        var conflict = await Assert.ThrowsAsync<ApplyConflictException>(() => _cluster.NewClusterApi().ApplyAsync(role, CancellationToken.None));
        Assert.Contains("conflict with \"kubectl-edit\": .rules", conflict.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_deleted_tenants_namespace_is_deleted_and_others_are_left_alone()
    {
        var provisioner = _cluster.NewProvisioner();
        await provisioner.ReconcileAllAsync(CancellationToken.None);
        // A namespace that carries Strata's labels but is not named after the tenant is not Strata's to delete.
        _cluster.Api.Put(FakeKubernetesApi.Namespaces, new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Namespace",
            ["metadata"] = new JsonObject { ["name"] = "someone-else", ["labels"] = new JsonObject { ["managed-by"] = "strata", ["tenant"] = "team-gone" } },
        });

        await _cluster.RemoveTenantAsync("team-a");
        var pass = await provisioner.ReconcileAllAsync(CancellationToken.None);

        Assert.Equal(1, pass.NamespacesDeleted);
        Assert.Null(_cluster.Api.Get(FakeKubernetesApi.Namespaces, null, "ml-team-a"));
        Assert.Empty(_cluster.Api.List(FakeKubernetesApi.ResourceQuotas, "ml-team-a"));
        Assert.NotNull(_cluster.Api.Get(FakeKubernetesApi.Namespaces, null, "ml-team-b"));
        Assert.NotNull(_cluster.Api.Get(FakeKubernetesApi.Namespaces, null, "someone-else"));
    }

    [Fact]
    public async Task Two_servers_applying_at_once_do_not_conflict_they_are_one_field_manager()
    {
        var passes = await Task.WhenAll(_cluster.NewProvisioner().ReconcileAllAsync(CancellationToken.None), _cluster.NewProvisioner().ReconcileAllAsync(CancellationToken.None));

        Assert.All(passes, pass => Assert.Equal(0, pass.Failed));
        // Each object was created once, by one of them.
        Assert.Equal(20, passes.Sum(pass => pass.Created));
        Assert.Equal(2, _cluster.Api.Get(FakeKubernetesApi.Roles, "ml-team-a", KubernetesNames.JobRole)!["rules"]!.AsArray().Count);
    }

    [Fact]
    public async Task A_tenant_that_fails_does_not_stop_the_others()
    {
        _cluster.Api.FailNext("PATCH", "/api/v1/namespaces", 403);
        var pass = await _cluster.NewProvisioner().ReconcileAllAsync(CancellationToken.None);
        Assert.Equal(1, pass.Failed);
        Assert.Single(_cluster.Api.List(FakeKubernetesApi.Namespaces));
    }

    [Fact]
    public async Task A_deleting_tenant_is_not_provisioned_and_its_teardown_deletes_its_namespace_and_waits_until_it_is_gone()
    {
        var provisioner = _cluster.NewProvisioner();
        await provisioner.ReconcileAllAsync(CancellationToken.None);
        await using (var db = _cluster.Store.CreateContext())
        {
            db.Tenants.Single(t => t.Id == "team-a").DeletingSince = DateTimeOffset.UtcNow;
            await db.SaveChangesAsync();
        }

        Assert.False(await provisioner.ProvisionAsync("team-a", CancellationToken.None));
        // The first call asks for the deletion; the namespace (gone at once on the fake) is then seen gone.
        var done = await provisioner.TearDownAsync("team-a", CancellationToken.None) || await provisioner.TearDownAsync("team-a", CancellationToken.None);
        Assert.True(done);
        Assert.Null(_cluster.Api.Get(FakeKubernetesApi.Namespaces, null, "ml-team-a"));
        Assert.NotNull(_cluster.Api.Get(FakeKubernetesApi.Namespaces, null, "ml-team-b"));
        var pass = await provisioner.ReconcileAllAsync(CancellationToken.None);
        Assert.Equal(1, pass.Tenants);
        Assert.Null(_cluster.Api.Get(FakeKubernetesApi.Namespaces, null, "ml-team-a"));
    }

    [Fact]
    public async Task Teardown_leaves_a_namespace_that_is_not_the_tenants_own()
    {
        await _cluster.NewProvisioner().ReconcileAllAsync(CancellationToken.None);
        _cluster.Api.Update(FakeKubernetesApi.Namespaces, null, "ml-team-b", ns => ns["metadata"]!["labels"]!.AsObject().Remove(KubernetesNames.TenantLabel));

        Assert.True(await _cluster.NewProvisioner().TearDownAsync("team-b", CancellationToken.None));
        Assert.NotNull(_cluster.Api.Get(FakeKubernetesApi.Namespaces, null, "ml-team-b"));
    }
}
