using System.Diagnostics;
using System.Net.Http.Json;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Artifacts;

/// <summary><c>code_repo</c> + <c>code_commit</c>: the runtime clones a real git repository into the attempt's working folder.</summary>
public sealed class CodeRepoTests(SqliteApp app) : IClassFixture<SqliteApp>
{
    internal static string Git(string folder, params string[] arguments)
    {
        var start = new ProcessStartInfo("git") { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])["-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "init.defaultBranch=main", .. arguments]) start.ArgumentList.Add(a);
        using var git = System.Diagnostics.Process.Start(start)!;
        var output = git.StandardOutput.ReadToEnd();
        var error = git.StandardError.ReadToEnd();
        git.WaitForExit();
        Assert.True(git.ExitCode == 0, $"git {string.Join(' ', arguments)}: {error}");
        return output.Trim();
    }

    /// <summary>A repository in the tenant's own area with two commits of train.py.</summary>
    private (string Repo, string First) CreateRepository(string tenant)
    {
        var repo = Directory.CreateDirectory(Path.Combine(app.DataPath, "artifacts", tenant, "repos", "churn")).FullName;
        Git(repo, "init", "--quiet");
        File.WriteAllText(Path.Combine(repo, "train.py"), "print('version one')\n");
        Git(repo, "add", "train.py");
        Git(repo, "commit", "--quiet", "-m", "one");
        var first = Git(repo, "rev-parse", "HEAD");
        File.WriteAllText(Path.Combine(repo, "train.py"), "print('version two')\n");
        Git(repo, "commit", "--quiet", "-am", "two");
        return (repo, first);
    }

    private static async Task<string> RunAsync(HttpClient client, object spec)
    {
        var id = (await StrataApp.SubmitAsync(client, spec)).GetProperty("id").GetString()!;
        var done = await StrataApp.WaitForEndAsync(client, id);
        using var logs = await client.GetAsync($"/v1/jobs/training/{id}/logs");
        var output = await logs.Content.ReadAsStringAsync();
        Assert.True(done.GetProperty("status").GetString() == "succeeded", $"{done}\n{output}");
        return output;
    }

    [Fact]
    public async Task A_job_runs_the_repository_at_the_commit_it_names_or_at_its_default_branch()
    {
        var (tenant, client) = await app.TenantClientAsync("git");
        using var _ = client;
        var (repo, first) = CreateRepository(tenant);

        Assert.Equal("version one\n", await RunAsync(client, new { name = "pinned", entrypoint = "python3 train.py", code_repo = $"file://{repo}", code_commit = first }));
        Assert.Equal("version two\n", await RunAsync(client, new { name = "tip", entrypoint = "python3 train.py", code_repo = repo }));
    }

    [Fact]
    public async Task A_commit_that_does_not_exist_fails_the_attempt_with_gits_reason()
    {
        var (tenant, client) = await app.TenantClientAsync("badcommit");
        using var _ = client;
        var (repo, _) = CreateRepository(tenant);

        var id = (await StrataApp.SubmitAsync(client, new { name = "missing", entrypoint = "true", code_repo = repo, code_commit = "0123456789abcdef", retry = new { max_attempts = 1 } })).GetProperty("id").GetString()!;
        var done = await StrataApp.WaitForEndAsync(client, id);

        Assert.Equal("failed", done.GetProperty("status").GetString());
        Assert.Contains("git checkout failed", done.GetProperty("error_message").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://github.com/acme/churn.git")]
    [InlineData("git://example.com/x.git")]
    public async Task A_remote_repository_is_refused_unless_an_operator_allowed_its_host(string repo)
    {
        var (_, client) = await app.TenantClientAsync("remote");
        using var _ = client;
        using var response = await client.PostAsJsonAsync("/v1/jobs/training", new { name = "remote", code_repo = repo });
        await Http.ExpectValidationAsync(response, "code_repo");
    }

    [Fact]
    public async Task Another_tenants_repository_is_refused()
    {
        var (victim, _) = await app.TenantClientAsync("victim");
        var (repo, _) = CreateRepository(victim);
        var (_, intruder) = await app.TenantClientAsync("intruder");
        using var _i = intruder;
        using var response = await intruder.PostAsJsonAsync("/v1/jobs/training", new { name = "steal", code_repo = repo });
        await Http.ExpectValidationAsync(response, "code_repo");
    }
}
