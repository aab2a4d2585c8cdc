using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Strata.Server.Tests.Process;
using Strata.Worker.Training;

namespace Strata.Server.Tests.Monitoring;

/// <summary>
/// The end-to-end check that no alert and no dashboard panel can silently show "No data": the built server as a
/// real process runs jobs of every outcome (succeeded, failed with exit 3, cancelled, retried after its worker
/// died, one running and one pending behind the full machine) and a model deployment answering predictions (good
/// ones, cached ones and bad input); a real Prometheus scrapes the server every second and the deployment's replica
/// through the server's discovery (job <c>strata-replicas</c>); then every PromQL expression of every loaded alert
/// rule (deploy/prometheus/rules, as listed in prometheus.yml) and of every dashboard panel
/// (deploy/grafana/dashboards/*.json) must parse and return data.
/// </summary>
[Collection(ServerProcessCollection.Name)]
public sealed partial class PrometheusQueriesTests : IDisposable
{
    private const string Tenant = "team-a";
    private const string Deployment = "churn";

    private ServerProcess? _server;
    private PrometheusProcess? _prometheus;

    private static string Json(string value) => JsonSerializer.Serialize(value);

    private static string Id(JsonElement job) => job.GetProperty("id").GetString()!;

    [SkippableFact]
    public async Task Every_alert_rule_and_dashboard_query_parses_and_returns_data_from_a_real_server()
    {
        var prometheusBinary = MonitoringFiles.Prometheus;
        Skip.If(prometheusBinary is null, MonitoringFiles.MissingBinaries(prometheusBinary));

        // One core: a `sleep 300` fills the machine and the next job stays pending.
        _server = new ServerProcess(new Dictionary<string, string>
        {
            ["Runtime__Local__CpuCores"] = "1",
            ["Runtime__Local__MemoryGb"] = "8",
            ["Serving__Cache__Enabled"] = "true",
        });
        await _server.StartAsync();
        var loadedRuleFiles = MonitoringFiles.LoadedRuleFiles();
        // As deploy/prometheus does: the discovery is read with a metrics-reader token, not the admin token.
        var tokenFile = Path.Combine(_server.Root, "strata-metrics-token");
        using (var admin = new ApiClient(_server, _server.AdminToken))
        using (var issued = await admin.SendAsync(HttpMethod.Post, "/v1/admin/tokens", """{"role":"metrics-reader","subject":"prometheus"}"""))
        {
            Assert.Equal(System.Net.HttpStatusCode.Created, issued.StatusCode);
            var token = JsonDocument.Parse(await issued.Content.ReadAsStringAsync()).RootElement.GetProperty("token").GetString()!;
            await File.WriteAllTextAsync(tokenFile, token);
        }
        var discovery = (new Uri(_server.BaseAddress, "/v1/admin/prometheus/replicas"), tokenFile);
        _prometheus = await PrometheusProcess.StartAsync(prometheusBinary!, $"{_server.BaseAddress.Host}:{_server.BaseAddress.Port}", loadedRuleFiles, discovery);
        var prometheus = _prometheus;
        await UntilAsync(async () => await prometheus.ValueAsync("up{job=\"strata\"}") == 1,
            "Prometheus to scrape the server's GET /metrics (up == 1)", async () => "scrape error: " + await ScrapeErrorAsync());

        using var api = await _server.CreateTenantAsync(Tenant);

        // A deployment: Prometheus finds its replica through the discovery and labels what it scrapes there with
        // the tenant and the deployment, which the replica itself does not know.
        await DeployAsync(api);
        await UntilAsync(async () => await prometheus.ValueAsync($"model_loaded{{job=\"strata-replicas\", tenant=\"{Tenant}\", deployment=\"{Deployment}\", model_name=\"churn\", version=\"1\"}}") == 1,
            "Prometheus to scrape the replica found through the discovery, labelled with its tenant and deployment", async () => "targets: " + await ScrapeErrorAsync());
        await PredictAsync(api, count: 2);
        await UntilAsync(async () => await prometheus.ValueAsync($"sum(predictions_total{{tenant=\"{Tenant}\", deployment=\"{Deployment}\"}})") >= 2,
            "the replica's predictions_total, labelled with its tenant and deployment, to count the 2 predictions that reached it (the third was a cache hit)", async () => "targets: " + await ScrapeErrorAsync());

        // Round 1: every finished status once, and a retry, so that every counter series exists.
        await FinishAsync(api, "ok-1", "true", "succeeded");
        await FinishAsync(api, "fails-1", "exit 3", "failed");
        await RetriedThenCancelledAsync(api);
        // Counters first seen at 1 count no increase: let Prometheus see these series before they grow.
        await ScrapedAfterAsync(DateTimeOffset.UtcNow, 3);

        // Round 2: enough finished jobs in the tenant for the failure-rate alert's minimum (5).
        await FinishAsync(api, "ok-2", "true", "succeeded");
        await FinishAsync(api, "ok-3", "echo hello", "succeeded");
        await FinishAsync(api, "ok-4", "true", "succeeded");
        await FinishAsync(api, "fails-2", "exit 3", "failed");
        await FinishAsync(api, "fails-3", "echo oops >&2; exit 3", "failed");
        var cancelled = Id(await api.SubmitAsync(Spec("cancelled-2", "sleep 300")));
        await api.WaitForStatusAsync(cancelled, "running");
        await CancelAsync(api, cancelled);
        // Enough requests for the error-ratio alert's traffic floor (0.1/s over 5 minutes: 30).
        await PredictAsync(api, count: 40);

        // Now and until the end: one running, one pending behind it.
        var running = Id(await api.SubmitAsync(Spec("runs", "sleep 300")));
        await api.WaitForStatusAsync(running, "running");
        var pending = Id(await api.SubmitAsync(Spec("waits", "true")));
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Equal("pending", (await api.JobAsync(pending)).GetProperty("status").GetString());
        await ScrapedAfterAsync(DateTimeOffset.UtcNow, 4);
        Assert.Equal("pending", (await api.JobAsync(pending)).GetProperty("status").GetString());

        var problems = new List<string>();
        var checkedCount = 0;

        // Every metric docs/metrics.md promises is exported.
        var exported = (await prometheus.GetJsonAsync("/api/v1/label/__name__/values")).GetProperty("data")
            .EnumerateArray().Select(e => e.GetString()!).ToHashSet(StringComparer.Ordinal);
        foreach (var metric in ContractMetrics())
        {
            if (!exported.Any(name => name == metric || (name.StartsWith(metric, StringComparison.Ordinal) && name[metric.Length..] is "_bucket" or "_count" or "_sum" or "_total")))
            {
                problems.Add($"docs/metrics.md: {metric} is not exported by the server");
            }
        }

        // Alert rules: those Prometheus loaded, i.e. the files prometheus.yml lists.
        var expected = loadedRuleFiles.SelectMany(MonitoringFiles.ReadAlertRules).Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
        Assert.NotEmpty(expected);
        var groups = (await prometheus.GetJsonAsync("/api/v1/rules?type=alert")).GetProperty("data").GetProperty("groups");
        var loaded = new HashSet<string>(StringComparer.Ordinal);
        foreach (var rule in groups.EnumerateArray().SelectMany(g => g.GetProperty("rules").EnumerateArray()))
        {
            var name = rule.GetProperty("name").GetString()!;
            var expr = rule.GetProperty("query").GetString()!;
            loaded.Add(name);
            checkedCount++;
            await CheckAsync(problems, $"alert {name}", expr, requireComparison: true);
        }
        foreach (var missing in expected.Except(loaded)) problems.Add($"alert {missing}: in a loaded rules file but not loaded by Prometheus");

        // Dashboards: every panel target (and every label_values variable).
        var dashboards = MonitoringFiles.DashboardFiles();
        foreach (var file in dashboards)
        {
            var name = Path.GetFileName(file);
            JsonElement dashboard;
            try { dashboard = JsonDocument.Parse(await File.ReadAllTextAsync(file)).RootElement.Clone(); }
            catch (JsonException e)
            {
                problems.Add($"{name}: not JSON: {e.Message}");
                continue;
            }
            if (dashboard.TryGetProperty("dashboard", out var wrapped) && wrapped.ValueKind == JsonValueKind.Object) dashboard = wrapped;
            var variables = Variables(dashboard);
            foreach (var (panel, target) in Targets(dashboard))
            {
                checkedCount++;
                await CheckAsync(problems, $"{name} panel \"{panel}\"", Substitute(target, variables), requireComparison: false, original: target);
            }
            foreach (var (variable, metric, label) in LabelValuesVariables(dashboard))
            {
                checkedCount++;
                var query = $"count by ({label}) ({Substitute(metric, variables)})";
                await CheckAsync(problems, $"{name} variable ${variable}", query, requireComparison: false, original: $"label_values({metric}, {label})");
            }
        }

        var context = problems.Count == 0 ? "" :
            $"\n\nMetric names in Prometheus (the server's and Prometheus's own): {string.Join(", ", exported.Order(StringComparer.Ordinal))}\n\nPrometheus log:\n{prometheus.LogTail(15)}";
        Assert.True(problems.Count == 0, $"{problems.Count} problem(s) among {checkedCount} expressions ({dashboards.Length} dashboard file(s)):\n" + string.Join('\n', problems) + context);
    }

    /// <summary>
    /// The expression must parse; for an alert, the query left of its final comparison, otherwise the expression
    /// itself, must return at least one series.
    /// </summary>
    private async Task CheckAsync(List<string> problems, string what, string expr, bool requireComparison, string? original = null)
    {
        var prometheus = _prometheus!;
        var shown = original ?? expr;
        var (count, detail) = await prometheus.CountAsync(expr);
        if (count is null)
        {
            problems.Add($"{what}: does not parse or fails: {detail}\n    {shown}");
            return;
        }
        var query = expr;
        if (requireComparison)
        {
            var split = MonitoringFiles.SplitComparison(expr);
            if (split is null)
            {
                problems.Add($"{what}: does not end with `<comparison> <number>` at the top level\n    {expr}");
                return;
            }
            query = split.Value.Query;
        }
        (count, detail) = await prometheus.CountAsync(query);
        if (count is null)
        {
            problems.Add($"{what}: the query without its comparison fails: {detail}\n    {query}");
        }
        else if (count == 0)
        {
            problems.Add($"{what}: returns no data\n    {query}" + (original is null ? "" : $"\n    (as written: {original})"));
        }
    }

    /// <summary>Deploys a churn classifier, trained here and registered through the API, and waits until it is ready.</summary>
    private async Task DeployAsync(ApiClient api)
    {
        var server = _server!;
        var output = Path.Combine(server.DataPath, "artifacts", Tenant, "out");
        var error = new StringWriter();
        var exit = TrainCommand.Run(
            ["--model", "lightgbm", "--label", "churned", "--data", Path.Combine(MonitoringFiles.RepositoryRoot, "examples", "churn", "churn.csv"), "--output", output, "--hp", "num_iterations=10"],
            new Dictionary<string, string>(), TextWriter.Null, error);
        Assert.True(exit == 0, $"training the churn model failed: {error}");
        var schema = await File.ReadAllTextAsync(Path.Combine(output, "schema.json"));
        using (var registered = await api.SendAsync(HttpMethod.Post, "/v1/models/churn/versions", $$"""{"path":"out/model.zip","input_schema":{{schema}}}"""))
        {
            Assert.True(registered.StatusCode == System.Net.HttpStatusCode.Created, $"register: {(int)registered.StatusCode} {await registered.Content.ReadAsStringAsync()}");
        }
        using (var created = await api.SendAsync(HttpMethod.Post, "/v1/deployments", $$"""{"name":{{Json(Deployment)}},"model":"churn@1","min_replicas":1,"max_replicas":1}"""))
        {
            Assert.True(created.StatusCode == System.Net.HttpStatusCode.Created, $"deploy: {(int)created.StatusCode} {await created.Content.ReadAsStringAsync()}");
        }
        await Wait.UntilAsync(async () => (await api.GetJsonAsync($"/v1/deployments/{Deployment}")).GetProperty("ready_replicas").GetInt32() == 1,
            $"deployment {Deployment} to have a ready replica", server);
    }

    /// <summary>
    /// <paramref name="count"/> different instances (cache misses, answered by the replica), the first of them once more
    /// (a cache hit) and one body refused as malformed (counted in the replica's prediction_errors_total).
    /// </summary>
    private static async Task PredictAsync(ApiClient api, int count)
    {
        static string Instance(int tenure) =>
            $$"""{"tenure_months": {{tenure}}, "plan": "basic", "contract": "month-to-month", "monthly_charges": 70.5, "total_charges": 211.5, "support_calls": 4, "region": "west", "paperless_billing": "yes"}""";
        var first = Random.Shared.Next(1_000_000);
        var requests = Enumerable.Range(first, count).Select(tenure => (Instance(tenure), 200)).Append((Instance(first), 200)).Append(("{not json", 400));
        foreach (var (body, status) in requests)
        {
            using var response = await api.SendAsync(HttpMethod.Post, $"/v1/deployments/{Deployment}/predict", body);
            Assert.True((int)response.StatusCode == status, $"predict {body}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    private static string Spec(string name, string entrypoint, int maxAttempts = 1) =>
        $$"""{"name":{{Json(name)}},"compute":{"cpu_cores":1,"memory_gb":1},"retry":{"max_attempts":{{maxAttempts}}},"entrypoint":{{Json(entrypoint)}}}""";

    private static async Task FinishAsync(ApiClient api, string name, string entrypoint, string status)
    {
        var id = Id(await api.SubmitAsync(Spec(name, entrypoint)));
        await api.WaitForStatusAsync(id, status);
    }

    private static async Task CancelAsync(ApiClient api, string id)
    {
        using (var response = await api.SendAsync(HttpMethod.Delete, $"/v1/jobs/training/{id}"))
        {
            Assert.True(response.IsSuccessStatusCode, $"cancel {id}: {(int)response.StatusCode}");
        }
        await api.WaitForStatusAsync(id, "cancelled");
    }

    /// <summary>A job whose worker and process die under it (an infrastructure failure): retried, then cancelled.</summary>
    private async Task RetriedThenCancelledAsync(ApiClient api)
    {
        var server = _server!;
        var id = Id(await api.SubmitAsync(Spec("retried", "sleep 300", maxAttempts: 3)));
        await api.WaitForStatusAsync(id, "running");
        var (worker, job) = await server.SupervisorAsync(Tenant, id, 1);
        ProcFs.Kill(worker);
        ProcFs.Kill(job);
        await Wait.UntilAsync(async () =>
        {
            var current = await api.JobAsync(id);
            return current.GetProperty("attempts").GetInt32() >= 2 && current.GetProperty("status").GetString() == "running";
        }, $"job {id} to be retried after its worker died", server);
        await CancelAsync(api, id);
    }

    /// <summary>Waits until Prometheus has scraped the server at least <paramref name="seconds"/> after <paramref name="after"/>.</summary>
    private Task ScrapedAfterAsync(DateTimeOffset after, int seconds)
    {
        var prometheus = _prometheus!;
        var wanted = after.ToUnixTimeMilliseconds() / 1000.0 + seconds;
        return UntilAsync(async () => await prometheus.ValueAsync("timestamp(up{job=\"strata\"} == 1)") >= wanted,
            $"a successful scrape {seconds} s after {after:O}");
    }

    private async Task<string> ScrapeErrorAsync()
    {
        var targets = await _prometheus!.GetJsonAsync("/api/v1/targets");
        return string.Join("; ", targets.GetProperty("data").GetProperty("activeTargets").EnumerateArray()
            .Select(t => $"{t.GetProperty("scrapeUrl").GetString()}: health {t.GetProperty("health").GetString()}, {t.GetProperty("lastError").GetString()}"));
    }

    private async Task UntilAsync(Func<Task<bool>> condition, string what, Func<Task<string>>? explain = null)
    {
        var deadline = DateTime.UtcNow + ServerProcess.Patience;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                var why = explain is null ? "" : await explain() + "\n";
                throw new TimeoutException($"Waited {ServerProcess.Patience.TotalSeconds} s for {what}.\n{why}Prometheus:\n{_prometheus?.LogTail(20)}\nServer:\n{_server?.LogTail(20)}");
            }
            await Task.Delay(250);
        }
    }

    /// <summary>The metric names of docs/metrics.md's table (first column, in backticks).</summary>
    private static List<string> ContractMetrics()
    {
        var path = Path.Combine(MonitoringFiles.RepositoryRoot, "docs", "metrics.md");
        return File.ReadAllLines(path)
            .Select(line => ContractRow().Match(line))
            .Where(m => m.Success)
            .Select(m => m.Groups["metric"].Value)
            .ToList();
    }

    // ------------------------------------------------------------------ dashboards

    /// <summary>(panel title, expr) of every target with a PromQL <c>expr</c>, rows and nested panels included.</summary>
    private static IEnumerable<(string Panel, string Expr)> Targets(JsonElement dashboard)
    {
        var panels = new List<JsonElement>();
        void Collect(JsonElement container)
        {
            if (container.TryGetProperty("panels", out var list) && list.ValueKind == JsonValueKind.Array)
            {
                foreach (var panel in list.EnumerateArray())
                {
                    panels.Add(panel);
                    Collect(panel);
                }
            }
        }
        Collect(dashboard);
        if (dashboard.TryGetProperty("rows", out var rows) && rows.ValueKind == JsonValueKind.Array)
        {
            foreach (var row in rows.EnumerateArray()) Collect(row);
        }
        foreach (var panel in panels)
        {
            if (!panel.TryGetProperty("targets", out var targets) || targets.ValueKind != JsonValueKind.Array) continue;
            var title = panel.TryGetProperty("title", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "(untitled)";
            foreach (var target in targets.EnumerateArray())
            {
                if (target.TryGetProperty("expr", out var expr) && expr.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(expr.GetString()))
                {
                    yield return (title, expr.GetString()!);
                }
            }
        }
    }

    /// <summary>What each dashboard variable stands for in a test query.</summary>
    private static Dictionary<string, string> Variables(JsonElement dashboard)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!dashboard.TryGetProperty("templating", out var templating) || !templating.TryGetProperty("list", out var list)) return values;
        foreach (var variable in list.EnumerateArray())
        {
            if (!variable.TryGetProperty("name", out var n) || n.GetString() is not { } name) continue;
            var type = variable.TryGetProperty("type", out var t) ? t.GetString() : null;
            string? current = null;
            if (variable.TryGetProperty("current", out var c) && c.ValueKind == JsonValueKind.Object && c.TryGetProperty("value", out var v))
            {
                current = v.ValueKind switch
                {
                    JsonValueKind.String => v.GetString(),
                    JsonValueKind.Array when v.GetArrayLength() == 1 && v[0].ValueKind == JsonValueKind.String => v[0].GetString(),
                    _ => null,
                };
            }
            values[name] = type switch
            {
                "interval" => current is { Length: > 0 } && !current.StartsWith('$') ? current : "1m",
                "custom" or "constant" or "textbox" when current is { Length: > 0 } && current != "$__all" => current,
                _ => ".*",   // query variables (tenant, ...) are used with =~
            };
        }
        return values;
    }

    /// <summary>Grafana's variables replaced: dashboard variables by <paramref name="variables"/>, built-ins by a fixed time range.</summary>
    internal static string Substitute(string expr, IReadOnlyDictionary<string, string> variables) =>
        VariableReference().Replace(expr, match =>
        {
            var name = match.Groups["braced"].Success ? match.Groups["braced"].Value
                : match.Groups["plain"].Success ? match.Groups["plain"].Value
                : match.Groups["old"].Value;
            return name switch
            {
                "__rate_interval" or "__interval" => "1m",
                "__range" => "5m",
                "__range_s" => "300",
                "__range_ms" => "300000",
                "__interval_ms" => "60000",
                _ => variables.TryGetValue(name, out var value) ? value : ".*",
            };
        });

    /// <summary>Query variables of the form <c>label_values(metric{...}, label)</c>.</summary>
    private static IEnumerable<(string Name, string Metric, string Label)> LabelValuesVariables(JsonElement dashboard)
    {
        if (!dashboard.TryGetProperty("templating", out var templating) || !templating.TryGetProperty("list", out var list)) yield break;
        foreach (var variable in list.EnumerateArray())
        {
            if (!variable.TryGetProperty("type", out var type) || type.GetString() != "query") continue;
            var name = variable.TryGetProperty("name", out var n) ? n.GetString() ?? "" : "";
            string? definition = null;
            if (variable.TryGetProperty("query", out var q))
            {
                definition = q.ValueKind switch
                {
                    JsonValueKind.String => q.GetString(),
                    JsonValueKind.Object when q.TryGetProperty("query", out var inner) && inner.ValueKind == JsonValueKind.String => inner.GetString(),
                    _ => null,
                };
            }
            var match = LabelValues().Match(definition ?? "");
            if (match.Success) yield return (name, match.Groups["metric"].Value.Trim(), match.Groups["label"].Value.Trim());
        }
    }

    public void Dispose()
    {
        _prometheus?.Dispose();
        _server?.Dispose();
    }

    [GeneratedRegex(@"\$\{(?<braced>\w+)(?::[^}]*)?\}|\$(?<plain>\w+)|\[\[(?<old>\w+)(?::[^\]]*)?\]\]")]
    private static partial Regex VariableReference();

    [GeneratedRegex(@"^\s*label_values\(\s*(?<metric>.+)\s*,\s*(?<label>\w+)\s*\)\s*$")]
    private static partial Regex LabelValues();

    [GeneratedRegex(@"^\|\s*`(?<metric>[a-z_:][a-z0-9_:]*)`\s*\|")]
    private static partial Regex ContractRow();
}
