using Strata.Core.Jobs;

namespace Strata.Core.Tests;

public sealed class CodeRepoPolicyTests
{
    private static readonly PathPolicy Paths = new("/data/artifacts/team-a", ["/srv/repos"], "/data");

    [Theory]
    [InlineData("https://github.com/acme/churn.git")]
    [InlineData("ssh://git@github.com/acme/churn.git")]
    [InlineData("git@github.com:acme/churn.git")]
    public void Remote_repositories_are_refused_unless_their_host_is_allowed(string repo)
    {
        Assert.False(new CodeRepoPolicy([]).TryCheck(repo, null, Paths, out _, out var errors));
        Assert.Contains("Code:AllowedHosts", errors.ToDictionary()["code_repo"][0], StringComparison.Ordinal);

        Assert.True(new CodeRepoPolicy(["GitHub.com"]).TryCheck(repo, "main", Paths, out var url, out errors), string.Join(";", errors.ToDictionary().Values.SelectMany(v => v)));
        Assert.Equal(repo, url);
    }

    [Theory]
    [InlineData("http://github.com/acme/churn.git")]
    [InlineData("git://github.com/acme/churn.git")]
    [InlineData("ext::sh -c touch% /tmp/pwned")]
    [InlineData("--upload-pack=touch /tmp/pwned")]
    [InlineData("relative/repo")]
    [InlineData("/data/artifacts/team-b/repo")]
    [InlineData("file:///data/signing-key")]
    [InlineData("/srv/repos/../../etc")]
    public void Other_transports_option_injection_and_local_paths_outside_the_allowed_roots_are_refused(string repo)
    {
        Assert.False(new CodeRepoPolicy(["github.com"]).TryCheck(repo, null, Paths, out _, out var errors));
        Assert.True(errors.ToDictionary().ContainsKey("code_repo"));
    }

    [Theory]
    [InlineData("/srv/repos/churn", "/srv/repos/churn")]
    [InlineData("file:///srv/repos/churn", "/srv/repos/churn")]
    [InlineData("/data/artifacts/team-a/repo", "/data/artifacts/team-a/repo")]
    public void Local_repositories_inside_a_data_root_or_the_tenants_area_are_accepted(string repo, string expected)
    {
        Assert.True(new CodeRepoPolicy([]).TryCheck(repo, "0123abcd", Paths, out var url, out _));
        Assert.Equal(expected, url);
    }

    [Theory]
    [InlineData("--orphan")]
    [InlineData("main;rm -rf /")]
    [InlineData("a b")]
    public void A_revision_that_could_be_read_as_an_option_or_is_not_a_ref_is_refused(string commit)
    {
        Assert.False(new CodeRepoPolicy([]).TryCheck("/srv/repos/churn", commit, Paths, out _, out var errors));
        Assert.True(errors.ToDictionary().ContainsKey("code_commit"));
    }
}
