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
        Assert.Equal(new ProvisioningPass(2, 18, 0, 0), first);
        var ns = _cluster.Api.Get(FakeKubernetesApi.Namespaces, null, "ml-team-a")!;
        Assert.Equal("eng-42", ns["metadata"]!["labels"]!["cost-center"]!.GetValue<string>());
        Assert.Equal("restricted", ns["metadata"]!["labels"]!["pod-security.kubernetes.io/enforce"]!.GetValue<string>());
        Assert.Equal(3, _cluster.Api.List(FakeKubernetesApi.NetworkPolicies, "ml-team-b").Count);

        var writes = _cluster.Api.CountRequests("POST", "/") + _cluster.Api.CountRequests("PUT", "/");
        var second = await _cluster.NewProvisioner().ReconcileAllAsync(CancellationToken.None);
        Assert.Equal(new ProvisioningPass(2, 0, 0, 0), second);
        Assert.Equal(writes, _cluster.Api.CountRequests("POST", "/") + _cluster.Api.CountRequests("PUT", "/"));
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
    public async Task A_deleted_quota_and_an_edited_role_are_repaired_on_the_next_pass()
    {
        var provisioner = _cluster.NewProvisioner();
        await provisioner.ReconcileAllAsync(CancellationToken.None);

        _cluster.Api.Remove(FakeKubernetesApi.ResourceQuotas, "ml-team-a", TenantManifests.QuotaName);
        _cluster.Api.Update(FakeKubernetesApi.Roles, "ml-team-a", KubernetesNames.JobRole, role =>
            role["rules"]!.AsArray().Add(new JsonObject { ["apiGroups"] = new JsonArray(""), ["resources"] = new JsonArray("secrets"), ["verbs"] = new JsonArray("get") }));
        _cluster.Api.Update(FakeKubernetesApi.Namespaces, null, "ml-team-b", ns => ns["metadata"]!["labels"]!.AsObject().Remove("pod-security.kubernetes.io/enforce"));

        var pass = await provisioner.ReconcileAllAsync(CancellationToken.None);

        Assert.Equal(3, pass.Changed);
        Assert.NotNull(_cluster.Api.Get(FakeKubernetesApi.ResourceQuotas, "ml-team-a", TenantManifests.QuotaName));
        var rules = _cluster.Api.Get(FakeKubernetesApi.Roles, "ml-team-a", KubernetesNames.JobRole)!["rules"]!.AsArray();
        Assert.DoesNotContain(rules, r => r!["resources"]!.AsArray().Any(x => x!.GetValue<string>() == "secrets"));
        Assert.Equal("restricted", _cluster.Api.Get(FakeKubernetesApi.Namespaces, null, "ml-team-b")!["metadata"]!["labels"]!["pod-security.kubernetes.io/enforce"]!.GetValue<string>());
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
    public async Task A_conflicting_write_is_read_again_and_applied()
    {
        var provisioner = _cluster.NewProvisioner();
        await provisioner.ReconcileAllAsync(CancellationToken.None);
        _cluster.Api.Remove(FakeKubernetesApi.ResourceQuotas, "ml-team-a", TenantManifests.QuotaName);
        _cluster.Api.Update(FakeKubernetesApi.Roles, "ml-team-a", KubernetesNames.JobRole, role => role["rules"] = new JsonArray());
        // Another server created the quota first (409 on create), and changed the role between our read and our write (409 on replace).
        _cluster.Api.FailNext("POST", "/resourcequotas", 409);
        _cluster.Api.FailNext("PUT", "/roles/", 409);

        var pass = await provisioner.ReconcileAllAsync(CancellationToken.None);

        Assert.Equal(0, pass.Failed);
        Assert.NotNull(_cluster.Api.Get(FakeKubernetesApi.ResourceQuotas, "ml-team-a", TenantManifests.QuotaName));
        Assert.Equal(2, _cluster.Api.Get(FakeKubernetesApi.Roles, "ml-team-a", KubernetesNames.JobRole)!["rules"]!.AsArray().Count);
    }

    [Fact]
    public async Task A_tenant_that_fails_does_not_stop_the_others()
    {
        _cluster.Api.FailNext("POST", "/api/v1/namespaces", 403);
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
