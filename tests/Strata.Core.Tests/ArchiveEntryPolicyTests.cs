using System.Formats.Tar;
using Strata.Core.Artifacts;

namespace Strata.Core.Tests;

public sealed class ArchiveEntryPolicyTests
{
    [Theory]
    [InlineData("train.py", "train.py")]
    [InlineData("./src/model.py", "src/model.py")]
    [InlineData("src//deep/./x.csv", "src/deep/x.csv")]
    [InlineData("./", "")]
    public void Regular_files_and_folders_inside_the_archive_are_accepted_with_their_normalized_path(string name, string expected)
    {
        Assert.True(ArchiveEntryPolicy.TryCheck(TarEntryType.RegularFile, name, null, out var path, out var error), error);
        Assert.Equal(expected, path);
    }

    [Theory]
    [InlineData("../escape.txt")]
    [InlineData("src/../../escape.txt")]
    [InlineData("/etc/passwd")]
    [InlineData("a\\..\\b")]
    [InlineData("nul\0byte")]
    [InlineData("")]
    public void Names_that_could_leave_the_extraction_folder_are_refused(string name)
    {
        Assert.False(ArchiveEntryPolicy.TryCheck(TarEntryType.RegularFile, name, null, out _, out var error));
        Assert.NotNull(error);
    }

    [Theory]
    [InlineData("link", "../outside")]
    [InlineData("link", "/etc/passwd")]
    [InlineData("deep/link", "../../x")]
    [InlineData("self/back", "a/../..")]
    [InlineData("empty", "")]
    public void Symbolic_links_with_an_absolute_target_or_dot_dot_are_refused(string name, string target)
    {
        Assert.False(ArchiveEntryPolicy.TryCheck(TarEntryType.SymbolicLink, name, target, out _, out var error));
        Assert.Contains("symbolic link", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_symbolic_link_to_a_file_beside_it_is_accepted()
    {
        Assert.True(ArchiveEntryPolicy.TryCheck(TarEntryType.SymbolicLink, "data/latest.csv", "v2.csv", out var path, out _));
        Assert.Equal("data/latest.csv", path);
    }

    [Theory]
    [InlineData(TarEntryType.HardLink, "hard links")]
    [InlineData(TarEntryType.CharacterDevice, "device")]
    [InlineData(TarEntryType.BlockDevice, "device")]
    [InlineData(TarEntryType.Fifo, "FIFO")]
    public void Hard_links_devices_and_fifos_are_refused(TarEntryType type, string named)
    {
        Assert.False(ArchiveEntryPolicy.TryCheck(type, "entry", "train.py", out _, out var error));
        Assert.Contains(named, error, StringComparison.Ordinal);
    }
}
