using System.Text.Json;
using Strata.Contracts;
using Strata.Core.Jobs;

namespace Strata.Core.Tests;

/// <summary>What a job's <c>environment</c> may say, and what its environment is cached by.</summary>
public sealed class PythonEnvironmentsTests
{
    private static readonly PathPolicy Paths = new("/srv/strata/artifacts/team-a", ["/data"], "/srv/strata");

    private static EnvironmentSpec Spec(string json) => JsonSerializer.Deserialize<EnvironmentSpec>(json, StrataJson.Options)!;

    private static (EnvironmentSpec? Result, IReadOnlyDictionary<string, string[]> Errors) Validate(string json, EnvironmentRules? rules = null, bool trainer = false)
    {
        var errors = new ValidationErrors();
        var result = PythonEnvironments.Validate(errors, Spec(json), trainer, Paths, rules ?? EnvironmentRules.Default);
        return (result, errors.ToDictionary());
    }

    public static TheoryData<string, string, string> Refusals => new()
    {
        // environment, field, words of the error
        { """{"requirements": 3}""", "environment.requirements", "or a list of requirement strings" },
        { """{"requirements": {"a": 1}}""", "environment.requirements", "or a list of requirement strings" },
        { """{"requirements": ""}""", "environment.requirements", "must name a file of the job's code" },
        { """{"requirements": "/etc/requirements.txt"}""", "environment.requirements", "relative to the job's code" },
        { """{"requirements": "a/../../requirements.txt"}""", "environment.requirements", "without '..'" },
        { """{"requirements": [1]}""", "environment.requirements[0]", "must be a string" },
        { """{"requirements": ["  "]}""", "environment.requirements[0]", "1 to 512 characters" },
        { """{"requirements": ["ok", "-r /etc/passwd"]}""", "environment.requirements[1]", "not a pip option" },
        { """{"requirements": ["a\nb"]}""", "environment.requirements[0]", "control character" },
        { """{"python": "python3"}""", "environment.python", "absolute path" },
        { """{"python": "/usr/bin/python3"}""", "environment.python", "configured data root" },
        { """{"python": "/data/../usr/bin/python3"}""", "environment.python", "'..'" },
        { """{"python": "/srv/strata/artifacts/team-a/python"}""", "environment.python", "not the tenant's artifact area" },
        { """{"python": "/srv/strata/signing-key"}""", "environment.python", "platform's data folder" },
        { """{"inherit_path": true}""", "environment.inherit_path", "Runtime:Local:AllowInheritPath" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void A_bad_field_is_refused_by_name(string json, string field, string words)
    {
        var (_, errors) = Validate(json);

        Assert.True(errors.TryGetValue(field, out var messages), string.Join("; ", errors.Keys));
        Assert.Contains(words, messages[0], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"requirements": "requirements.txt"}""")]
    [InlineData("""{"requirements": "ml/requirements-gpu.txt"}""")]
    [InlineData("""{"requirements": ["pandas==2.2.2", "scikit-learn>=1.4", "torch @ https://example.com/torch.whl"]}""")]
    [InlineData("""{"python": "/data/conda/bin/python"}""")]
    [InlineData("""{"system_site_packages": true}""")]
    public void A_good_environment_is_kept(string json)
    {
        var (result, errors) = Validate(json);

        Assert.Empty(errors);
        Assert.NotNull(result);
        Assert.True(PythonEnvironments.NeedsVirtualEnvironment(result));
    }

    [Fact]
    public void Inherit_path_is_allowed_where_the_operator_allows_it_and_needs_no_virtual_environment()
    {
        var (result, errors) = Validate("""{"inherit_path": true}""", EnvironmentRules.Default with { InheritPathRefusal = null });

        Assert.Empty(errors);
        Assert.False(PythonEnvironments.NeedsVirtualEnvironment(result));
    }

    [Fact]
    public void An_empty_section_is_no_environment() => Assert.Null(Validate("""{"system_site_packages": false}""").Result);

    [Fact]
    public void A_runtime_that_refuses_requirements_or_interpreters_says_why()
    {
        var rules = new EnvironmentRules(RequirementsRefusal: "installing is off", PythonRefusal: "the image's python");

        var (_, errors) = Validate("""{"requirements": ["x"], "python": "/data/python"}""", rules);

        Assert.Equal(["installing is off"], errors["environment.requirements"]);
        Assert.Equal(["the image's python"], errors["environment.python"]);
    }

    [Fact]
    public void A_built_in_trainer_takes_no_python_environment() =>
        Assert.Contains("environment", Validate("""{"requirements": ["x"]}""", trainer: true).Errors.Keys);

    [Fact]
    public void A_requirements_file_is_read_as_pip_reads_it()
    {
        var lines = PythonEnvironments.ParseRequirementsFile("# deps\r\npandas==2.2.2  # pinned\n\n  scikit-learn \\\n  >=1.4\n--extra-index-url https://mirror/simple\n");

        Assert.Equal(["pandas==2.2.2", "scikit-learn   >=1.4", "--extra-index-url https://mirror/simple"], lines);
    }

    [Fact]
    public void The_key_ignores_the_order_of_requirements_and_changes_with_everything_else()
    {
        var key = PythonEnvironments.Key("/usr/bin/python3", ["a", "b"], ["--no-index"], false);

        Assert.Equal(64, key.Length);
        Assert.Equal(key, PythonEnvironments.Key("/usr/bin/python3", ["b", "a"], ["--no-index"], false));
        Assert.NotEqual(key, PythonEnvironments.Key("/usr/bin/python3.12", ["a", "b"], ["--no-index"], false));
        Assert.NotEqual(key, PythonEnvironments.Key("/usr/bin/python3", ["a", "b", "c"], ["--no-index"], false));
        Assert.NotEqual(key, PythonEnvironments.Key("/usr/bin/python3", ["a", "b"], [], false));
        Assert.NotEqual(key, PythonEnvironments.Key("/usr/bin/python3", ["a", "b"], ["--no-index"], true));
        Assert.NotEqual(PythonEnvironments.Key("/p", ["a b"], [], false), PythonEnvironments.Key("/p", ["a", "b"], [], false));
    }
}
