using System.Text.Json;
using YamlDotNet.RepresentationModel;

namespace Strata.Cli.Tests.Integration;

/// <summary>`-o json|yaml|name|table|wide` against the server: one option, one rendering path, the same fields.</summary>
public sealed class OutputFormatTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Yaml_has_the_json_fields_names_and_types_for_a_job_a_list_and_a_tenant()
    {
        var cli = await server.TenantMemberAsync("team-formats");
        var id = await SubmitAsync(cli, "formats-yaml");
        // Ended, so that the job reads the same in both formats.
        var wait = await cli.RunAsync("jobs", "wait", id, "--timeout", "60s");
        Assert.True(wait.ExitCode == ExitCodes.Success, wait.ToString());

        foreach (var args in new[] { new[] { "jobs", "get", id }, ["jobs", "list"], ["me"], ["quota"] })
        {
            var json = await cli.RunAsync([.. args, "-o", "json"]);
            var yaml = await cli.RunAsync([.. args, "-o", "yaml"]);
            Assert.True(json.ExitCode == ExitCodes.Success && yaml.ExitCode == ExitCodes.Success, json + "\n" + yaml);

            using var document = JsonDocument.Parse(json.Out);
            var stream = new YamlStream();
            stream.Load(new StringReader(yaml.Out));
            AssertSame(document.RootElement, stream.Documents.Single().RootNode, string.Join(' ', args));
        }

        var tenant = await server.Admin.RunAsync("tenants", "get", "team-formats", "-o", "yaml");
        Assert.Contains("id: team-formats\n", tenant.Out);
        Assert.Matches("created_at: \"20[0-9-]+T", tenant.Out);
    }

    [Fact]
    public async Task Name_prints_one_identifier_per_line_that_other_commands_take()
    {
        var cli = await server.TenantMemberAsync("team-names");
        var first = await SubmitAsync(cli, "names-one", "sleep 60");
        var second = await SubmitAsync(cli, "names-two");

        var list = await cli.RunAsync("jobs", "list", "-o", "name");

        Assert.True(list.ExitCode == ExitCodes.Success, list.ToString());
        Assert.Equal([second, first], list.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var cancel = await cli.RunAsync("jobs", "cancel", first, "-o", "name");
        Assert.Equal(first, cancel.Out.Trim());
        var submitted = await cli.RunAsync("jobs", "submit", "--name", "names-three", "--entrypoint", "true", "-o", "name");
        Assert.Matches("^[a-z0-9-]+\n$", submitted.Out);
        Assert.Equal(ExitCodes.Success, (await cli.RunAsync("jobs", "get", submitted.Out.Trim())).ExitCode);
    }

    [Fact]
    public async Task Name_is_refused_where_the_output_names_nothing()
    {
        var cli = await server.TenantMemberAsync("team-no-names");

        var health = await cli.RunAsync("health", "-o", "name");

        Assert.Equal(ExitCodes.UsageError, health.ExitCode);
        Assert.Contains("-o name", health.Error);
        Assert.Empty(health.Out);
    }

    [Fact]
    public async Task Wide_adds_the_columns_the_table_leaves_out()
    {
        var cli = await server.TenantMemberAsync("team-wide");
        await SubmitAsync(cli, "wide-one", more: ["--cpu", "1", "--priority", "7"]);

        var table = await cli.RunAsync("jobs", "list");
        var wide = await cli.RunAsync("jobs", "list", "-o", "wide");

        Assert.True(wide.ExitCode == ExitCodes.Success, wide.ToString());
        Assert.DoesNotContain("PRIORITY", table.Out);
        Assert.Contains("PRIORITY", wide.Out);
        Assert.Contains("COMPUTE", wide.Out);
        Assert.Contains("1 cores", wide.Out);
        Assert.Contains("wide-one", wide.Out);
    }

    private static async Task<string> SubmitAsync(Support.CliHarness cli, string name, string entrypoint = "true", string[]? more = null)
    {
        var submit = await cli.RunAsync(["jobs", "submit", "--name", name, "--entrypoint", entrypoint, .. more ?? [], "-o", "json"]);
        Assert.True(submit.ExitCode == ExitCodes.Success, submit.ToString());
        using var document = JsonDocument.Parse(submit.Out);
        return document.RootElement.GetProperty("id").GetString()!;
    }

    /// <summary>The YAML holds the JSON's keys in order, its values, and its types: a JSON string is never read back as a number, boolean or null.</summary>
    private static void AssertSame(JsonElement json, YamlNode yaml, string path)
    {
        switch (json.ValueKind)
        {
            case JsonValueKind.Object:
                var mapping = Assert.IsType<YamlMappingNode>(yaml);
                Assert.Equal(json.EnumerateObject().Select(p => p.Name), mapping.Children.Keys.Select(k => ((YamlScalarNode)k).Value));
                foreach (var property in json.EnumerateObject())
                {
                    AssertSame(property.Value, mapping.Children[new YamlScalarNode(property.Name)], $"{path}.{property.Name}");
                }

                break;
            case JsonValueKind.Array:
                var sequence = Assert.IsType<YamlSequenceNode>(yaml);
                Assert.Equal(json.GetArrayLength(), sequence.Children.Count);
                for (var i = 0; i < sequence.Children.Count; i++) AssertSame(json[i], sequence.Children[i], $"{path}[{i}]");
                break;
            case JsonValueKind.String:
                var text = Assert.IsType<YamlScalarNode>(yaml);
                Assert.Equal(json.GetString(), text.Value);
                var plain = text.Style is YamlDotNet.Core.ScalarStyle.Plain or YamlDotNet.Core.ScalarStyle.Any;
                Assert.False(plain && (text.Value is "" or "null" or "true" or "false" || char.IsAsciiDigit(text.Value![0])), $"{path}: \"{text.Value}\" would read as another type");
                break;
            default:
                var scalar = Assert.IsType<YamlScalarNode>(yaml);
                Assert.Equal(json.ValueKind switch { JsonValueKind.True => "true", JsonValueKind.False => "false", JsonValueKind.Null => "null", _ => json.GetRawText() }, scalar.Value);
                break;
        }
    }
}
