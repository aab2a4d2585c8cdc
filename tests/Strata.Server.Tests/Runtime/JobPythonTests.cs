using Microsoft.Extensions.DependencyInjection;
using Strata.Core.Runtime;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Runtime;

/// <summary>A server whose jobs' <c>python</c> is an interpreter of the operator's choosing (here a fake that says so).</summary>
public sealed class ConfiguredPythonApp : StrataApp
{
    public ConfiguredPythonApp()
    {
        FakePython = Path.Combine(SharedPath, "fake-python");
        File.WriteAllText(FakePython, "#!/bin/sh\necho \"fake python: $*\"\n");
        File.SetUnixFileMode(FakePython, (UnixFileMode)Convert.ToInt32("755", 8));
        Configure("Runtime:Local:Python", FakePython);
    }

    public string FakePython { get; }
}

/// <summary>
/// <c>python</c> in a job is the configured interpreter (stock Debian has only <c>python3</c>, and the default
/// entrypoint is <c>python train.py</c>): in the entrypoint, in scripts the job runs, and with the sandbox on.
/// </summary>
public sealed class JobPythonTests(ConfiguredPythonApp app) : IClassFixture<ConfiguredPythonApp>
{
    [Fact]
    public async Task Python_in_a_job_is_the_configured_interpreter_and_the_banner_names_it()
    {
        var (_, client) = await app.TenantClientAsync("python");
        using var _ = client;
        // The default entrypoint, `python train.py`, and a child shell that runs python on its own.
        var job = await StrataApp.SubmitAsync(client, new { name = "default-entrypoint" });
        var child = await StrataApp.SubmitAsync(client, new { name = "child", entrypoint = "sh -c 'exec python -V'" });

        foreach (var (submitted, expected) in new[] { (job, "fake python: train.py"), (child, "fake python: -V") })
        {
            var id = submitted.GetProperty("id").GetString()!;
            Assert.Equal("succeeded", (await StrataApp.WaitForEndAsync(client, id)).GetProperty("status").GetString());
            using var log = await client.GetAsync($"/v1/jobs/training/{id}/logs");
            Assert.Equal(expected, (await log.Content.ReadAsStringAsync()).Trim());
        }
        var profile = app.Services.GetRequiredService<IRuntimeProfile>();
        Assert.Contains($"python: {app.FakePython} (as python)", profile.Description, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_job_imports_the_python_sdk_without_packing_it_and_its_own_path_comes_first()
    {
        Skip.IfNot(File.Exists("/usr/bin/python3"), "python3 runs the job");
        var (_, client) = await app.TenantClientAsync("python-sdk");
        using var _ = client;
        var job = await StrataApp.SubmitAsync(client, new
        {
            name = "imports-sdk",
            env_vars = new Dictionary<string, string> { ["PYTHONPATH"] = "/opt/own" },
            entrypoint = "/usr/bin/python3 -c \"import os, strata.job; print(strata.job.__name__, os.environ['PYTHONPATH'].split(':')[0])\"",
        });
        var id = job.GetProperty("id").GetString()!;

        var done = await StrataApp.WaitForEndAsync(client, id);

        Assert.True(done.GetProperty("status").GetString() == "succeeded", done.ToString());
        using var log = await client.GetAsync($"/v1/jobs/training/{id}/logs");
        Assert.Equal("strata.job /opt/own", (await log.Content.ReadAsStringAsync()).Trim());
    }
}
