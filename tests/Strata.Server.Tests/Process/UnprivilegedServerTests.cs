using System.Diagnostics;
using System.Text.Json;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Process;

/// <summary>
/// The server as an operator should run it on a shared machine: as an unprivileged system user (made for
/// the test and removed after it). Jobs then run as that user inside a user namespace, and the sandbox
/// alone keeps them from the data folder the user owns.
/// </summary>
public sealed class UnprivilegedServerTests : IDisposable
{
    private static readonly string[] Secrets = ["signing-key", "admin-token", "strata.db"];
    private readonly string _user = "strata-t" + Guid.NewGuid().ToString("N")[..8];
    private readonly (int Uid, int Gid)? _ids;

    public UnprivilegedServerTests()
    {
        if (!Environment.IsPrivilegedProcess || !File.Exists("/usr/sbin/useradd") || !File.Exists("/usr/bin/bwrap")) return;
        if (Run("/usr/sbin/useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", _user) != 0) return;
        _ids = (int.Parse(Output("/usr/bin/id", "-u", _user)), int.Parse(Output("/usr/bin/id", "-g", _user)));
    }

    [SkippableFact]
    public async Task Jobs_of_an_unprivileged_server_cannot_read_its_data_folder_and_run_as_its_user()
    {
        Skip.If(_ids is null, "needs root (to make a throwaway user), useradd and bubblewrap");
        using var server = new ServerProcess(runAs: _ids);
        await server.StartAsync();
        Assert.Contains("jobs run as the server's user in a user namespace", File.ReadAllText(server.LogPath), StringComparison.Ordinal);
        using var neighbour = await server.CreateTenantAsync("neighbour");
        using var attacker = await server.CreateTenantAsync("attacker");
        var running = Text(await neighbour.SubmitAsync("""{"name":"neighbour","entrypoint":"while true; do sleep 0.5; done"}"""), "id");
        await neighbour.WaitForStatusAsync(running, "running");

        var secrets = Secrets.Select(f => Path.Combine(server.DataPath, f)).ToArray();
        var script = string.Concat(secrets.Select(f => $"cat '{f}' >/dev/null 2>&1 && echo 'READ {f}'; ")) +
                     $"ls '{Path.Combine(server.DataPath, "attempts")}' | sed 's/^/LISTED /'; kill -0 {server.Pid} 2>/dev/null && echo SIGNALS; id -u | sed 's/^/UID /'; echo END";
        var id = Text(await attacker.SubmitAsync(JsonSerializer.Serialize(new { name = "attacker", entrypoint = script })), "id");
        await attacker.WaitForStatusAsync(id, "succeeded");
        using var logs = await attacker.SendAsync(HttpMethod.Get, $"/v1/jobs/training/{id}/logs");
        var output = await logs.Content.ReadAsStringAsync();

        Assert.Contains("END", output, StringComparison.Ordinal);
        Assert.DoesNotContain("READ ", output, StringComparison.Ordinal);
        Assert.DoesNotContain("LISTED neighbour", output, StringComparison.Ordinal);
        Assert.DoesNotContain("SIGNALS", output, StringComparison.Ordinal);
        Assert.Contains($"UID {_ids!.Value.Uid}\n", output, StringComparison.Ordinal);
        Assert.Equal("running", Text(await neighbour.GetJsonAsync($"/v1/jobs/training/{running}"), "status"));
    }

    public void Dispose()
    {
        if (_ids is not null) Run("/usr/sbin/userdel", _user);
    }

    private static string Text(JsonElement element, string name) => element.GetProperty(name).GetString()!;

    private static int Run(string program, params string[] arguments)
    {
        using var process = System.Diagnostics.Process.Start(Start(program, arguments))!;
        process.WaitForExit();
        return process.ExitCode;
    }

    private static string Output(string program, params string[] arguments)
    {
        using var process = System.Diagnostics.Process.Start(Start(program, arguments))!;
        var output = process.StandardOutput.ReadToEnd().Trim();
        process.WaitForExit();
        return output;
    }

    private static ProcessStartInfo Start(string program, string[] arguments)
    {
        var start = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        return start;
    }
}
