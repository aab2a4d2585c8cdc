using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Strata.Server.Hosting;
using Strata.Server.Runtime.Local;

namespace Strata.Server.Tests.Runtime;

/// <summary>The disk sweep's share of the environment cache: what it removes, and what it leaves alone.</summary>
public sealed class JobEnvironmentSweepTests : IDisposable
{
    private static readonly DateTime Now = DateTime.UtcNow;
    private readonly string _root = Path.Combine(Path.GetTempPath(), "strata-env-sweep-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly JobEnvironments _environments;
    private readonly string _tenant;

    public JobEnvironmentSweepTests()
    {
        _environments = new JobEnvironments(new DataFolder(_root), Options.Create(new LocalRuntimeOptions()), NullLogger<JobEnvironments>.Instance);
        _tenant = Directory.CreateDirectory(Path.Combine(_environments.Root, "team-a")).FullName;
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>A finished environment: its folder, and the link named by its hash, last used <paramref name="daysAgo"/>.</summary>
    private string Finished(string hash, int daysAgo)
    {
        var folder = Directory.CreateDirectory(Path.Combine(_tenant, $"{hash}.0123456789ab")).FullName;
        File.WriteAllText(Path.Combine(folder, "pyvenv.cfg"), "home = /usr/bin\n");
        File.CreateSymbolicLink(Path.Combine(_tenant, hash), Path.GetFileName(folder));
        Directory.SetLastWriteTimeUtc(folder, Now.AddDays(-daysAgo));
        return folder;
    }

    [Theory]
    [InlineData("wheels")]
    [InlineData("")]
    public void A_find_links_folder_that_would_show_the_data_folder_to_builds_stops_the_server(string inside)
    {
        var options = Options.Create(new LocalRuntimeOptions { PipFindLinks = Path.Combine(_root, inside) });

        var refused = Assert.Throws<OptionsValidationException>(() => new JobEnvironments(new DataFolder(_root), options, NullLogger<JobEnvironments>.Instance));

        Assert.Contains("PipFindLinks", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Environments_unused_for_the_set_days_go_and_those_used_since_stay()
    {
        var old = Finished("aaaa", daysAgo: 40);
        var recent = Finished("bbbb", daysAgo: 2);

        _environments.Collect(Now.AddDays(-30));

        Assert.False(Directory.Exists(old));
        Assert.Null(new FileInfo(Path.Combine(_tenant, "aaaa")).LinkTarget);
        Assert.True(Directory.Exists(recent));
        Assert.NotNull(new FileInfo(Path.Combine(_tenant, "bbbb")).LinkTarget);
    }

    [Fact]
    public void A_build_cut_short_leaves_a_folder_no_link_leads_to_which_goes()
    {
        var finished = Finished("cccc", daysAgo: 0);
        var cutShort = Directory.CreateDirectory(Path.Combine(_tenant, "cccc.ffffffffffff")).FullName;
        var neverLinked = Directory.CreateDirectory(Path.Combine(_tenant, "dddd.eeeeeeeeeeee")).FullName;

        _environments.Collect(Now.AddDays(-30));

        Assert.True(Directory.Exists(finished));
        Assert.False(Directory.Exists(cutShort));
        Assert.False(Directory.Exists(neverLinked));
    }

    [Fact]
    public void An_environment_whose_lock_is_held_is_being_built_or_used_and_stays()
    {
        var old = Finished("eeee", daysAgo: 40);
        var building = Directory.CreateDirectory(Path.Combine(_tenant, "eeee.111111111111")).FullName;

        using (new FileStream(Path.Combine(_tenant, "eeee.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            _environments.Collect(Now.AddDays(-30));
        }

        Assert.True(Directory.Exists(old));
        Assert.True(Directory.Exists(building));
    }
}
