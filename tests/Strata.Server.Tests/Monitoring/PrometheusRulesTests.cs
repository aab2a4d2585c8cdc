namespace Strata.Server.Tests.Monitoring;

/// <summary>
/// deploy/prometheus checked with the real promtool (Debian's <c>prometheus</c> package): the rules and the
/// configuration are valid, the rule unit tests pass, and every alert keeps the conventions (severity, summary,
/// description, a runbook that exists, an expression that ends with its comparison, a unit test).
/// </summary>
public sealed class PrometheusRulesTests
{
    private static readonly string[] Severities = ["critical", "warning"];

    [SkippableFact]
    public void Promtool_check_rules_passes_on_every_rules_file()
    {
        var promtool = MonitoringFiles.Promtool;
        Skip.If(promtool is null, MonitoringFiles.MissingBinaries(promtool));
        var files = MonitoringFiles.RuleFiles();
        Assert.NotEmpty(files);

        var (code, output) = MonitoringFiles.Run(promtool!, MonitoringFiles.PrometheusFolder, ["check", "rules", .. files]);

        Assert.True(code == 0, output);
    }

    [SkippableFact]
    public void Promtool_check_config_passes_on_prometheus_yml()
    {
        var promtool = MonitoringFiles.Promtool;
        Skip.If(promtool is null, MonitoringFiles.MissingBinaries(promtool));

        var (code, output) = MonitoringFiles.Run(promtool!, MonitoringFiles.PrometheusFolder, "check", "config", MonitoringFiles.PrometheusConfig);

        Assert.True(code == 0, output);
    }

    [SkippableFact]
    public void Promtool_test_rules_passes_on_every_rule_test_file()
    {
        var promtool = MonitoringFiles.Promtool;
        Skip.If(promtool is null, MonitoringFiles.MissingBinaries(promtool));
        var files = MonitoringFiles.RuleTestFiles();
        Assert.NotEmpty(files);

        var (code, output) = MonitoringFiles.Run(promtool!, MonitoringFiles.RuleTestsFolder, ["test", "rules", .. files]);

        Assert.True(code == 0, output);
        Assert.DoesNotContain("FAILED", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Prometheus_yml_scrapes_the_strata_job_and_loads_the_alert_rules()
    {
        var config = File.ReadAllText(MonitoringFiles.PrometheusConfig);
        Assert.Contains("job_name: strata", config, StringComparison.Ordinal);
        Assert.Contains("metrics_path: /metrics", config, StringComparison.Ordinal);
        Assert.Contains("'strata:8080'", config, StringComparison.Ordinal);
        var loaded = MonitoringFiles.LoadedRuleFiles();
        Assert.Contains(Path.Combine(MonitoringFiles.RulesFolder, "strata-alerts.yml"), loaded);
        Assert.Contains(Path.Combine(MonitoringFiles.RulesFolder, "strata-serving-alerts.yml"), loaded);
    }

    [Fact]
    public void Every_rules_file_is_loaded_by_prometheus_yml_and_unit_tested()
    {
        var loaded = MonitoringFiles.LoadedRuleFiles();
        var tests = string.Join('\n', MonitoringFiles.RuleTestFiles().Select(File.ReadAllText));
        foreach (var file in MonitoringFiles.RuleFiles())
        {
            Assert.True(loaded.Contains(Path.GetFullPath(file)), $"{file} is not in prometheus.yml's rule_files");
            Assert.True(tests.Contains($"../rules/{Path.GetFileName(file)}", StringComparison.Ordinal), $"no test file under deploy/prometheus/tests loads {file}");
        }
    }

    [Fact]
    public void Prometheus_yml_finds_the_replicas_through_the_servers_discovery_with_a_metrics_reader_token()
    {
        var config = File.ReadAllText(MonitoringFiles.PrometheusConfig);
        Assert.Contains("job_name: strata-replicas", config, StringComparison.Ordinal);
        Assert.Contains("honor_labels: true", config, StringComparison.Ordinal);
        Assert.Contains("url: http://strata:8080" + Strata.Server.Deployments.ReplicaTargetsApi.Path, config, StringComparison.Ordinal);
        Assert.Contains("credentials_file: /etc/prometheus/secrets/strata-metrics-token", config, StringComparison.Ordinal);
        Assert.DoesNotContain("admin-token", config, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_alert_has_a_severity_annotations_a_runbook_a_final_comparison_and_a_unit_test()
    {
        var rules = MonitoringFiles.RuleFiles().SelectMany(MonitoringFiles.ReadAlertRules).ToList();
        Assert.NotEmpty(rules);
        var unitTests = string.Join('\n', MonitoringFiles.RuleTestFiles().Select(File.ReadAllText));
        var problems = new List<string>();
        foreach (var duplicate in rules.GroupBy(r => r.Name).Where(g => g.Count() > 1))
        {
            problems.Add($"{duplicate.Key}: defined {duplicate.Count()} times");
        }
        foreach (var rule in rules)
        {
            if (rule.Expr.Length == 0) problems.Add($"{rule}: no expr");
            else if (MonitoringFiles.SplitComparison(rule.Expr) is null)
            {
                problems.Add($"{rule}: expr does not end with `<comparison> <number>` at the top level: {rule.Expr}");
            }
            if (!rule.Labels.TryGetValue("severity", out var severity) || !Severities.Contains(severity))
            {
                problems.Add($"{rule}: severity label must be one of {string.Join(", ", Severities)}");
            }
            foreach (var annotation in new[] { "summary", "description" })
            {
                if (!rule.Annotations.TryGetValue(annotation, out var text) || string.IsNullOrWhiteSpace(text))
                {
                    problems.Add($"{rule}: no {annotation} annotation");
                }
            }
            var expected = $"docs/runbooks/{rule.Name}.md";
            if (!rule.Annotations.TryGetValue("runbook_url", out var runbook) || runbook != expected)
            {
                problems.Add($"{rule}: runbook_url must be {expected} (is {runbook ?? "missing"})");
            }
            else if (!File.Exists(Path.Combine(MonitoringFiles.RepositoryRoot, runbook)))
            {
                problems.Add($"{rule}: its runbook {runbook} does not exist");
            }
            if (!unitTests.Contains($"alertname: {rule.Name}\n", StringComparison.Ordinal))
            {
                problems.Add($"{rule}: no promtool unit test (alertname: {rule.Name}) under deploy/prometheus/tests");
            }
        }
        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    [Theory]
    [InlineData("up{job=\"strata\"} == 0", "up{job=\"strata\"}", "==", "0")]
    [InlineData("(a >= 5) / b > 0.25", "(a >= 5) / b", ">", "0.25")]
    [InlineData("max by (tenant) (x)\n  >= 1800\n", "max by (tenant) (x)", ">=", "1800")]
    [InlineData("x < bool 1e3", "x", "<", "1e3")]
    public void A_final_comparison_is_split_off(string expr, string query, string comparison, string threshold)
    {
        Assert.Equal((query, comparison, threshold), MonitoringFiles.SplitComparison(expr));
    }

    [Theory]
    [InlineData("rate(x[5m])")]
    [InlineData("a > 1 and b")]
    [InlineData("a > b")]
    public void An_expression_without_a_final_comparison_against_a_number_is_refused(string expr)
    {
        Assert.Null(MonitoringFiles.SplitComparison(expr));
    }
}
