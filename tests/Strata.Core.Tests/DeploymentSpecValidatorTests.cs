using System.Text.Json;
using Strata.Contracts;
using Strata.Core.Deployments;

namespace Strata.Core.Tests;

public sealed class DeploymentSpecValidatorTests
{
    private static string? DnsLabel(string? name) => name is "churn" or "fraud-v2" ? null : "must be a DNS-1123 label";

    /// <summary>A runtime that runs both scaling modes (as the Kubernetes one does).</summary>
    private static readonly string[] BothModes = [ScalingModes.InFlight, ScalingModes.Cpu];

    /// <summary>The local runtime's: requests in flight only.</summary>
    private static readonly string[] InFlightOnly = [ScalingModes.InFlight];

    private static IReadOnlyDictionary<string, string[]> Create(string json, int min = 1, int max = 2, string[]? modes = null)
    {
        var body = JsonSerializer.Deserialize<CreateDeploymentRequest>(json, StrataJson.Options)!;
        var name = body.Name ?? body.Model?.Split('@')[0];
        return DeploymentSpecValidator.CheckCreate(body, name, min, max, DnsLabel, modes ?? BothModes).ToDictionary();
    }

    private static IReadOnlyDictionary<string, string[]> Update(string json, string[]? modes = null) =>
        DeploymentSpecValidator.CheckUpdate(JsonSerializer.Deserialize<UpdateDeploymentRequest>(json, StrataJson.Options)!, modes ?? BothModes).ToDictionary();

    [Theory]
    [InlineData("""{"model": "churn@3"}""")]
    [InlineData("""{"model": "churn@production", "name": "fraud-v2", "compute": {"cpu_cores": 0.5, "memory_gb": 768}}""")]
    [InlineData("""{"model": "churn@3", "scaling": {"target_in_flight": 0.1}, "canary": {"model": "churn@2", "weight": 0.25}}""")]
    [InlineData("""{"model": "churn@3", "scaling": {"mode": "cpu", "target_cpu_percent": 1}}""")]
    [InlineData("""{"model": "churn@3", "scaling": {"mode": "in_flight", "target_cpu_percent": 100}}""")]
    public void A_good_create_request_has_no_errors(string json) => Assert.Empty(Create(json));

    [Theory]
    [InlineData("""{}""", "model")]
    [InlineData("""{"model": " "}""", "model,name")]
    [InlineData("""{"model": "Churn@3"}""", "name")]
    [InlineData("""{"model": "churn@3", "name": "not_a_label"}""", "name")]
    [InlineData("""{"model": "churn@3", "compute": {"cpu_cores": 97}}""", "compute.cpu_cores")]
    [InlineData("""{"model": "churn@3", "compute": {"memory_gb": 0}}""", "compute.memory_gb")]
    [InlineData("""{"model": "churn@3", "scaling": {"target_in_flight": 10001}}""", "scaling.target_in_flight")]
    [InlineData("""{"model": "churn@3", "scaling": {"mode": "memory"}}""", "scaling.mode")]
    [InlineData("""{"model": "churn@3", "scaling": {"mode": "CPU"}}""", "scaling.mode")]
    [InlineData("""{"model": "churn@3", "scaling": {"mode": ""}}""", "scaling.mode")]
    [InlineData("""{"model": "churn@3", "scaling": {"target_cpu_percent": 0}}""", "scaling.target_cpu_percent")]
    [InlineData("""{"model": "churn@3", "scaling": {"mode": "cpu", "target_cpu_percent": 101}}""", "scaling.target_cpu_percent")]
    [InlineData("""{"model": "churn@3", "canary": {"weight": 0.5}}""", "canary.model")]
    [InlineData("""{"model": "churn@3", "canary": {"model": "churn@2"}}""", "canary.weight")]
    [InlineData("""{"model": "churn@3", "canary": {"model": "churn@2", "weight": 1}}""", "canary.weight")]
    public void A_bad_create_request_names_the_fields(string json, string fields) => Assert.Equal(fields.Split(','), Create(json).Keys);

    [Theory]
    [InlineData(0, 2, "min_replicas")]
    [InlineData(1, 101, "max_replicas")]
    [InlineData(3, 2, "max_replicas")]
    public void Replica_counts_are_1_to_100_with_the_maximum_at_least_the_minimum(int min, int max, string field) =>
        Assert.Equal([field], Create("""{"model": "churn@3"}""", min, max).Keys);

    [Theory]
    [InlineData("""{}""")]
    [InlineData("""{"min_replicas": 100}""")]
    [InlineData("""{"canary": {"weight": 0}}""")]
    [InlineData("""{"canary": {"weight": 0.1}}""")]
    [InlineData("""{"canary": {"model": "churn@2", "weight": 0.9}}""")]
    [InlineData("""{"scaling": {"mode": "cpu"}}""")]
    [InlineData("""{"scaling": {"target_cpu_percent": 85}}""")]
    public void A_good_update_request_has_no_errors(string json) => Assert.Empty(Update(json));

    [Theory]
    [InlineData("""{"min_replicas": 101}""", "min_replicas,max_replicas")]
    [InlineData("""{"min_replicas": 5, "max_replicas": 4}""", "max_replicas")]
    [InlineData("""{"canary": {}}""", "canary")]
    [InlineData("""{"canary": {"model": "churn@2", "weight": 0}}""", "canary.weight")]
    [InlineData("""{"compute": {"cpu_cores": 0.05}}""", "compute.cpu_cores")]
    [InlineData("""{"scaling": {"mode": "requests"}}""", "scaling.mode")]
    [InlineData("""{"scaling": {"target_cpu_percent": -5}}""", "scaling.target_cpu_percent")]
    public void A_bad_update_request_names_the_fields(string json, string fields) => Assert.Equal(fields.Split(','), Update(json).Keys);

    [Fact]
    public void An_unknown_mode_is_answered_with_the_modes_there_are()
    {
        var error = Assert.Single(Create("""{"model": "churn@3", "scaling": {"mode": "memory"}}""")["scaling.mode"]);
        Assert.Contains("in_flight", error, StringComparison.Ordinal);
        Assert.Contains("cpu", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_mode_the_runtime_does_not_run_is_refused_saying_what_it_scales_on()
    {
        const string cpu = """{"model": "churn@3", "scaling": {"mode": "cpu"}}""";
        var error = Assert.Single(Create(cpu, modes: InFlightOnly)["scaling.mode"]);
        Assert.Contains("scales on requests in flight only", error, StringComparison.Ordinal);
        Assert.Equal(["scaling.mode"], Update("""{"scaling": {"mode": "cpu"}}""", InFlightOnly).Keys);
        Assert.Empty(Create("""{"model": "churn@3", "scaling": {"mode": "in_flight"}}""", modes: InFlightOnly));
        Assert.Empty(Create(cpu, modes: BothModes));
    }
}
