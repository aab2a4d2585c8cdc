using System.Text.Json;
using Strata.Server.Hosting;
using Strata.Server.Tests.Process;

namespace Strata.Server.Tests.Monitoring;

/// <summary>
/// deploy/prometheus/prometheus.local.yml, the configuration for a server started with <c>dotnet run</c>: it is valid,
/// it agrees with the server's defaults (address, data folder) and with prometheus.yml (jobs, rule files), and a real
/// Prometheus started with it as docs/metrics.md says scrapes a real server and reads the replica discovery with the
/// token file the docs tell the user to write.
/// </summary>
[Collection(ServerProcessCollection.Name)]
public sealed class LocalPrometheusConfigTests
{
    private static string LocalConfig => Path.Combine(MonitoringFiles.PrometheusFolder, "prometheus.local.yml");

    private static readonly string DefaultTarget = new Uri(HostingSetup.DefaultUrl).Authority;

    [SkippableFact]
    public void Promtool_check_config_passes_on_the_local_configuration()
    {
        var promtool = MonitoringFiles.Promtool;
        Skip.If(promtool is null, MonitoringFiles.MissingBinaries(promtool));

        var (code, output) = MonitoringFiles.Run(promtool!, MonitoringFiles.PrometheusFolder, "check", "config", LocalConfig);

        Assert.True(code == 0, output);
    }

    [Fact]
    public void The_local_configuration_agrees_with_the_servers_defaults_and_with_prometheus_yml()
    {
        var local = File.ReadAllText(LocalConfig);
        Assert.Contains($"- targets: ['{DefaultTarget}']", local, StringComparison.Ordinal);
        Assert.Contains($"url: {HostingSetup.DefaultUrl}{Strata.Server.Deployments.ReplicaTargetsApi.Path}", local, StringComparison.Ordinal);
        // The token file is in the server's default data folder, where docs/metrics.md writes it.
        var tokenFile = Path.GetFullPath(Path.Combine(MonitoringFiles.PrometheusFolder, "../../.strata/metrics-token"));
        Assert.Equal(Path.GetFullPath(Path.Combine(MonitoringFiles.RepositoryRoot, StrataOptions.DefaultDataPath, "metrics-token")), tokenFile);
        Assert.Contains("credentials_file: ../../.strata/metrics-token", local, StringComparison.Ordinal);
        // The same jobs, labels and rules as the compose configuration, so that the alerts and dashboards work.
        var compose = File.ReadAllText(MonitoringFiles.PrometheusConfig);
        foreach (var line in new[] { "job_name: strata\n", "job_name: strata-replicas", "honor_labels: true", "metrics_path: /metrics",
                     "scrape_interval: 15s", "scrape_timeout: 10s", "refresh_interval: 15s" })
        {
            Assert.Contains(line, compose, StringComparison.Ordinal);
            Assert.Contains(line, local, StringComparison.Ordinal);
        }
        foreach (var rules in MonitoringFiles.LoadedRuleFiles())
        {
            Assert.Contains("- rules/" + Path.GetFileName(rules), local, StringComparison.Ordinal);
        }
    }

    [SkippableFact]
    public async Task Prometheus_started_as_the_docs_say_scrapes_a_server_and_reads_the_replica_discovery()
    {
        var binary = MonitoringFiles.Prometheus;
        Skip.If(binary is null, MonitoringFiles.MissingBinaries(binary));
        using var server = new ServerProcess();
        await server.StartAsync();

        // The repository's layout in a folder of its own: deploy/prometheus as committed and .strata/metrics-token
        // as the docs' command writes it. The one change is the port: the test server's instead of 8080.
        var root = Path.Combine(Path.GetTempPath(), "strata-local-prom-" + Guid.NewGuid().ToString("N")[..12]);
        var folder = Path.Combine(root, "deploy", "prometheus");
        Directory.CreateDirectory(Path.Combine(folder, "rules"));
        foreach (var rules in Directory.GetFiles(MonitoringFiles.RulesFolder))
        {
            File.Copy(rules, Path.Combine(folder, "rules", Path.GetFileName(rules)));
        }
        var config = Path.Combine(folder, "prometheus.local.yml");
        await File.WriteAllTextAsync(config, File.ReadAllText(LocalConfig).Replace(DefaultTarget, server.BaseAddress.Authority, StringComparison.Ordinal));
        Directory.CreateDirectory(Path.Combine(root, ".strata"));
        using (var admin = new ApiClient(server, server.AdminToken))
        using (var issued = await admin.SendAsync(HttpMethod.Post, "/v1/admin/tokens", """{"role":"metrics-reader","subject":"prometheus"}"""))
        {
            Assert.Equal(System.Net.HttpStatusCode.Created, issued.StatusCode);
            var token = JsonDocument.Parse(await issued.Content.ReadAsStringAsync()).RootElement.GetProperty("token").GetString()!;
            await File.WriteAllTextAsync(Path.Combine(root, ".strata", "metrics-token"), token + "\n");
        }

        using var prometheus = await PrometheusProcess.StartAsync(binary!, root, config);

        await Until(async () => await prometheus.ValueAsync("up{job=\"strata\"}") == 1, prometheus, "the server scraped (up == 1)");
        // The discovery was read (at start, then every 15 s); a missing token file or a refused token counts a failure.
        await Until(async () => Sample(await prometheus.OwnMetricsAsync(), "prometheus_sd_http_failures_total") is not null
            && Sample(await prometheus.OwnMetricsAsync(), "prometheus_sd_refresh_duration_seconds_count{mechanism=\"http\"") >= 1, prometheus, "the discovery to be read");
        Assert.Equal(0, Sample(await prometheus.OwnMetricsAsync(), "prometheus_sd_http_failures_total"));
    }

    /// <summary>The sum of the samples whose line starts with <paramref name="series"/> (a name, or a name and its first labels).</summary>
    private static double? Sample(string metrics, string series)
    {
        var values = metrics.Split('\n')
            .Where(line => line.StartsWith(series, StringComparison.Ordinal) && line.Length > series.Length && line[series.Length] is ' ' or '{' or ',' or '}')
            .Select(line => double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture))
            .ToList();
        return values.Count == 0 ? null : values.Sum();
    }

    private static async Task Until(Func<Task<bool>> condition, PrometheusProcess prometheus, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"waited 90 s for {what}:\n{prometheus.LogTail()}");
            await Task.Delay(250);
        }
    }
}
