using System.IO.Compression;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Runtime;

/// <summary>
/// A server whose jobs' environments come from a folder of wheels made here (there is no PyPI on this machine):
/// <c>--no-index --find-links</c>, as an operator with a private mirror would set it.
/// </summary>
public class WheelFolderApp : StrataApp
{
    public WheelFolderApp()
    {
        Wheels = Directory.CreateDirectory(Path.Combine(SharedPath, "wheels")).FullName;
        WriteWheel(Wheels, "tinypkg", "1.0", "GREETING = 'hello from tinypkg 1.0'\n");
        WriteWheel(Wheels, "otherpkg", "2.0", "VALUE = 42\n");
        Configure("Runtime:Local:PipIndexUrl", "none");
        Configure("Runtime:Local:PipFindLinks", Wheels);
        Configure("Strata:DataRoots:0", Path.Combine(SharedPath, "roots"));
    }

    public string Wheels { get; }

    /// <summary>A pure-Python wheel written by hand: a module, and the three files of its <c>.dist-info</c>.</summary>
    private static void WriteWheel(string folder, string name, string version, string module)
    {
        var info = $"{name}-{version}.dist-info";
        var files = new Dictionary<string, string>
        {
            [$"{name}/__init__.py"] = module,
            [$"{info}/METADATA"] = $"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
            [$"{info}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: strata-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        };
        files[$"{info}/RECORD"] = string.Concat(files.Keys.Select(file => $"{file},,\n")) + $"{info}/RECORD,,\n";
        using var zip = ZipFile.Open(Path.Combine(folder, $"{name}-{version}-py3-none-any.whl"), ZipArchiveMode.Create);
        foreach (var (path, text) in files)
        {
            using var entry = zip.CreateEntry(path).Open();
            entry.Write(Encoding.UTF8.GetBytes(text));
        }
    }
}

/// <summary>The same without a sandbox: builds and jobs run as the server's user, unconfined.</summary>
public sealed class UnsandboxedWheelFolderApp : WheelFolderApp
{
    public UnsandboxedWheelFolderApp() => Configure("Runtime:Local:Sandbox", "none");
}

/// <summary>Without a sandbox the environment is built and used the same way.</summary>
public sealed class UnsandboxedJobEnvironmentTests(UnsandboxedWheelFolderApp app) : IClassFixture<UnsandboxedWheelFolderApp>
{
    [SkippableFact]
    public async Task An_environment_is_built_and_then_reused_without_a_sandbox()
    {
        JobEnvironmentTests.SkipWithoutVenv();
        var (_, client) = await app.TenantClientAsync("env-unsandboxed");
        using var _ = client;
        var spec = new { name = "plain", entrypoint = "python -c 'import tinypkg; print(tinypkg.GREETING)'", environment = new { requirements = new[] { "tinypkg" } } };

        var (first, firstLog) = await JobEnvironmentTests.RunAsync(client, spec);
        var (second, secondLog) = await JobEnvironmentTests.RunAsync(client, spec);

        Assert.True(first.GetProperty("status").GetString() == "succeeded", firstLog);
        Assert.Contains("[strata] building environment ", firstLog, StringComparison.Ordinal);
        Assert.True(second.GetProperty("status").GetString() == "succeeded", secondLog);
        Assert.Contains("[strata] reusing environment ", secondLog, StringComparison.Ordinal);
        Assert.Contains("hello from tinypkg 1.0", secondLog, StringComparison.Ordinal);
    }
}

/// <summary>
/// Jobs bring their own Python (docs/environments.md): real pip, real virtual environments, real sandboxed jobs.
/// </summary>
public sealed class JobEnvironmentTests(WheelFolderApp app) : IClassFixture<WheelFolderApp>
{
    private const string Building = "[strata] building environment ";
    private const string Reusing = "[strata] reusing environment ";
    private static readonly string[] TinyPackage = ["tinypkg==1.0"];
    private static readonly string[] NoSuchPackage = ["no-such-package==9.9"];

    [SkippableFact]
    public async Task A_requirements_file_of_the_code_builds_an_environment_that_the_job_imports_and_a_second_job_reuses()
    {
        SkipWithoutVenv();
        var (tenant, client) = await app.TenantClientAsync("env-file");
        using var _ = client;
        var code = await Artifacts.ArtifactApiTests<SqliteApp>.UploadAsync(client, TestArchives.Create(
            TestEntry.File("requirements.txt", "# what the job needs\ntinypkg==1.0\n"),
            TestEntry.File("train.py", "import sys, tinypkg\nprint(tinypkg.GREETING, sys.prefix != sys.base_prefix)\n")), "code.tar.gz");
        object Spec(string name) => new { name, code_artifact = code.GetProperty("uri").GetString(), environment = new { requirements = "requirements.txt" } };

        var (first, firstLog) = await RunAsync(client, Spec("first"));
        var (second, secondLog) = await RunAsync(client, Spec("second"));

        Assert.True(first.GetProperty("status").GetString() == "succeeded", firstLog + first);
        Assert.Contains(Building, firstLog, StringComparison.Ordinal);
        Assert.Contains("(1 requirement)", firstLog, StringComparison.Ordinal);
        Assert.Contains("[strata] environment ready in ", firstLog, StringComparison.Ordinal);
        Assert.Contains("hello from tinypkg 1.0 True", firstLog, StringComparison.Ordinal);
        Assert.True(second.GetProperty("status").GetString() == "succeeded", secondLog);
        Assert.Contains(Reusing, secondLog, StringComparison.Ordinal);
        Assert.DoesNotContain(Building, secondLog, StringComparison.Ordinal);
        Assert.Contains("hello from tinypkg 1.0 True", secondLog, StringComparison.Ordinal);
        Assert.Single(Builds(tenant));
    }

    [SkippableFact]
    public async Task A_requirement_pip_cannot_install_is_an_environment_error_with_pips_words_and_is_not_retried()
    {
        SkipWithoutVenv();
        var (_, client) = await app.TenantClientAsync("env-bad");
        using var _ = client;

        var (job, log) = await RunAsync(client, new
        {
            name = "bad", entrypoint = "python -c 'print(1)'", retry = new { max_attempts = 3 },
            environment = new { requirements = NoSuchPackage },
        });

        Assert.Equal("failed", job.GetProperty("status").GetString());
        Assert.Equal("environment_error", job.GetProperty("status_reason").GetString());
        Assert.Equal(1, job.GetProperty("attempts").GetInt32());
        var message = job.GetProperty("error_message").GetString()!;
        Assert.Contains("No matching distribution found for no-such-package==9.9", message, StringComparison.Ordinal);
        Assert.Contains("No matching distribution found", log, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_requirements_file_the_code_lacks_is_an_environment_error()
    {
        var (_, client) = await app.TenantClientAsync("env-missing");
        using var _ = client;

        var (job, _) = await RunAsync(client, new { name = "missing", entrypoint = "true", environment = new { requirements = "requirements.txt" } });

        Assert.Equal("environment_error", job.GetProperty("status_reason").GetString());
        Assert.Contains("requirements.txt is not a file of the job's code", job.GetProperty("error_message").GetString(), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Two_jobs_asking_for_the_same_environment_at_once_build_it_once()
    {
        SkipWithoutVenv();
        var (tenant, client) = await app.TenantClientAsync("env-twice");
        using var _ = client;
        object Spec(string name) => new
        {
            name, entrypoint = "python -c 'import otherpkg; print(otherpkg.VALUE)'",
            environment = new { requirements = new[] { "otherpkg", "tinypkg" } },
        };

        var submitted = new[] { await StrataApp.SubmitAsync(client, Spec("one")), await StrataApp.SubmitAsync(client, Spec("two")) };
        var logs = new List<string>();
        foreach (var job in submitted)
        {
            var id = job.GetProperty("id").GetString()!;
            var done = await StrataApp.WaitForEndAsync(client, id, TimeSpan.FromMinutes(3));
            var log = await LogAsync(client, id);
            Assert.True(done.GetProperty("status").GetString() == "succeeded", log);
            Assert.Contains("42", log, StringComparison.Ordinal);
            logs.Add(log);
        }

        Assert.Single(logs, log => log.Contains(Building, StringComparison.Ordinal));
        Assert.Single(logs, log => log.Contains(Reusing, StringComparison.Ordinal));
        Assert.Single(Builds(tenant));
    }

    [SkippableFact]
    public async Task Another_tenants_job_builds_its_own_environment_and_cannot_see_the_first_ones()
    {
        SkipWithoutVenv();
        var (first, firstClient) = await app.TenantClientAsync("env-a");
        var (second, secondClient) = await app.TenantClientAsync("env-b");
        using var _ = firstClient;
        using var __ = secondClient;
        var spec = new { name = "mine", entrypoint = "python -c 'import tinypkg'", environment = new { requirements = TinyPackage } };
        var (built, _) = await RunAsync(firstClient, spec);
        Assert.Equal("succeeded", built.GetProperty("status").GetString());
        var firstFolder = Assert.Single(Builds(first));

        var (other, otherLog) = await RunAsync(secondClient, spec with { entrypoint = $"python -c 'import tinypkg'; ls {firstFolder}" });

        Assert.Contains(Building, otherLog, StringComparison.Ordinal);
        // The other tenant's environment is nowhere in this job's sandbox.
        Assert.Equal("exited_with_error", other.GetProperty("status_reason").GetString());
        Assert.Contains("No such file or directory", otherLog, StringComparison.Ordinal);
        Assert.Single(Builds(second));
    }

    [SkippableFact]
    public async Task System_site_packages_shows_debians_packages_and_the_environment_is_read_only_to_the_job()
    {
        SkipWithoutVenv();
        Skip.IfNot(Directory.Exists("/usr/lib/python3/dist-packages/yaml"), "Debian's python3-yaml is the system package imported");
        var (_, client) = await app.TenantClientAsync("env-system");
        using var _ = client;

        var (with, withLog) = await RunAsync(client, new
        {
            name = "with", entrypoint = "python -c 'import yaml; print(yaml.__file__)'; touch \"$VIRTUAL_ENV/bin/mine\"",
            environment = new { system_site_packages = true },
        });
        var (without, withoutLog) = await RunAsync(client, new
        {
            name = "without", entrypoint = "python -c 'import yaml'", environment = new { requirements = TinyPackage },
        });

        Assert.Contains("/usr/lib/python3/dist-packages/yaml/__init__.py", withLog, StringComparison.Ordinal);
        Assert.Contains("Read-only file system", withLog, StringComparison.Ordinal);
        Assert.Equal("exited_with_error", with.GetProperty("status_reason").GetString());
        Assert.Equal("failed", without.GetProperty("status").GetString());
        Assert.Contains("ModuleNotFoundError: No module named 'yaml'", withoutLog, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_python_inside_a_data_root_is_the_one_the_environment_is_made_from()
    {
        SkipWithoutVenv();
        var (_, client) = await app.TenantClientAsync("env-python");
        using var _ = client;
        // An installation in a data root, as a conda or pyenv one would be: here a link to the system's interpreter.
        var bin = Directory.CreateDirectory(Path.Combine(app.SharedPath, "roots", "py", "bin")).FullName;
        var python = Path.Combine(bin, "python3");
        if (!File.Exists(python)) File.CreateSymbolicLink(python, "/usr/bin/python3");

        var (job, log) = await RunAsync(client, new
        {
            name = "own-python", entrypoint = "python -c 'import sys; print(\"in a venv:\", sys.prefix != sys.base_prefix)'",
            environment = new { python },
        });

        Assert.True(job.GetProperty("status").GetString() == "succeeded", log);
        Assert.Contains("in a venv: True", log, StringComparison.Ordinal);
        Assert.Contains(Building, log, StringComparison.Ordinal);
        Assert.Contains("(0 requirements)", log, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"python": "/usr/bin/python3"}""", "environment.python", "configured data root")]
    [InlineData("""{"python": "bin/python3"}""", "environment.python", "absolute path")]
    [InlineData("""{"inherit_path": true}""", "environment.inherit_path", "Runtime:Local:AllowInheritPath")]
    [InlineData("""{"requirements": 3}""", "environment.requirements", "list of requirement strings")]
    [InlineData("""{"requirements": "../requirements.txt"}""", "environment.requirements", "without '..'")]
    [InlineData("""{"requirements": ["--index-url=http://elsewhere"]}""", "environment.requirements[0]", "not a pip option")]
    public async Task A_bad_environment_is_a_400_naming_the_field(string environment, string field, string words)
    {
        var (_, client) = await app.TenantClientAsync("env-400");
        using var _ = client;
        using var content = new StringContent($$"""{"name": "bad", "environment": {{environment}}}""", Encoding.UTF8, "application/json");

        using var response = await client.PostAsync("/v1/jobs/training", content);

        var problem = await Http.ExpectAsync(response, 400);
        var errors = problem.GetProperty("errors").GetProperty(field);
        Assert.Contains(words, errors[0].GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_environment_field_is_a_400()
    {
        var (_, client) = await app.TenantClientAsync("env-unknown");
        using var _ = client;

        using var response = await client.PostAsJsonAsync("/v1/jobs/training", new { name = "bad", environment = new { requirement = "requirements.txt" } });

        await Http.ExpectAsync(response, 400);
    }

    /// <summary>The folders this tenant's environments were built in (one per build).</summary>
    private string[] Builds(string tenant)
    {
        var folder = Path.Combine(app.DataPath, "environments", tenant);
        return Directory.Exists(folder) ? Directory.GetDirectories(folder).Where(path => new DirectoryInfo(path).LinkTarget is null).ToArray() : [];
    }

    internal static async Task<(JsonElement Job, string Log)> RunAsync(HttpClient client, object spec)
    {
        var id = (await StrataApp.SubmitAsync(client, spec)).GetProperty("id").GetString()!;
        var done = await StrataApp.WaitForEndAsync(client, id, TimeSpan.FromMinutes(3));
        return (done, await LogAsync(client, id));
    }

    private static async Task<string> LogAsync(HttpClient client, string id)
    {
        using var response = await client.GetAsync($"/v1/jobs/training/{id}/logs");
        return await response.Content.ReadAsStringAsync();
    }

    internal static void SkipWithoutVenv() =>
        Skip.IfNot(Directory.GetDirectories("/usr/lib", "python3.*").Any(folder => File.Exists(Path.Combine(folder, "ensurepip", "__init__.py"))),
            "python3-venv (scripts/test installs it) builds the environments");
}
