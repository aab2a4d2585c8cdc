using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Observability;

/// <summary>
/// An app in which one tenant has jobs of every outcome: one succeeded, one failed (<c>exit 3</c>), one
/// cancelled before it ran, one running on the whole machine and, behind it, one pending.
/// </summary>
public sealed class JobsOfEveryOutcome : IAsyncLifetime
{
    public SqliteApp App { get; } = new();
    public string Tenant { get; private set; } = "";
    public List<string> JobIds { get; } = [];
    private HttpClient? _client;

    public async Task InitializeAsync()
    {
        await App.InitializeAsync();
        (Tenant, _client) = await App.TenantClientAsync("observed");
        var succeeded = await SubmitAsync("succeeds", "true", cpuCores: 1);
        var failed = await SubmitAsync("fails", "exit 3", cpuCores: 1);
        await StrataApp.WaitForStatusAsync(_client, succeeded, "succeeded");
        await StrataApp.WaitForStatusAsync(_client, failed, "failed");

        // The app's local runtime has 8 cores: this holds them all, so what follows waits.
        var blocker = await SubmitAsync("blocker", "sleep 300", cpuCores: 8);
        await StrataApp.WaitForStatusAsync(_client, blocker, "running");
        var cancelled = await SubmitAsync("cancelled", "true", cpuCores: 1);
        await SubmitAsync("pending", "true", cpuCores: 1);
        using var cancel = await _client.DeleteAsync($"/v1/jobs/training/{cancelled}");
        Assert.Equal(HttpStatusCode.NoContent, cancel.StatusCode);
        await StrataApp.WaitForStatusAsync(_client, cancelled, "cancelled");
    }

    private async Task<string> SubmitAsync(string name, string entrypoint, int cpuCores)
    {
        var job = await StrataApp.SubmitAsync(_client!, new { name, entrypoint, compute = new { cpu_cores = cpuCores, memory_gb = 1 } });
        var id = job.GetProperty("id").GetString()!;
        JobIds.Add(id);
        return id;
    }

    /// <summary>GET /metrics without a token; asserts a 200 in the Prometheus text format.</summary>
    public async Task<(HttpResponseMessage Response, string Body)> ScrapeRawAsync()
    {
        using var anonymous = App.AnonymousClient();
        var response = await anonymous.GetAsync("/metrics");
        return (response, await response.Content.ReadAsStringAsync());
    }

    public async Task<PrometheusText> ScrapeAsync()
    {
        var (response, body) = await ScrapeRawAsync();
        using (response)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        return PrometheusText.Parse(body);
    }

    public async Task DisposeAsync()
    {
        _client?.Dispose();
        await App.DisposeAsync();
    }
}

/// <summary><c>/metrics</c> against the contract in docs/metrics.md, after jobs of every outcome.</summary>
/// <remarks>
/// Run alone: every app's MeterProvider listens to meters by name across the whole test process, so
/// another app alive at the same time can register the same instruments first and this app's own
/// counts go missing from its scrape (seen once more test classes ran in parallel).
/// </remarks>
[Collection(Process.ServerProcessCollection.Name)]
public sealed partial class MetricsEndpointTests(JobsOfEveryOutcome jobs) : IClassFixture<JobsOfEveryOutcome>
{
    [Fact]
    public async Task Metrics_are_served_without_a_token_in_the_prometheus_text_format()
    {
        var (response, body) = await jobs.ScrapeRawAsync();
        using (response)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal("0.0.4", response.Content.Headers.ContentType?.Parameters.Single(p => p.Name == "version").Value);
        }
        Assert.Contains("# TYPE ml_platform_jobs_created_total counter", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Every_metric_of_the_contract_is_exported_with_its_type_and_labels()
    {
        var metrics = await jobs.ScrapeAsync();
        var contract = Contract();
        Assert.True(contract.Count >= 12, $"docs/metrics.md lists only {contract.Count} metrics; the table was not read.");
        foreach (var (name, type, labels) in contract)
        {
            // No deployment here: checked with one by Deployments/ReplicaTargetsTests and Monitoring/PrometheusQueriesTests.
            if (name == "ml_platform_deployment_replicas" && !metrics.Types.ContainsKey(name)) continue;
            Assert.True(metrics.Types.TryGetValue(name, out var exported), $"{name} is missing from /metrics.");
            Assert.Equal(type, exported);
            var sampleName = type == "histogram" ? name + "_count" : name;
            var samples = metrics.Find(sampleName).ToList();
            Assert.NotEmpty(samples);
            foreach (var sample in samples)
            {
                // otel_scope_name is the exporter's own; every label of the contract is on every sample.
                var extra = sample.Labels.Keys.Where(k => k != "otel_scope_name" && !labels.Contains(k)).ToList();
                // A request that matched no route (404, 405) has no http_route: ASP.NET Core cannot name one.
                var unrouted = sample.Labels.TryGetValue("http_response_status_code", out var status) && status is "404" or "405";
                var missing = labels.Where(l => !sample.Labels.ContainsKey(l) && !(unrouted && l == "http_route")).ToList();
                Assert.True(missing.Count == 0, $"{sampleName} lacks {string.Join(", ", missing)}: {string.Join(", ", sample.Labels)}");
                if (name.StartsWith("ml_platform_", StringComparison.Ordinal))
                {
                    Assert.True(extra.Count == 0, $"{sampleName} has labels the contract does not: {string.Join(", ", extra)}");
                }
            }
        }
        // Process and runtime metrics of the server.
        Assert.Contains("dotnet_process_cpu_time_seconds_total", metrics.Types.Keys);
        Assert.Contains("dotnet_process_memory_working_set_bytes", metrics.Types.Keys);
        Assert.Contains("dotnet_gc_collections_total", metrics.Types.Keys);
    }

    [Fact]
    public async Task Counters_count_the_tenants_jobs_by_status_and_failure_reason()
    {
        var metrics = await jobs.ScrapeAsync();
        var tenant = ("tenant", jobs.Tenant);
        Assert.Equal(5, metrics.Value("ml_platform_jobs_created_total", tenant));
        Assert.Equal(1, metrics.Value("ml_platform_jobs_finished_total", tenant, ("status", "succeeded")));
        Assert.Equal(1, metrics.Value("ml_platform_jobs_finished_total", tenant, ("status", "failed")));
        Assert.Equal(1, metrics.Value("ml_platform_jobs_finished_total", tenant, ("status", "cancelled")));
        Assert.Equal(1, metrics.Value("ml_platform_job_failures_total", tenant, ("reason", "exited_with_error")));
        Assert.Equal(0, metrics.Value("ml_platform_job_failures_total", tenant, ("reason", "out_of_memory")));
        Assert.Equal(0, metrics.Value("ml_platform_job_retries_total", tenant));
        Assert.Equal(1, metrics.Value("ml_platform_job_duration_seconds_count", tenant, ("status", "succeeded")));
        Assert.Equal(1, metrics.Value("ml_platform_job_duration_seconds_count", tenant, ("status", "failed")));
        // The cancelled job never started: its duration is not observed.
        Assert.Empty(metrics.Find("ml_platform_job_duration_seconds_count", tenant, ("status", "cancelled")));
        // Buckets from 1 s to 24 h.
        Assert.Single(metrics.Find("ml_platform_job_duration_seconds_bucket", tenant, ("status", "failed"), ("le", "1")));
        Assert.Single(metrics.Find("ml_platform_job_duration_seconds_bucket", tenant, ("status", "failed"), ("le", "86400")));
    }

    [Fact]
    public async Task Gauges_show_the_tenants_running_and_pending_jobs_and_the_scheduler_cycling()
    {
        var metrics = await jobs.ScrapeAsync();
        var tenant = ("tenant", jobs.Tenant);
        Assert.Equal(1, metrics.Value("ml_platform_active_jobs", tenant, ("status", "running")));
        Assert.Equal(1, metrics.Value("ml_platform_active_jobs", tenant, ("status", "pending")));
        Assert.Equal(1, metrics.Value("ml_platform_queue_depth", tenant));
        var age = metrics.Value("ml_platform_oldest_pending_age_seconds", tenant);
        Assert.InRange(age, 0.0001, 600);

        Assert.True(metrics.Value("ml_platform_scheduler_cycles_total") > 0);
        var lastCycle = DateTimeOffset.FromUnixTimeMilliseconds((long)(metrics.Value("ml_platform_scheduler_last_cycle_timestamp_seconds") * 1000));
        Assert.InRange(lastCycle, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.Single(metrics.Find("ml_platform_scheduler_cycle_duration_seconds_bucket", ("le", "0.0001")));
    }

    [Fact]
    public async Task Http_requests_are_measured_by_route_template_with_millisecond_buckets()
    {
        var metrics = await jobs.ScrapeAsync();
        var submissions = metrics.Value("http_server_request_duration_seconds_count",
            ("http_route", "/v1/jobs/training/"), ("http_request_method", "POST"), ("http_response_status_code", "201"));
        Assert.True(submissions >= 5, $"{submissions} submissions measured");
        Assert.NotEmpty(metrics.Find("http_server_request_duration_seconds_count", ("http_route", "/v1/jobs/training/{id}")));
        Assert.NotEmpty(metrics.Find("http_server_request_duration_seconds_bucket", ("http_route", "/v1/jobs/training/"), ("le", "0.001")));
    }

    [Fact]
    public async Task No_label_value_names_a_job()
    {
        var (response, body) = await jobs.ScrapeRawAsync();
        response.Dispose();
        Assert.NotEmpty(jobs.JobIds);
        foreach (var id in jobs.JobIds)
        {
            Assert.DoesNotContain(id, body, StringComparison.OrdinalIgnoreCase);
        }
        foreach (var sample in PrometheusText.Parse(body).Samples.Where(s => s.Name != "target_info"))
        {
            foreach (var (label, value) in sample.Labels)
            {
                Assert.False(Uuid().IsMatch(value), $"{sample.Name} has an id in its label {label}=\"{value}\"");
            }
        }
    }

    /// <summary>The metrics of docs/metrics.md: name, type and labels, from its table.</summary>
    private static List<(string Name, string Type, string[] Labels)> Contract()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Strata.slnx"))) root = root.Parent;
        Assert.NotNull(root);
        var rows = new List<(string, string, string[])>();
        foreach (var line in File.ReadLines(Path.Combine(root.FullName, "docs", "metrics.md")))
        {
            // The replicas' own metrics follow; the server does not export them.
            if (line.StartsWith("## Replica metrics", StringComparison.Ordinal)) break;
            var match = ContractRow().Match(line);
            if (!match.Success) continue;
            var labels = LabelName().Matches(match.Groups["labels"].Value).Select(m => m.Groups[1].Value).ToArray();
            rows.Add((match.Groups["name"].Value, match.Groups["type"].Value.Trim(), labels));
        }
        return rows;
    }

    [GeneratedRegex(@"^\|\s*`(?<name>[a-z_]+)`\s*\|\s*(?<type>counter|gauge|histogram)\s*\|(?<labels>[^|]*)\|")]
    private static partial Regex ContractRow();

    [GeneratedRegex("`([a-z_]+)`")]
    private static partial Regex LabelName();

    [GeneratedRegex("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", RegexOptions.IgnoreCase)]
    private static partial Regex Uuid();
}
