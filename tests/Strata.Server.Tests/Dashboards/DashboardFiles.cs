using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Strata.Server.Tests.Dashboards;

/// <summary>
/// The Grafana files of deploy/grafana, docs/metrics.md's metric table, and a small PromQL reader that finds the
/// metric selectors of an expression (enough for the dashboards' queries; the real parse is Prometheus's, in
/// Monitoring/PrometheusQueriesTests).
/// </summary>
internal static partial class DashboardFiles
{
    public static string RepositoryRoot { get; } = FindRepositoryRoot();
    public static string GrafanaFolder => Path.Combine(RepositoryRoot, "deploy", "grafana");
    public static string DashboardsFolder => Path.Combine(GrafanaFolder, "dashboards");
    public static string DatasourceProvisioning => Path.Combine(GrafanaFolder, "provisioning", "datasources", "prometheus.yml");
    public static string DashboardProvisioning => Path.Combine(GrafanaFolder, "provisioning", "dashboards", "strata.yml");
    public static string Compose => Path.Combine(RepositoryRoot, "deploy", "docker-compose.yml");
    public static string MetricsDoc => Path.Combine(RepositoryRoot, "docs", "metrics.md");

    /// <summary>Dashboard file names (relative to deploy/grafana/dashboards), for theories.</summary>
    public static TheoryData<string> DashboardNames()
    {
        var data = new TheoryData<string>();
        if (Directory.Exists(DashboardsFolder))
        {
            foreach (var file in Directory.GetFiles(DashboardsFolder, "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                data.Add(Path.GetRelativePath(DashboardsFolder, file));
            }
        }
        return data;
    }

    /// <summary>The dashboard object of a file (a file may also hold the API's <c>{"dashboard": {...}}</c> wrapper).</summary>
    public static JsonElement Load(string name)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(DashboardsFolder, name)));
        var root = document.RootElement.Clone();
        return root.ValueKind == JsonValueKind.Object && root.TryGetProperty("dashboard", out var wrapped) && wrapped.ValueKind == JsonValueKind.Object
            ? wrapped
            : root;
    }

    /// <summary>Every panel, rows' nested panels (collapsed rows, old-style <c>rows</c>) included.</summary>
    public static List<JsonElement> Panels(JsonElement dashboard)
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
        return panels;
    }

    public static string? String(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    public static string Type(JsonElement panel) => String(panel, "type") ?? "";

    public static string Title(JsonElement panel) => String(panel, "title") ?? "(untitled)";

    /// <summary>Panels that only arrange or explain (no queries).</summary>
    public static bool IsLayoutOnly(JsonElement panel) => Type(panel) is "row" or "text";

    public static IEnumerable<JsonElement> Targets(JsonElement panel) =>
        panel.TryGetProperty("targets", out var targets) && targets.ValueKind == JsonValueKind.Array ? targets.EnumerateArray() : [];

    /// <summary>(where, expr) of every target expression of every panel.</summary>
    public static IEnumerable<(string Where, string Expr)> Exprs(JsonElement dashboard) =>
        from panel in Panels(dashboard)
        from target in Targets(panel)
        let expr = String(target, "expr")
        where !string.IsNullOrWhiteSpace(expr)
        select ($"panel \"{Title(panel)}\" target {String(target, "refId") ?? "?"}", expr!);

    public static IEnumerable<JsonElement> Variables(JsonElement dashboard) =>
        dashboard.TryGetProperty("templating", out var templating) && templating.TryGetProperty("list", out var list) && list.ValueKind == JsonValueKind.Array
            ? list.EnumerateArray()
            : [];

    /// <summary>A query variable's query text (a string, or the Prometheus editor's <c>{"query": ...}</c>).</summary>
    public static string? VariableQuery(JsonElement variable)
    {
        if (!variable.TryGetProperty("query", out var query)) return null;
        return query.ValueKind switch
        {
            JsonValueKind.String => query.GetString(),
            JsonValueKind.Object => String(query, "query"),
            _ => null,
        };
    }

    /// <summary>Names referenced as <c>$name</c>, <c>${name}</c>, <c>${name:format}</c> or <c>[[name]]</c>.</summary>
    public static IEnumerable<string> VariableReferences(string text) =>
        VariableReference().Matches(text).Select(m => m.Groups["braced"].Success ? m.Groups["braced"].Value
            : m.Groups["plain"].Success ? m.Groups["plain"].Value
            : m.Groups["old"].Value);

    // ------------------------------------------------------------------ docs/metrics.md

    /// <summary>docs/metrics.md's table: metric name → its labels (second-to-last columns: type, labels).</summary>
    public static Dictionary<string, string[]> ContractMetrics()
    {
        var metrics = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var line in File.ReadAllLines(MetricsDoc))
        {
            var row = ContractRow().Match(line);
            if (!row.Success) continue;
            var cells = line.Trim().Trim('|').Split('|');
            var labels = cells.Length > 2
                ? BacktickName().Matches(cells[2]).Select(m => m.Groups["name"].Value).ToArray()
                : [];
            metrics[row.Groups["metric"].Value] = labels;
        }
        return metrics;
    }

    /// <summary>Whether docs/metrics.md's table has the "process and runtime metrics" row.</summary>
    public static bool ContractHasProcessMetrics() =>
        File.ReadAllLines(MetricsDoc).Any(line => line.TrimStart().StartsWith('|') && line.Contains("process and runtime metrics", StringComparison.OrdinalIgnoreCase));

    // ------------------------------------------------------------------ PromQL

    /// <summary>Operators and aggregations: never metric names (an aggregation may be followed by <c>by (...)</c>, not by <c>(</c>).</summary>
    private static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan", "atan2",
        "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio",
    };

    private static readonly HashSet<string> ListKeywords = new(StringComparer.Ordinal)
    {
        "by", "without", "on", "ignoring", "group_left", "group_right",
    };

    /// <summary>The metric selectors of a PromQL expression: (metric name, its <c>{...}</c> matchers or "").</summary>
    public static List<(string Metric, string Matchers)> Selectors(string expr)
    {
        var selectors = new List<(string, string)>();
        var i = 0;
        while (i < expr.Length)
        {
            var c = expr[i];
            if (c is '"' or '\'' or '`')
            {
                i = SkipString(expr, i);
            }
            else if (c == '[')
            {
                var end = expr.IndexOf(']', i);
                i = end < 0 ? expr.Length : end + 1;
            }
            else if (c == '{')
            {
                // A selector without a metric name ({__name__=...}): not used by our dashboards.
                i = SkipBraces(expr, i);
            }
            else if (c == '$')
            {
                i++;
                if (i < expr.Length && expr[i] == '{') i = expr.IndexOf('}', i) is var e and >= 0 ? e + 1 : expr.Length;
                else while (i < expr.Length && IsIdentifierPart(expr[i])) i++;
            }
            else if (char.IsAsciiDigit(c) || (c == '.' && i + 1 < expr.Length && char.IsAsciiDigit(expr[i + 1])))
            {
                while (i < expr.Length && (char.IsAsciiLetterOrDigit(expr[i]) || expr[i] is '.' or '_' || ((expr[i] is '+' or '-') && expr[i - 1] is 'e' or 'E'))) i++;
            }
            else if (IsIdentifierStart(c))
            {
                var start = i;
                while (i < expr.Length && IsIdentifierPart(expr[i])) i++;
                var name = expr[start..i];
                var next = i;
                while (next < expr.Length && char.IsWhiteSpace(expr[next])) next++;
                var followedBy = next < expr.Length ? expr[next] : '\0';
                if (ListKeywords.Contains(name) && followedBy == '(')
                {
                    i = expr.IndexOf(')', next) is var close and >= 0 ? close + 1 : expr.Length;
                }
                else if (name == "offset")
                {
                    // offset 5m: skip the duration.
                    i = next;
                    while (i < expr.Length && (char.IsAsciiLetterOrDigit(expr[i]) || expr[i] == '-')) i++;
                }
                else if (Keywords.Contains(name) || followedBy == '(')
                {
                    // An operator, or a function call: its arguments are read next.
                }
                else if (followedBy == '{')
                {
                    var end = SkipBraces(expr, next);
                    selectors.Add((name, expr[next..end]));
                    i = end;
                }
                else
                {
                    selectors.Add((name, ""));
                }
            }
            else
            {
                i++;
            }
        }
        return selectors;
    }

    /// <summary>Whether the matchers hold <c>tenant=~"$tenant"</c> (or <c>${tenant}</c>).</summary>
    public static bool FiltersOnTenant(string matchers) => TenantMatcher().IsMatch(matchers);

    private static bool IsIdentifierStart(char c) => char.IsAsciiLetter(c) || c is '_' or ':';

    private static bool IsIdentifierPart(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or ':';

    private static int SkipString(string text, int start)
    {
        var quote = text[start];
        var i = start + 1;
        while (i < text.Length && text[i] != quote)
        {
            if (text[i] == '\\' && quote != '`') i++;
            i++;
        }
        return Math.Min(i + 1, text.Length);
    }

    private static int SkipBraces(string text, int start)
    {
        var i = start + 1;
        while (i < text.Length && text[i] != '}')
        {
            i = text[i] is '"' or '\'' or '`' ? SkipString(text, i) : i + 1;
        }
        return Math.Min(i + 1, text.Length);
    }

    // ------------------------------------------------------------------ YAML (line-based: our files keep one layout)

    /// <summary>The values of every <c>key: value</c> line of a YAML file (comments and quotes removed).</summary>
    public static List<string> YamlValues(string path, string key)
    {
        var values = new List<string>();
        foreach (var raw in File.ReadAllLines(path))
        {
            var line = raw.TrimStart().StartsWith('#') ? "" : raw;
            var match = YamlKeyValue().Match(line);
            if (match.Success && match.Groups["key"].Value == key)
            {
                var value = match.Groups["value"].Value;
                var comment = value.IndexOf(" #", StringComparison.Ordinal);
                if (comment >= 0) value = value[..comment];
                values.Add(value.Trim().Trim('"', '\''));
            }
        }
        return values;
    }

    /// <summary>The <c>host:container[:mode]</c> volume entries of docker-compose.yml: host path → container path.</summary>
    public static List<(string Host, string Container)> ComposeBindMounts()
    {
        var mounts = new List<(string, string)>();
        foreach (var line in File.ReadAllLines(Compose))
        {
            var match = ComposeVolume().Match(line);
            if (match.Success) mounts.Add((match.Groups["host"].Value, match.Groups["container"].Value.TrimEnd('/')));
        }
        return mounts;
    }

    public static string Describe(IEnumerable<string> problems)
    {
        var builder = new StringBuilder();
        foreach (var problem in problems) builder.Append("\n  ").Append(problem);
        return builder.ToString();
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Strata.slnx"))) return directory.FullName;
        }
        throw new InvalidOperationException($"no Strata.slnx above {AppContext.BaseDirectory}");
    }

    [GeneratedRegex(@"\$\{(?<braced>\w+)(?::[^}]*)?\}|\$(?<plain>\w+)|\[\[(?<old>\w+)(?::[^\]]*)?\]\]")]
    private static partial Regex VariableReference();

    [GeneratedRegex(@"^\|\s*`(?<metric>[a-z_:][a-z0-9_:]*)`\s*\|")]
    private static partial Regex ContractRow();

    [GeneratedRegex(@"`(?<name>[a-z_][a-z0-9_]*)`")]
    private static partial Regex BacktickName();

    [GeneratedRegex(@"(?<![\w])tenant\s*=~\s*""\$(?:tenant|\{tenant\})""")]
    private static partial Regex TenantMatcher();

    [GeneratedRegex(@"^\s*-?\s*(?<key>[A-Za-z_][A-Za-z0-9_]*):\s*(?<value>.*)$")]
    private static partial Regex YamlKeyValue();

    [GeneratedRegex(@"^\s*-\s*[""']?(?<host>\.{1,2}/[^:""']+):(?<container>/[^:""']+)(?::(?:ro|rw))?[""']?\s*(?:#.*)?$")]
    private static partial Regex ComposeVolume();
}
