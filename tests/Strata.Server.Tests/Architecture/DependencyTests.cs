using System.Reflection;
using System.Reflection.Emit;
using Strata.Server.Jobs;
using Strata.Server.Problems;

namespace Strata.Server.Tests.Architecture;

/// <summary>
/// The server's feature folders (namespaces <c>Strata.Server.&lt;Folder&gt;</c>) must not depend on each other in a circle:
/// what one feature needs of another is a service in the other's folder, and the other never needs it back.
/// </summary>
public sealed class DependencyTests
{
    private static readonly Assembly Server = typeof(JobService).Assembly;

    [Fact]
    public void No_two_server_folders_depend_on_each_other()
    {
        var graph = FolderGraph.Of(Server);
        var circles = graph.MutualPairs()
            .Select(pair => $"{pair.Item1} <-> {pair.Item2}: {graph.Why(pair.Item1, pair.Item2)}; {graph.Why(pair.Item2, pair.Item1)}")
            .ToList();
        Assert.True(circles.Count == 0, "Circles between server folders (move the code to its home, or offer a service):\n" + string.Join("\n", circles));
    }

    [Fact]
    public void No_server_folder_depends_on_itself_through_others()
    {
        var graph = FolderGraph.Of(Server);
        var loops = graph.Loops().Select(loop => string.Join(" -> ", loop.Append(loop[0]))).ToList();
        Assert.True(loops.Count == 0, "Loops between server folders:\n" + string.Join("\n", loops));
    }

    [Fact]
    public void The_folder_table_of_docs_architecture_lists_every_folder_after_the_ones_it_uses()
    {
        // The rows of the table under "The server's folders", in order; a row may name several folders.
        var doc = File.ReadAllLines(Path.Combine(Dashboards.DashboardFiles.RepositoryRoot, "docs", "architecture.md"));
        var order = doc.SkipWhile(line => !line.StartsWith("| Folder |", StringComparison.Ordinal)).Skip(2)
            .TakeWhile(line => line.StartsWith('|'))
            .SelectMany(line => System.Text.RegularExpressions.Regex.Matches(line.Split('|')[1], "`([A-Za-z]+)/`").Select(m => m.Groups[1].Value))
            .ToList();
        var graph = FolderGraph.Of(Server);

        var missing = graph.Folders().Where(folder => !order.Contains(folder)).ToList();
        Assert.True(missing.Count == 0, "Folders missing from docs/architecture.md's table: " + string.Join(", ", missing));
        var upward = graph.Edges().Where(edge => order.IndexOf(edge.To) > order.IndexOf(edge.From))
            .Select(edge => graph.Why(edge.From, edge.To)).ToList();
        Assert.True(upward.Count == 0, "docs/architecture.md lists these folders before folders they use:\n" + string.Join("\n", upward));
    }

    [Fact]
    public void Sees_a_static_call_that_only_a_method_body_makes()
    {
        // An endpoint class called for its helpers shows in no signature, only in the caller's body.
        var method = typeof(DependencyTests).GetMethod(nameof(CallsAStaticHelper), BindingFlags.NonPublic | BindingFlags.Static)!;
        Assert.Contains(typeof(Problem), FolderGraph.BodyReferences(method));
    }

    private static Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult CallsAStaticHelper() => Problem.JobNotFound("job-1");

    [Fact]
    public void Jobs_reads_metrics_through_its_own_interface_so_Tracking_may_use_Jobs()
    {
        var graph = FolderGraph.Of(Server);
        Assert.True(graph.DependsOn("Tracking", "Jobs"), graph.Why("Tracking", "Jobs"));
        Assert.False(graph.DependsOn("Jobs", "Tracking"), graph.Why("Jobs", "Tracking"));
    }

    [Fact]
    public void A_pair_that_uses_each_other_is_reported_as_a_circle()
    {
        var graph = new FolderGraph();
        graph.Add("A", "B", "x");
        graph.Add("B", "A", "y");
        graph.Add("B", "C", "z");
        Assert.Equal([("A", "B")], graph.MutualPairs());
    }

    /// <summary>Which folders each folder's types reference, with one example reference per edge.</summary>
    internal sealed class FolderGraph
    {
        private const string Prefix = "Strata.Server.";
        private readonly Dictionary<string, Dictionary<string, string>> _edges = new(StringComparer.Ordinal);

        public void Add(string from, string to, string example)
        {
            if (from == to) return;
            if (!_edges.TryGetValue(from, out var targets)) _edges[from] = targets = new(StringComparer.Ordinal);
            targets.TryAdd(to, example);
        }

        /// <summary>Every folder that uses or is used by another.</summary>
        public IEnumerable<string> Folders() => _edges.Keys.Concat(_edges.Values.SelectMany(t => t.Keys)).Distinct(StringComparer.Ordinal);

        /// <summary>Every dependency between two folders.</summary>
        public IEnumerable<(string From, string To)> Edges() => _edges.SelectMany(e => e.Value.Keys.Select(to => (e.Key, to)));

        public bool DependsOn(string from, string to) => _edges.TryGetValue(from, out var t) && t.ContainsKey(to);

        public string Why(string from, string to) =>
            _edges.TryGetValue(from, out var t) && t.TryGetValue(to, out var example) ? $"{from} -> {to} ({example})" : $"{from} does not use {to}";

        /// <summary>Each pair of folders that reference each other, the pair in ordinal order.</summary>
        public List<(string, string)> MutualPairs() =>
            _edges.SelectMany(e => e.Value.Keys.Select(to => (From: e.Key, To: to)))
                .Where(e => string.CompareOrdinal(e.From, e.To) < 0 && DependsOn(e.To, e.From))
                .Select(e => (e.From, e.To))
                .OrderBy(p => p.From, StringComparer.Ordinal).ThenBy(p => p.To, StringComparer.Ordinal)
                .ToList();

        /// <summary>The folders that reach each other through others (each strongly connected group of more than one), each listed in the order a path visits them.</summary>
        public List<List<string>> Loops()
        {
            var loops = new List<List<string>>();
            var folders = _edges.Keys.Concat(_edges.Values.SelectMany(t => t.Keys)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var start in folders)
            {
                if (seen.Contains(start)) continue;
                var group = folders.Where(f => Reaches(start, f) && Reaches(f, start)).ToList();
                seen.UnionWith(group);
                if (group.Count > 1) loops.Add(PathThrough(group));
            }
            return loops;
        }

        private bool Reaches(string from, string to)
        {
            if (from == to) return true;
            var visited = new HashSet<string>(StringComparer.Ordinal) { from };
            var frontier = new Queue<string>([from]);
            while (frontier.TryDequeue(out var next))
            {
                if (!_edges.TryGetValue(next, out var targets)) continue;
                foreach (var target in targets.Keys)
                {
                    if (target == to) return true;
                    if (visited.Add(target)) frontier.Enqueue(target);
                }
            }
            return false;
        }

        /// <summary>The group's folders, each followed by one it uses where the group allows (a readable, not necessarily shortest, loop).</summary>
        private List<string> PathThrough(List<string> group)
        {
            var path = new List<string> { group[0] };
            while (path.Count < group.Count && _edges.TryGetValue(path[^1], out var targets)
                && targets.Keys.FirstOrDefault(t => group.Contains(t) && !path.Contains(t)) is { } next)
            {
                path.Add(next);
            }
            return path;
        }

        public static FolderGraph Of(Assembly assembly)
        {
            var graph = new FolderGraph();
            foreach (var type in assembly.GetTypes())
            {
                if (FolderOf(type) is not { } folder) continue;
                foreach (var (used, where) in References(type))
                {
                    foreach (var target in Expand(used))
                    {
                        if (FolderOf(target) is { } to) graph.Add(folder, to, $"{Name(type)}.{where} uses {Name(target)}");
                    }
                }
            }
            return graph;
        }

        /// <summary>The folder of a server type: the first namespace segment after <c>Strata.Server</c>; nested and compiler-generated types share their outer type's.</summary>
        private static string? FolderOf(Type type)
        {
            var ns = type.Namespace;
            if (ns is null || !ns.StartsWith(Prefix, StringComparison.Ordinal) || type.Assembly != Server) return null;
            var rest = ns[Prefix.Length..];
            var dot = rest.IndexOf('.', StringComparison.Ordinal);
            return dot < 0 ? rest : rest[..dot];
        }

        private static string Name(Type type) => type.FullName?[Prefix.Length..] ?? type.Name;

        /// <summary>A type and every type it is built from: element types and generic arguments.</summary>
        private static IEnumerable<Type> Expand(Type type)
        {
            if (type.HasElementType)
            {
                foreach (var t in Expand(type.GetElementType()!)) yield return t;
                yield break;
            }
            if (type.IsGenericParameter) yield break;
            yield return type.IsGenericType ? type.GetGenericTypeDefinition() : type;
            if (type.IsGenericType)
            {
                foreach (var argument in type.GetGenericArguments())
                {
                    foreach (var t in Expand(argument)) yield return t;
                }
            }
        }

        private const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

        private static IEnumerable<(Type Used, string Where)> References(Type type)
        {
            if (type.BaseType is { } baseType) yield return (baseType, "base");
            foreach (var i in type.GetInterfaces()) yield return (i, "interface");
            foreach (var a in type.GetCustomAttributesData()) yield return (a.AttributeType, "attribute");
            foreach (var f in type.GetFields(All)) yield return (f.FieldType, f.Name);
            foreach (var p in type.GetProperties(All)) yield return (p.PropertyType, p.Name);
            foreach (var e in type.GetEvents(All)) if (e.EventHandlerType is { } h) yield return (h, e.Name);
            foreach (var method in type.GetMethods(All).Cast<MethodBase>().Concat(type.GetConstructors(All)))
            {
                if (method is MethodInfo m) yield return (m.ReturnType, m.Name);
                foreach (var p in method.GetParameters()) yield return (p.ParameterType, method.Name);
                foreach (var used in BodyReferences(method)) yield return (used, method.Name);
            }
        }

        private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
            .GetFields(BindingFlags.Public | BindingFlags.Static)
            .Select(f => (OpCode)f.GetValue(null)!)
            .ToDictionary(o => o.Value);

        /// <summary>The types that a method's IL names: locals, and the types, fields and methods its instructions refer to.</summary>
        internal static IEnumerable<Type> BodyReferences(MethodBase method)
        {
            var body = method.GetMethodBody();
            if (body is null) yield break;
            foreach (var local in body.LocalVariables) yield return local.LocalType;
            var il = body.GetILAsByteArray() ?? [];
            var typeArguments = method.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
            var methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : null;
            var position = 0;
            while (position < il.Length)
            {
                short value = il[position++];
                if (value == 0xFE) value = (short)(0xFE00 | il[position++]);
                var code = OpCodesByValue[value];
                var size = code.OperandType switch
                {
                    OperandType.InlineNone => 0,
                    OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                    OperandType.InlineVar => 2,
                    OperandType.InlineI8 or OperandType.InlineR => 8,
                    OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, position),
                    _ => 4,
                };
                if (code.OperandType is OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineTok or OperandType.InlineType)
                {
                    var token = BitConverter.ToInt32(il, position);
                    MemberInfo? member;
                    try
                    {
                        member = method.Module.ResolveMember(token, typeArguments, methodArguments);
                    }
                    catch (ArgumentException)
                    {
                        member = null;
                    }
                    switch (member)
                    {
                        case Type t:
                            yield return t;
                            break;
                        case FieldInfo f:
                            if (f.DeclaringType is { } fd) yield return fd;
                            yield return f.FieldType;
                            break;
                        case MethodBase m:
                            if (m.DeclaringType is { } md) yield return md;
                            if (m.IsGenericMethod) foreach (var a in m.GetGenericArguments()) yield return a;
                            break;
                    }
                }
                position += size;
            }
        }
    }
}
