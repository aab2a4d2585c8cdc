using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Strata.Server.Tests.Monitoring;

/// <summary>
/// A real Prometheus (the Debian binary) on a free loopback port, scraping one Strata server every second
/// with a generated configuration, its TSDB in a temporary folder. <see cref="Dispose"/> kills it and removes
/// the folder.
/// </summary>
internal sealed class PrometheusProcess : IDisposable
{
    private readonly System.Diagnostics.Process _process;
    private readonly HttpClient _http;

    private PrometheusProcess(System.Diagnostics.Process process, string root, Uri baseAddress)
    {
        _process = process;
        Root = root;
        BaseAddress = baseAddress;
        _http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public string Root { get; }
    public Uri BaseAddress { get; }
    public string LogPath => Path.Combine(Root, "prometheus.log");

    /// <summary>
    /// Starts Prometheus scraping <paramref name="target"/> (host:port) as job <c>strata</c> and waits until it is ready.
    /// With <paramref name="replicas"/>, also job <c>strata-replicas</c> as deploy/prometheus/prometheus.yml has it:
    /// targets from the server's HTTP service discovery, read with the token in <c>TokenFile</c>.
    /// </summary>
    public static async Task<PrometheusProcess> StartAsync(string binary, string target, IEnumerable<string> ruleFiles, (Uri Discovery, string TokenFile)? replicas = null)
    {
        var root = Path.Combine(Path.GetTempPath(), "strata-prom-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        var config = new StringBuilder();
        config.AppendLine("global:");
        config.AppendLine("  scrape_interval: 1s");
        config.AppendLine("  scrape_timeout: 1s");
        config.AppendLine("  evaluation_interval: 1s");
        config.AppendLine("rule_files:");
        foreach (var file in ruleFiles) config.AppendLine(CultureInfo.InvariantCulture, $"  - {JsonSerializer.Serialize(file)}");
        config.AppendLine("scrape_configs:");
        config.AppendLine("  - job_name: strata");
        config.AppendLine("    metrics_path: /metrics");
        config.AppendLine("    static_configs:");
        config.AppendLine(CultureInfo.InvariantCulture, $"      - targets: [{JsonSerializer.Serialize(target)}]");
        if (replicas is { } sd)
        {
            config.AppendLine("  - job_name: strata-replicas");
            config.AppendLine("    honor_labels: true");
            config.AppendLine("    http_sd_configs:");
            config.AppendLine(CultureInfo.InvariantCulture, $"      - url: {JsonSerializer.Serialize(sd.Discovery.ToString())}");
            config.AppendLine("        refresh_interval: 1s");
            config.AppendLine("        authorization:");
            config.AppendLine("          type: Bearer");
            config.AppendLine(CultureInfo.InvariantCulture, $"          credentials_file: {JsonSerializer.Serialize(sd.TokenFile)}");
        }
        var configPath = Path.Combine(root, "prometheus.yml");
        await File.WriteAllTextAsync(configPath, config.ToString());
        return await StartAsync(binary, root, configPath);
    }

    /// <summary>Starts Prometheus with a configuration file as it is, its log and TSDB in <paramref name="root"/> (removed on dispose).</summary>
    public static async Task<PrometheusProcess> StartAsync(string binary, string root, string configPath)
    {
        Exception? last = null;
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var port = FreePort();
            var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, WorkingDirectory = root };
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add("exec \"$0\" \"$@\" >> prometheus.log 2>&1");
            start.ArgumentList.Add(binary);
            start.ArgumentList.Add($"--config.file={configPath}");
            start.ArgumentList.Add($"--storage.tsdb.path={Path.Combine(root, "data")}");
            start.ArgumentList.Add($"--web.listen-address=127.0.0.1:{port}");
            var process = System.Diagnostics.Process.Start(start) ?? throw new InvalidOperationException("prometheus did not start");
            var prometheus = new PrometheusProcess(process, root, new Uri($"http://127.0.0.1:{port}"));
            try
            {
                await prometheus.WaitReadyAsync();
                return prometheus;
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException)
            {
                last = e;
                prometheus.Kill();   // a lost race for the port: try another one
                prometheus._http.Dispose();
            }
        }
        var log = File.Exists(Path.Combine(root, "prometheus.log")) ? await File.ReadAllTextAsync(Path.Combine(root, "prometheus.log")) : "";
        try { Directory.Delete(root, recursive: true); } catch (IOException) { }
        throw new InvalidOperationException($"prometheus did not become ready: {last?.Message}\n{log}");
    }

    private async Task WaitReadyAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            if (_process.HasExited) throw new InvalidOperationException($"prometheus exited with {_process.ExitCode}:\n{LogTail()}");
            try
            {
                using var response = await _http.GetAsync(new Uri("/-/ready", UriKind.Relative));
                if (response.StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"prometheus was not ready within 60 s:\n{LogTail()}");
            await Task.Delay(100);
        }
    }

    /// <summary>
    /// An instant query through <c>POST /api/v1/query</c>: the JSON answer's root, whatever its status
    /// (an expression that does not parse answers 400 with <c>status: error</c>).
    /// </summary>
    public async Task<JsonElement> QueryAsync(string query)
    {
        using var content = new FormUrlEncodedContent([new KeyValuePair<string, string>("query", query)]);
        using var response = await _http.PostAsync(new Uri("/api/v1/query", UriKind.Relative), content);
        var body = await response.Content.ReadAsStringAsync();
        try
        {
            return JsonDocument.Parse(body).RootElement.Clone();
        }
        catch (JsonException)
        {
            return JsonDocument.Parse(JsonSerializer.Serialize(new { status = "error", error = $"HTTP {(int)response.StatusCode}: {body}" })).RootElement.Clone();
        }
    }

    /// <summary>The number of samples (series of a vector, or 1 for a scalar) an instant query returns; null when it failed.</summary>
    public async Task<(int? Count, string Detail)> CountAsync(string query)
    {
        var answer = await QueryAsync(query);
        if (answer.GetProperty("status").GetString() != "success")
        {
            var type = answer.TryGetProperty("errorType", out var t) ? t.ToString() : "error";
            var error = answer.TryGetProperty("error", out var e) ? e.ToString() : answer.ToString();
            return (null, $"{type}: {error}");
        }
        var data = answer.GetProperty("data");
        var result = data.GetProperty("result");
        return data.GetProperty("resultType").GetString() switch
        {
            "vector" or "matrix" => (result.GetArrayLength(), result.GetArrayLength() > 0 ? Truncate(result[0].ToString()) : "empty result"),
            _ => (1, Truncate(result.ToString())),
        };
    }

    /// <summary>The value of a query returning one sample or a scalar; null when it returns nothing.</summary>
    public async Task<double?> ValueAsync(string query)
    {
        var answer = await QueryAsync(query);
        if (answer.GetProperty("status").GetString() != "success") return null;
        var data = answer.GetProperty("data");
        var result = data.GetProperty("result");
        var sample = data.GetProperty("resultType").GetString() switch
        {
            "vector" => result.GetArrayLength() > 0 ? result[0].GetProperty("value") : (JsonElement?)null,
            "scalar" => result,
            _ => null,
        };
        return sample is { } value ? double.Parse(value[1].GetString()!, CultureInfo.InvariantCulture) : null;
    }

    public async Task<JsonElement> GetJsonAsync(string path)
    {
        var body = await _http.GetStringAsync(new Uri(path, UriKind.Relative));
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>Prometheus' own metrics (its <c>/metrics</c>), for what it does not scrape from itself.</summary>
    public Task<string> OwnMetricsAsync() => _http.GetStringAsync(new Uri("/metrics", UriKind.Relative));

    public string LogTail(int lines = 40)
    {
        try
        {
            var all = File.ReadAllLines(LogPath);
            return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
        }
        catch (IOException e)
        {
            return $"(no prometheus log: {e.Message})";
        }
    }

    private static string Truncate(string text) => text.Length > 300 ? text[..300] + "..." : text;

    private void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(TimeSpan.FromSeconds(10));
            }
        }
        catch (InvalidOperationException) { }
        _process.Dispose();
    }

    public void Dispose()
    {
        Kill();
        _http.Dispose();
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
