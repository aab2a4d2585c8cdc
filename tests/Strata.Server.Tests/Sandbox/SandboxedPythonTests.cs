using System.Diagnostics;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Sandbox;

/// <summary>An app whose operator shares a built Python environment with every job (<c>Runtime:Local:Sandbox:ReadOnlyPaths</c>).</summary>
public sealed class SharedPythonEnvironmentApp : StrataApp
{
    public SharedPythonEnvironmentApp() => Configure("Runtime:Local:Sandbox:ReadOnlyPaths:0", Environment);

    /// <summary>Where the test builds the environment, beside the data folder (not in it).</summary>
    public string Environment => DataPath + "-venv";
}

/// <summary>Real ML jobs still run in the sandbox: PyTorch from Debian, and a virtual environment the operator built.</summary>
public sealed class SandboxedPythonTests(SharedPythonEnvironmentApp app) : IClassFixture<SharedPythonEnvironmentApp>
{
    [SkippableFact]
    public async Task A_torch_job_trains_and_writes_its_model_inside_the_sandbox()
    {
        Skip.IfNot(Run("/usr/bin/python3", "-c", "import torch") == 0, "python3-torch is not installed (scripts/test installs it)");
        var (_, client) = await app.TenantClientAsync("torch");
        using var _ = client;
        const string train = """
            import os, torch
            torch.manual_seed(0)
            x = torch.randn(256, 4); y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
            model = torch.nn.Linear(4, 1); opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for step in range(1, 51):
                opt.zero_grad(); loss = torch.nn.functional.mse_loss(model(x), y); loss.backward(); opt.step()
            print('STRATA_METRIC {"name": "loss", "value": %f, "step": 50}' % loss.item())
            torch.save(model.state_dict(), os.path.join(os.environ['MODEL_OUTPUT_PATH'], 'model.pt'))
            """;
        var script = Path.Combine(app.SharedPath, "train_torch.py");
        File.WriteAllText(script, train);
        var job = await StrataApp.SubmitAsync(client, new { name = "torch", entrypoint = $"python3 {script}", compute = new { cpu_cores = 1, memory_gb = 2 } });
        var id = job.GetProperty("id").GetString()!;
        var done = await StrataApp.WaitForEndAsync(client, id, TimeSpan.FromMinutes(3));

        using var logs = await client.GetAsync($"/v1/jobs/training/{id}/logs");
        Assert.True(done.GetProperty("status").GetString() == "succeeded", $"{done}\n{await logs.Content.ReadAsStringAsync()}");
        Assert.True(File.Exists(Path.Combine(done.GetProperty("spec").GetProperty("model_output_path").GetString()!, "model.pt")));
    }

    [SkippableFact]
    public async Task A_job_runs_with_a_virtual_environment_the_operator_shares_read_only()
    {
        Skip.IfNot(Run("/usr/bin/python3", "-m", "venv", "--without-pip", "--system-site-packages", app.Environment) == 0, "python3 -m venv is not available");
        var sitePackages = Directory.GetDirectories(Path.Combine(app.Environment, "lib")).Single();
        File.WriteAllText(Path.Combine(sitePackages, "site-packages", "strata_team_lib.py"), "GREETING = 'from the shared environment'\n");
        Run("/bin/chmod", "-R", "a+rX", app.Environment);
        var (_, client) = await app.TenantClientAsync("venv");
        using var _ = client;

        var python = Path.Combine(app.Environment, "bin", "python");
        var job = await StrataApp.SubmitAsync(client, new
        {
            name = "venv",
            entrypoint = $"{python} -c 'import strata_team_lib, sys; print(strata_team_lib.GREETING, sys.prefix)' && touch {app.Environment}/planted || echo READ-ONLY",
        });
        var id = job.GetProperty("id").GetString()!;
        var done = await StrataApp.WaitForEndAsync(client, id);
        using var logs = await client.GetAsync($"/v1/jobs/training/{id}/logs");
        var output = await logs.Content.ReadAsStringAsync();

        Assert.True(done.GetProperty("status").GetString() == "succeeded", $"{done}\n{output}");
        Assert.Contains($"from the shared environment {app.Environment}", output, StringComparison.Ordinal);
        Assert.Contains("READ-ONLY", output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(app.Environment, "planted")));
    }

    private static int Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = System.Diagnostics.Process.Start(start)!;
        process.WaitForExit();
        return process.ExitCode;
    }
}
