using System.Text.Json;
using System.Text.RegularExpressions;
using static Strata.Server.Tests.Dashboards.DashboardFiles;

namespace Strata.Server.Tests.Dashboards;

/// <summary>
/// Structural checks of the Grafana dashboards (deploy/grafana/dashboards/*.json) and their provisioning: Grafana is
/// not in Debian, so nothing loads them here. That every query returns data from a real server is checked by
/// Monitoring/PrometheusQueriesTests.
/// </summary>
public sealed partial class DashboardTests
{
    /// <summary>Grafana's own variables that queries may use.</summary>
    private static readonly HashSet<string> BuiltInVariables = new(StringComparer.Ordinal)
    {
        "__rate_interval", "__interval", "__interval_ms", "__range", "__range_s", "__range_ms",
    };

    /// <summary>
    /// Metrics docs/metrics.md promises only as "process and runtime metrics" (no names in its table): the .NET
    /// runtime's built-in System.Runtime meter as OpenTelemetry's Prometheus exporter names it, and Prometheus's
    /// own <c>up</c>. A dashboard may use these besides the table's metrics.
    /// </summary>
    private static readonly HashSet<string> ProcessAndRuntimeMetrics = new(StringComparer.Ordinal)
    {
        "up",
        "dotnet_process_cpu_time_seconds_total",
        "dotnet_process_cpu_count",
        "dotnet_process_memory_working_set_bytes",
        "dotnet_gc_collections_total",
        "dotnet_gc_heap_total_allocated_bytes_total",
        "dotnet_gc_last_collection_heap_size_bytes",
        "dotnet_gc_last_collection_heap_fragmentation_size_bytes",
        "dotnet_gc_last_collection_memory_committed_size_bytes",
        "dotnet_gc_pause_time_seconds_total",
        "dotnet_thread_pool_thread_count_total",
        "dotnet_thread_pool_queue_length_total",
        "dotnet_thread_pool_work_item_count_total",
        "dotnet_monitor_lock_contentions_total",
        "dotnet_exceptions_total",
    };

    /// <summary>The series a histogram or counter of the table is queried through.</summary>
    private static readonly string[] SeriesSuffixes = ["", "_bucket", "_count", "_sum"];

    public static TheoryData<string> Dashboards() => DashboardNames();

    [Fact]
    public void There_is_a_platform_dashboard() =>
        Assert.True(File.Exists(Path.Combine(DashboardsFolder, "strata-platform.json")), $"missing {DashboardsFolder}/strata-platform.json");

    [Fact]
    public void The_platform_dashboard_lists_the_tenants_that_created_jobs()
    {
        var tenant = Variables(Load("strata-platform.json")).Single(v => String(v, "name") == "tenant");
        Assert.Equal("label_values(ml_platform_jobs_created_total, tenant)", VariableQuery(tenant)?.Trim());
    }

    [Fact]
    public void The_serving_dashboard_has_tenant_deployment_and_version_variables_each_narrowed_by_the_one_before()
    {
        var variables = Variables(Load("strata-serving.json")).ToDictionary(v => String(v, "name") ?? "", StringComparer.Ordinal);
        Assert.Equal("label_values(ml_platform_deployment_replicas, tenant)", VariableQuery(variables["tenant"])?.Trim());
        Assert.Equal("label_values(ml_platform_deployment_replicas{tenant=~\"$tenant\"}, deployment)", VariableQuery(variables["deployment"])?.Trim());
        Assert.Equal("label_values(predictions_total{tenant=~\"$tenant\", deployment=~\"$deployment\"}, version)", VariableQuery(variables["version"])?.Trim());
        foreach (var name in new[] { "deployment", "version" })
        {
            var variable = variables[name];
            Assert.True(variable.TryGetProperty("multi", out var multi) && multi.ValueKind == JsonValueKind.True, $"{name} is not multi-value");
            Assert.True(variable.TryGetProperty("includeAll", out var all) && all.ValueKind == JsonValueKind.True, $"{name} has no All");
            Assert.Equal(".*", String(variable, "allValue"));
        }
    }

    /// <summary>Issue 6's list: QPS, p50/p95/p99 latency, error rate, ready replicas, model loaded, cache hit ratio.</summary>
    [Theory]
    [InlineData("predictions per second", "rate(predictions_total{")]
    [InlineData("p50 latency", "histogram_quantile(0.5, sum by (tenant, deployment, le) (rate(prediction_duration_seconds_bucket{")]
    [InlineData("p95 latency", "histogram_quantile(0.95, sum by (tenant, deployment, le) (rate(prediction_duration_seconds_bucket{")]
    [InlineData("p99 latency", "histogram_quantile(0.99, sum by (tenant, deployment, le) (rate(prediction_duration_seconds_bucket{")]
    [InlineData("error ratio", "rate(prediction_errors_total{")]
    [InlineData("ready replicas", "ml_platform_deployment_replicas{tenant=~\"$tenant\", deployment=~\"$deployment\", state=~\"ready|canary_ready\"}")]
    [InlineData("model loaded", "model_loaded{")]
    [InlineData("cache hit ratio", "rate(ml_platform_prediction_cache_hits_total{")]
    public void The_serving_dashboard_shows(string what, string fragment)
    {
        var exprs = Exprs(Load("strata-serving.json")).Select(e => e.Expr).ToList();
        Assert.True(exprs.Any(e => e.Contains(fragment, StringComparison.Ordinal)), $"no panel shows {what} (an expression with `{fragment}`)");
    }

    [Fact]
    public void Every_replica_metric_query_of_the_serving_dashboard_filters_on_deployment_and_version()
    {
        string[] replicaMetrics = ["predictions_total", "prediction_duration_seconds_bucket", "prediction_duration_seconds_count", "prediction_errors_total", "model_loaded"];
        var problems = (from e in Exprs(Load("strata-serving.json"))
                        from selector in Selectors(e.Expr)
                        where replicaMetrics.Contains(selector.Metric)
                        where !selector.Matchers.Contains("deployment=~\"$deployment\"", StringComparison.Ordinal) || !selector.Matchers.Contains("version=~\"$version\"", StringComparison.Ordinal)
                        select $"{e.Where}: {selector.Metric}{selector.Matchers}").ToList();
        Assert.True(problems.Count == 0, Describe(problems));
    }

    [Theory]
    [MemberData(nameof(Dashboards))]
    public void Dashboard_is_a_JSON_object_with_title_uid_and_panels(string name)
    {
        var dashboard = Load(name);
        Assert.Equal(JsonValueKind.Object, dashboard.ValueKind);
        Assert.False(string.IsNullOrWhiteSpace(String(dashboard, "title")), $"{name}: no title");
        Assert.False(string.IsNullOrWhiteSpace(String(dashboard, "uid")), $"{name}: no uid");
        Assert.NotEmpty(Panels(dashboard));
    }

    [Theory]
    [MemberData(nameof(Dashboards))]
    public void Every_query_panel_uses_the_datasource_variable_and_has_targets_with_expr_and_refId(string name)
    {
        var problems = new List<string>();
        var queryPanels = 0;
        foreach (var panel in Panels(Load(name)).Where(p => !IsLayoutOnly(p)))
        {
            queryPanels++;
            var title = Title(panel);
            if (!IsPrometheusVariable(panel, out var why)) problems.Add($"panel \"{title}\": datasource {why}");
            var targets = Targets(panel).ToList();
            if (targets.Count == 0) problems.Add($"panel \"{title}\": no targets");
            var refIds = new HashSet<string>(StringComparer.Ordinal);
            foreach (var target in targets)
            {
                var refId = String(target, "refId");
                if (string.IsNullOrWhiteSpace(refId)) problems.Add($"panel \"{title}\": a target without refId");
                else if (!refIds.Add(refId)) problems.Add($"panel \"{title}\": refId {refId} twice");
                if (string.IsNullOrWhiteSpace(String(target, "expr"))) problems.Add($"panel \"{title}\" target {refId}: no expr");
                if (target.TryGetProperty("datasource", out _) && !IsPrometheusVariable(target, out var targetWhy))
                {
                    problems.Add($"panel \"{title}\" target {refId}: datasource {targetWhy}");
                }
            }
        }
        Assert.True(queryPanels > 0, $"{name}: no query panels");
        Assert.True(problems.Count == 0, name + ":" + Describe(problems));
    }

    [Theory]
    [MemberData(nameof(Dashboards))]
    public void Panel_ids_are_present_and_unique(string name)
    {
        var problems = new List<string>();
        var seen = new Dictionary<long, string>();
        foreach (var panel in Panels(Load(name)))
        {
            if (!panel.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.Number || !id.TryGetInt64(out var value))
            {
                problems.Add($"panel \"{Title(panel)}\": no numeric id");
            }
            else if (seen.TryGetValue(value, out var other))
            {
                problems.Add($"panel \"{Title(panel)}\": id {value} also used by \"{other}\"");
            }
            else
            {
                seen[value] = Title(panel);
            }
        }
        Assert.True(problems.Count == 0, name + ":" + Describe(problems));
    }

    [Theory]
    [MemberData(nameof(Dashboards))]
    public void Query_panels_have_units(string name)
    {
        var missing = Panels(Load(name))
            .Where(p => !IsLayoutOnly(p))
            .Where(p => !(p.TryGetProperty("fieldConfig", out var fc) && fc.TryGetProperty("defaults", out var d) && !string.IsNullOrWhiteSpace(String(d, "unit"))))
            .Select(p => $"panel \"{Title(p)}\": no fieldConfig.defaults.unit");
        Assert.Empty(missing);
    }

    [Theory]
    [MemberData(nameof(Dashboards))]
    public void Every_variable_used_is_defined_or_built_in(string name)
    {
        var dashboard = Load(name);
        var defined = Variables(dashboard).Select(v => String(v, "name")).OfType<string>().ToHashSet(StringComparer.Ordinal);
        var uses = new List<(string Where, string Text)>();
        uses.AddRange(Exprs(dashboard));
        foreach (var panel in Panels(dashboard))
        {
            if (panel.TryGetProperty("datasource", out var ds)) uses.Add(($"panel \"{Title(panel)}\" datasource", ds.ToString()));
            foreach (var target in Targets(panel))
            {
                if (target.TryGetProperty("datasource", out var tds)) uses.Add(($"panel \"{Title(panel)}\" target datasource", tds.ToString()));
            }
        }
        foreach (var variable in Variables(dashboard))
        {
            var variableName = String(variable, "name") ?? "?";
            if (String(variable, "type") == "query" && VariableQuery(variable) is { } query) uses.Add(($"variable {variableName} query", query));
            if (variable.TryGetProperty("datasource", out var vds)) uses.Add(($"variable {variableName} datasource", vds.ToString()));
        }
        var problems = (from use in uses
                        from reference in VariableReferences(use.Text)
                        where !defined.Contains(reference) && !BuiltInVariables.Contains(reference)
                        select $"{use.Where}: ${reference} is not a dashboard variable nor a Grafana built-in").Distinct().ToList();
        Assert.True(problems.Count == 0, name + ":" + Describe(problems));
    }

    [Theory]
    [MemberData(nameof(Dashboards))]
    public void Has_datasource_and_tenant_variables(string name)
    {
        var variables = Variables(Load(name)).ToDictionary(v => String(v, "name") ?? "", StringComparer.Ordinal);

        Assert.True(variables.TryGetValue("datasource", out var datasource), $"{name}: no `datasource` variable");
        Assert.Equal("datasource", String(datasource, "type"));
        Assert.Equal("prometheus", String(datasource, "query"));

        Assert.True(variables.TryGetValue("tenant", out var tenant), $"{name}: no `tenant` variable");
        Assert.Equal("query", String(tenant, "type"));
        // The tenants of what the dashboard shows: those that created a job (platform), those with a deployment (serving).
        var tenantMetrics = ContractMetrics().Where(m => m.Value.Contains("tenant")).Select(m => m.Key).ToHashSet(StringComparer.Ordinal);
        var source = TenantSource().Match(VariableQuery(tenant)?.Trim() ?? "");
        Assert.True(source.Success && tenantMetrics.Contains(source.Groups["metric"].Value),
            $"{name}: the tenant variable's query is not label_values(<a metric of docs/metrics.md labelled tenant>, tenant): {VariableQuery(tenant)}");
        Assert.True(IsPrometheusVariable(tenant, out var why), $"{name}: tenant variable's datasource {why}");
        Assert.True(tenant.TryGetProperty("multi", out var multi) && multi.ValueKind == JsonValueKind.True, $"{name}: tenant is not multi-value");
        Assert.True(tenant.TryGetProperty("includeAll", out var all) && all.ValueKind == JsonValueKind.True, $"{name}: tenant has no All");
        Assert.Equal(".*", String(tenant, "allValue"));
    }

    [Theory]
    [MemberData(nameof(Dashboards))]
    public void Every_query_over_a_tenant_labelled_metric_filters_on_the_tenant_variable(string name)
    {
        var tenantMetrics = ContractMetrics().Where(m => m.Value.Contains("tenant")).Select(m => m.Key).ToList();
        Assert.NotEmpty(tenantMetrics);
        var problems = new List<string>();
        foreach (var (where, expr) in Exprs(Load(name)))
        {
            foreach (var (metric, matchers) in Selectors(expr))
            {
                var contract = tenantMetrics.FirstOrDefault(m => SeriesSuffixes.Any(s => metric == m + s));
                if (contract is not null && !FiltersOnTenant(matchers))
                {
                    problems.Add($"{where}: {metric}{matchers} does not filter tenant=~\"$tenant\"\n    {expr}");
                }
            }
        }
        Assert.True(problems.Count == 0, name + ":" + Describe(problems));
    }

    [Theory]
    [MemberData(nameof(Dashboards))]
    public void Every_metric_is_in_the_contract_or_a_known_process_metric(string name)
    {
        var contract = ContractMetrics().Keys.ToList();
        Assert.NotEmpty(contract);
        var problems = new List<string>();
        var metrics = 0;
        foreach (var (where, expr) in Exprs(Load(name)))
        {
            foreach (var (metric, _) in Selectors(expr))
            {
                metrics++;
                var known = contract.Any(m => SeriesSuffixes.Any(s => metric == m + s))
                    || (ProcessAndRuntimeMetrics.Contains(metric) && (metric == "up" || ContractHasProcessMetrics()));
                if (!known) problems.Add($"{where}: {metric} is neither in docs/metrics.md nor a known process/runtime metric\n    {expr}");
            }
        }
        Assert.True(metrics > 0, $"{name}: no metric found in any expression");
        Assert.True(problems.Count == 0, name + ":" + Describe(problems));
    }

    [Theory]
    [MemberData(nameof(Dashboards))]
    public void Time_range_and_refresh_are_set(string name)
    {
        var dashboard = Load(name);
        Assert.True(dashboard.TryGetProperty("time", out var time), $"{name}: no time range");
        Assert.StartsWith("now-", String(time, "from") ?? "", StringComparison.Ordinal);
        Assert.Equal("now", String(time, "to"));
        Assert.Matches(@"^\d+[smhd]$", String(dashboard, "refresh") ?? "");
    }

    [Fact]
    public void The_platform_dashboard_shows_the_last_6_hours_refreshed_every_30_seconds()
    {
        var dashboard = Load("strata-platform.json");
        Assert.Equal("now-6h", String(dashboard.GetProperty("time"), "from"));
        Assert.Equal("30s", String(dashboard, "refresh"));
    }

    [Fact]
    public void The_selector_reader_finds_metrics_and_their_matchers()
    {
        var selectors = Selectors(
            "(sum by (http_route) (rate(http_server_request_duration_seconds_count{http_response_status_code=~\"5..\"}[$__rate_interval])) or on() vector(0))"
            + " / histogram_quantile(0.95, sum without (instance) (rate(ml_platform_job_duration_seconds_bucket{tenant=~\"$tenant\", status!=\"x}\"}[5m] offset 1h)))"
            + " * scalar(max(dotnet_process_cpu_count)) + time() - 1e3 and up");
        Assert.Equal(
            [
                ("http_server_request_duration_seconds_count", "{http_response_status_code=~\"5..\"}"),
                ("ml_platform_job_duration_seconds_bucket", "{tenant=~\"$tenant\", status!=\"x}\"}"),
                ("dotnet_process_cpu_count", ""),
                ("up", ""),
            ],
            selectors);
        Assert.True(FiltersOnTenant("{status=\"failed\",tenant=~\"${tenant}\"}"));
        Assert.False(FiltersOnTenant("{tenant=\"team-a\"}"));
        Assert.False(FiltersOnTenant("{other_tenant=~\"$tenant\"}"));
    }

    // ------------------------------------------------------------------ provisioning

    [Fact]
    public void The_datasource_is_provisioned_as_the_default_prometheus_with_uid_prometheus()
    {
        Assert.True(File.Exists(DatasourceProvisioning), $"missing {DatasourceProvisioning}");
        Assert.Contains("1", YamlValues(DatasourceProvisioning, "apiVersion"));
        Assert.Equal(["prometheus"], YamlValues(DatasourceProvisioning, "uid"));
        Assert.Equal(["prometheus"], YamlValues(DatasourceProvisioning, "type"));
        Assert.Equal(["http://prometheus:9090"], YamlValues(DatasourceProvisioning, "url"));
        Assert.Equal(["true"], YamlValues(DatasourceProvisioning, "isDefault"));
    }

    [Fact]
    public void The_dashboard_provider_reads_the_folder_compose_mounts_the_dashboards_at()
    {
        Assert.True(File.Exists(DashboardProvisioning), $"missing {DashboardProvisioning}");
        Assert.Equal(["file"], YamlValues(DashboardProvisioning, "type"));
        var paths = YamlValues(DashboardProvisioning, "path");
        var path = Assert.Single(paths);

        var mounts = ComposeBindMounts();
        var dashboards = mounts.Where(m => m.Host.TrimEnd('/') == "./grafana/dashboards").Select(m => m.Container).ToList();
        Assert.True(dashboards.Count == 1, "docker-compose.yml should mount ./grafana/dashboards once; mounts: " + string.Join(", ", mounts));
        Assert.Equal(dashboards[0], path.TrimEnd('/'));
    }

    [Fact]
    public void Compose_mounts_the_provisioning_and_the_prometheus_configuration()
    {
        var mounts = ComposeBindMounts().ToDictionary(m => m.Host.TrimEnd('/'), m => m.Container, StringComparer.Ordinal);
        foreach (var (host, container) in new[]
        {
            ("./grafana/provisioning/datasources", "/etc/grafana/provisioning/datasources"),
            ("./grafana/provisioning/dashboards", "/etc/grafana/provisioning/dashboards"),
            ("./prometheus/prometheus.yml", "/etc/prometheus/prometheus.yml"),
            ("./prometheus/rules", "/etc/prometheus/rules"),
        })
        {
            Assert.True(mounts.TryGetValue(host, out var actual), $"docker-compose.yml does not mount {host}");
            Assert.Equal(container, actual);
            Assert.True(File.Exists(Path.Combine(RepositoryRoot, "deploy", host)) || Directory.Exists(Path.Combine(RepositoryRoot, "deploy", host)),
                $"deploy/{host} does not exist");
        }
        var home = YamlValues(Compose, "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH");
        foreach (var file in home)
        {
            var dashboardsMount = mounts["./grafana/dashboards"];
            Assert.StartsWith(dashboardsMount + "/", file, StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(DashboardsFolder, file[(dashboardsMount.Length + 1)..])), $"home dashboard {file} is not in deploy/grafana/dashboards");
        }
    }

    [GeneratedRegex(@"^label_values\(\s*(?<metric>[a-z_:][a-z0-9_:]*)\s*,\s*tenant\s*\)$")]
    private static partial Regex TenantSource();

    private static bool IsPrometheusVariable(JsonElement owner, out string why)
    {
        if (!owner.TryGetProperty("datasource", out var datasource) || datasource.ValueKind != JsonValueKind.Object)
        {
            why = "missing or not an object";
            return false;
        }
        var type = String(datasource, "type");
        var uid = String(datasource, "uid");
        why = $"is {{type: {type ?? "null"}, uid: {uid ?? "null"}}}, not {{type: prometheus, uid: ${{datasource}}}}";
        return type == "prometheus" && uid == "${datasource}";
    }
}
