using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Strata.Server.Tests.Monitoring;

/// <summary>
/// The repository's monitoring files (deploy/prometheus, deploy/grafana, docs/runbooks) and the Prometheus
/// binaries the tests run: <c>STRATA_TEST_PROMTOOL</c>/<c>STRATA_TEST_PROMETHEUS</c> (exported by scripts/test,
/// which installs Debian's <c>prometheus</c> package), else /usr/bin.
/// </summary>
internal static partial class MonitoringFiles
{
    public static string RepositoryRoot { get; } = FindRepositoryRoot();
    public static string PrometheusFolder => Path.Combine(RepositoryRoot, "deploy", "prometheus");
    public static string PrometheusConfig => Path.Combine(PrometheusFolder, "prometheus.yml");
    public static string RulesFolder => Path.Combine(PrometheusFolder, "rules");
    public static string RuleTestsFolder => Path.Combine(PrometheusFolder, "tests");
    public static string DashboardsFolder => Path.Combine(RepositoryRoot, "deploy", "grafana", "dashboards");

    public static string[] RuleFiles() => Directory.Exists(RulesFolder)
        ? Directory.GetFiles(RulesFolder, "*.yml").Concat(Directory.GetFiles(RulesFolder, "*.yaml")).Order(StringComparer.Ordinal).ToArray()
        : [];

    public static string[] RuleTestFiles() => Directory.Exists(RuleTestsFolder)
        ? Directory.GetFiles(RuleTestsFolder, "*.test.yml").Order(StringComparer.Ordinal).ToArray()
        : [];

    public static string[] DashboardFiles() => Directory.Exists(DashboardsFolder)
        ? Directory.GetFiles(DashboardsFolder, "*.json").Order(StringComparer.Ordinal).ToArray()
        : [];

    public static string? Promtool => Binary("STRATA_TEST_PROMTOOL", "/usr/bin/promtool");
    public static string? Prometheus => Binary("STRATA_TEST_PROMETHEUS", "/usr/bin/prometheus");

    public static string MissingBinaries(params string?[] binaries) =>
        binaries.Any(b => b is null)
            ? "Prometheus is not installed: set STRATA_TEST_PROMTOOL and STRATA_TEST_PROMETHEUS, or install Debian's `prometheus` package (scripts/test does so when it runs as root)."
            : "";

    private static string? Binary(string variable, string fallback)
    {
        var path = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrWhiteSpace(path)) path = fallback;
        return File.Exists(path) ? path : null;
    }

    /// <summary>The rule files prometheus.yml loads (its <c>rule_files</c> list), as absolute paths.</summary>
    public static string[] LoadedRuleFiles()
    {
        var files = new List<string>();
        var inList = false;
        foreach (var raw in File.ReadAllLines(PrometheusConfig))
        {
            var line = StripComment(raw);
            if (line.Trim().Length == 0) continue;
            if (!char.IsWhiteSpace(line[0]) && !line.StartsWith('-'))
            {
                inList = line.StartsWith("rule_files:", StringComparison.Ordinal);
                continue;
            }
            var item = ListItem().Match(line);
            if (inList && item.Success)
            {
                var pattern = item.Groups["value"].Value.Trim().Trim('\'', '"');
                var directory = Path.GetDirectoryName(Path.Combine(PrometheusFolder, pattern))!;
                var name = Path.GetFileName(pattern);
                files.AddRange(Directory.Exists(directory) ? Directory.GetFiles(directory, name) : []);
            }
        }
        return files.Select(Path.GetFullPath).Distinct().Order(StringComparer.Ordinal).ToArray();
    }

    /// <summary>
    /// The alerting rules of a rules file, read line by line (our files keep to one layout: <c>- alert:</c>,
    /// then <c>expr</c> on one line or as a <c>|</c> block, <c>labels</c> and <c>annotations</c> maps).
    /// </summary>
    public static List<AlertRule> ReadAlertRules(string path)
    {
        var rules = new List<AlertRule>();
        AlertRule? rule = null;
        var ruleIndent = -1;
        string? section = null;
        var lines = File.ReadAllLines(path);
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            if (line.TrimStart().StartsWith('#') || line.Trim().Length == 0) continue;
            var indent = line.Length - line.TrimStart().Length;
            var alert = AlertLine().Match(line);
            if (alert.Success)
            {
                rule = new AlertRule(alert.Groups["name"].Value, path);
                rules.Add(rule);
                ruleIndent = indent + 2;
                section = null;
                continue;
            }
            if (rule is null) continue;
            if (indent < ruleIndent || (indent == ruleIndent - 2 && line.TrimStart().StartsWith('-')))
            {
                rule = null;
                continue;
            }
            var pair = KeyValue().Match(line);
            if (!pair.Success) continue;
            var key = pair.Groups["key"].Value;
            var value = Unquote(StripComment(pair.Groups["value"].Value).Trim());
            if (indent == ruleIndent)
            {
                section = null;
                switch (key)
                {
                    case "expr" when value is "|" or ">" or "|-" or ">-":
                        var block = new StringBuilder();
                        while (i + 1 < lines.Length && (lines[i + 1].Trim().Length == 0 || lines[i + 1].Length - lines[i + 1].TrimStart().Length > indent))
                        {
                            block.AppendLine(lines[++i].Trim());
                        }
                        rule.Expr = block.ToString().Trim();
                        break;
                    case "expr":
                        rule.Expr = value;
                        break;
                    case "for":
                        rule.For = value;
                        break;
                    case "labels" or "annotations":
                        section = key;
                        break;
                }
            }
            else if (section == "labels")
            {
                rule.Labels[key] = value;
            }
            else if (section == "annotations")
            {
                rule.Annotations[key] = value;
            }
        }
        return rules;
    }

    /// <summary>
    /// Splits <c>&lt;query&gt; &lt;comparison&gt; &lt;threshold&gt;</c> (the convention of our alert rules); null when the
    /// expression does not end with a comparison against a number.
    /// </summary>
    public static (string Query, string Comparison, string Threshold)? SplitComparison(string expr)
    {
        var match = FinalComparison().Match(expr);
        if (!match.Success || match.Groups["query"].Value.Trim().Length == 0) return null;
        return (match.Groups["query"].Value.Trim(), match.Groups["op"].Value, match.Groups["threshold"].Value);
    }

    /// <summary>Runs a binary to completion and returns its exit code and its output (stdout and stderr).</summary>
    public static (int ExitCode, string Output) Run(string file, string workingDirectory, params string[] arguments)
    {
        var start = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            return (-1, $"{file} {string.Join(' ', arguments)} did not finish within 2 minutes");
        }
        return (process.ExitCode, $"$ {Path.GetFileName(file)} {string.Join(' ', arguments)}\n{stdout.Result}{stderr.Result}");
    }

    private static string StripComment(string line)
    {
        // Enough for our files: a ' #' outside quotes starts a comment.
        var quote = '\0';
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quote != '\0') { if (c == quote) quote = '\0'; continue; }
            if (c is '\'' or '"') quote = c;
            else if (c == '#' && (i == 0 || char.IsWhiteSpace(line[i - 1]))) return line[..i].TrimEnd();
        }
        return line;
    }

    private static string Unquote(string value) =>
        value.Length >= 2 && ((value[0] == '"' && value[^1] == '"') || (value[0] == '\'' && value[^1] == '\'')) ? value[1..^1] : value;

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Strata.slnx"))) return directory.FullName;
        }
        throw new InvalidOperationException($"no Strata.slnx above {AppContext.BaseDirectory}");
    }

    [GeneratedRegex(@"^\s*-\s+(?<value>.+)$")]
    private static partial Regex ListItem();

    [GeneratedRegex(@"^\s*-\s+alert:\s*(?<name>[A-Za-z_][A-Za-z0-9_]*)\s*$")]
    private static partial Regex AlertLine();

    [GeneratedRegex(@"^\s*(?<key>[A-Za-z_][A-Za-z0-9_]*):\s*(?<value>.*)$")]
    private static partial Regex KeyValue();

    [GeneratedRegex(@"^(?<query>.*?)\s*(?<op>==|!=|>=|<=|>|<)\s*(?:bool\s+)?(?<threshold>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*$", RegexOptions.Singleline)]
    private static partial Regex FinalComparison();
}

internal sealed class AlertRule(string name, string file)
{
    public string Name { get; } = name;
    public string File { get; } = file;
    public string Expr { get; set; } = "";
    public string? For { get; set; }
    public Dictionary<string, string> Labels { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, string> Annotations { get; } = new(StringComparer.Ordinal);

    public override string ToString() => $"{Name} ({Path.GetFileName(File)})";
}
