using System.Text.RegularExpressions;
using k8s;
using k8s.Models;
using YamlDotNet.Serialization;

namespace Strata.Kubernetes.Tests;

/// <summary>
/// deploy/helm/strata renders the objects of deploy/kubernetes from values. There is no Debian package of helm, so
/// the templates are rendered here by the subset of Helm's template language the chart keeps to:
/// <c>{{ .Values.a.b }}</c>, <c>{{ .Release.Namespace }}</c>, each optionally <c>| quote</c>. Anything else in a
/// template fails the test, so the chart cannot grow a construct these tests do not understand.
/// </summary>
public sealed partial class HelmChartTests
{
    private static readonly string Root = RepositoryRoot();
    private static readonly string Chart = Path.Combine(Root, "deploy", "helm", "strata");
    private static readonly string Manifests = Path.Combine(Root, "deploy", "kubernetes");

    [Fact]
    public void With_its_default_values_the_chart_renders_exactly_the_objects_of_deploy_kubernetes_but_the_namespace()
    {
        var rendered = Render(DefaultValues(), "strata-system");
        var expected = KustomizeOutput();

        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), rendered.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, json) in expected)
        {
            Assert.True(json == rendered[key], $"{key} differs:\nkustomize: {json}\nchart:     {rendered[key]}");
        }
    }

    [Fact]
    public void Values_reach_the_objects_they_name()
    {
        var values = DefaultValues();
        Set(values, "image.repository", "registry.example.com/strata");
        Set(values, "image.tag", "1.2.0");
        Set(values, "replicas", "5");
        Set(values, "runtime.capacity.nodeSelector", "strata.dev/pool=training");
        Set(values, "runtime.maxPlaceholders", "0");

        var objects = Render(values, "ml-platform").Values.Select(json => KubernetesYaml.LoadAllFromString(json).Single()).ToList();

        var deployment = objects.OfType<V1Deployment>().Single();
        Assert.Equal("registry.example.com/strata:1.2.0", deployment.Spec.Template.Spec.Containers[0].Image);
        Assert.Equal(5, deployment.Spec.Replicas);
        Assert.Equal("ml-platform", deployment.Metadata.NamespaceProperty);
        var settings = objects.OfType<V1ConfigMap>().Single().Data;
        Assert.Equal("strata.dev/pool=training", settings["Runtime__Kubernetes__CapacityNodeSelector"]);
        Assert.Equal("0", settings["Runtime__Kubernetes__MaxPlaceholders"]);
        Assert.Equal("ml-platform", settings["Runtime__Kubernetes__PlatformNamespace"]);
        Assert.Equal("http://strata.ml-platform.svc:8080", settings["Strata__PublicUrl"]);
        Assert.Equal("ml-platform", objects.OfType<V1ClusterRoleBinding>().Single().Subjects.Single().NamespaceProperty);
        Assert.Equal("ml-platform", objects.OfType<V1RoleBinding>().Single().Subjects.Single().NamespaceProperty);
    }

    /// <summary>Every object of every template, rendered, by <c>Kind/namespace/name</c>, as JSON.</summary>
    private static Dictionary<string, string> Render(Dictionary<object, object> values, string releaseNamespace)
    {
        var objects = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var template in Directory.GetFiles(Path.Combine(Chart, "templates"), "*.yaml"))
        {
            var text = Expression().Replace(File.ReadAllText(template), match =>
            {
                var path = match.Groups["path"].Value;
                var value = path == ".Release.Namespace" ? releaseNamespace
                    : path.StartsWith(".Values.", StringComparison.Ordinal) ? Lookup(values, path[".Values.".Length..])
                    : throw new InvalidOperationException($"{template}: {match.Value} is outside the subset these tests render");
                return match.Groups["quote"].Success ? $"\"{value.Replace("\"", "\\\"", StringComparison.Ordinal)}\"" : value;
            });
            Assert.False(text.Contains("{{", StringComparison.Ordinal), $"{template} uses a template construct these tests do not render");
            foreach (var item in KubernetesYaml.LoadAllFromString(text))
            {
                var meta = ((IKubernetesObject<V1ObjectMeta>)item).Metadata;
                objects.Add($"{item.GetType().Name}/{meta.NamespaceProperty}/{meta.Name}", KubernetesJson.Serialize(item));
            }
        }
        return objects;
    }

    /// <summary>What <c>kubectl apply -k deploy/kubernetes</c> applies: its files with the kustomization's label and image.</summary>
    private static Dictionary<string, string> KustomizeOutput()
    {
        var objects = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in Directory.GetFiles(Manifests, "*.yaml").Where(f => Path.GetFileName(f) is not ("kustomization.yaml" or "namespace.yaml")))
        {
            foreach (var item in KubernetesYaml.LoadAllFromString(File.ReadAllText(file)))
            {
                var meta = ((IKubernetesObject<V1ObjectMeta>)item).Metadata;
                meta.Labels["app.kubernetes.io/part-of"] = "strata";   // labels: pairs
                if (item is V1Deployment deployment)
                {
                    foreach (var container in deployment.Spec.Template.Spec.Containers.Where(c => c.Image == "strata")) container.Image = "strata:latest";   // images:
                }
                objects.Add($"{item.GetType().Name}/{meta.NamespaceProperty}/{meta.Name}", KubernetesJson.Serialize(item));
            }
        }
        return objects;
    }

    private static Dictionary<object, object> DefaultValues() =>
        new DeserializerBuilder().Build().Deserialize<Dictionary<object, object>>(File.ReadAllText(Path.Combine(Chart, "values.yaml")));

    private static string Lookup(Dictionary<object, object> values, string path)
    {
        object node = values;
        foreach (var key in path.Split('.'))
        {
            node = node is Dictionary<object, object> map && map.TryGetValue(key, out var next) ? next
                : throw new InvalidOperationException($".Values.{path} is not in values.yaml");
        }
        return node as string ?? throw new InvalidOperationException($".Values.{path} is not a scalar");
    }

    private static void Set(Dictionary<object, object> values, string path, string value)
    {
        var keys = path.Split('.');
        var map = values;
        foreach (var key in keys[..^1]) map = (Dictionary<object, object>)map[key];
        Assert.True(map.ContainsKey(keys[^1]), $"{path} is not in values.yaml");
        map[keys[^1]] = value;
    }

    [GeneratedRegex(@"\{\{-?\s*(?<path>\.[A-Za-z.]+)\s*(?<quote>\|\s*quote\s*)?-?\}\}")]
    private static partial Regex Expression();

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Strata.slnx"))) directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("repository root not found");
    }
}
