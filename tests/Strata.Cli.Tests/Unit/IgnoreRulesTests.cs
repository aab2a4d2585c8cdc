using Strata.Cli.Uploads;

namespace Strata.Cli.Tests.Unit;

public sealed class IgnoreRulesTests
{
    private static bool? Match(string patterns, string path, bool isFolder = false, string baseFolder = "") =>
        new IgnoreRules(patterns.Split('\n'), baseFolder).Match(path, isFolder);

    [Theory]
    [InlineData("*.log", "train.log", false, true)]
    [InlineData("*.log", "logs/deep/train.log", false, true)]
    [InlineData("*.log", "train.logs", false, null)]
    [InlineData("*.log\n!keep.log", "keep.log", false, false)]
    [InlineData("*.log\n!keep.log", "other.log", false, true)]
    [InlineData("build/", "build", true, true)]
    [InlineData("build/", "build", false, null)]
    [InlineData("build/", "src/build", true, true)]
    [InlineData("/build", "build", true, true)]
    [InlineData("/build", "src/build", true, null)]
    [InlineData("docs/*.md", "docs/a.md", false, true)]
    [InlineData("docs/*.md", "docs/sub/a.md", false, null)]
    [InlineData("docs/*.md", "other/docs/a.md", false, null)]
    [InlineData("**/cache", "a/b/cache", true, true)]
    [InlineData("**/cache", "cache", true, true)]
    [InlineData("data/**", "data/x/y.csv", false, true)]
    [InlineData("a/**/b", "a/b", true, true)]
    [InlineData("a/**/b", "a/x/y/b", true, true)]
    [InlineData("model-?.bin", "model-1.bin", false, true)]
    [InlineData("model-?.bin", "model-12.bin", false, null)]
    [InlineData("[ab].txt", "a.txt", false, true)]
    [InlineData("[!ab].txt", "a.txt", false, null)]
    [InlineData("[!ab].txt", "c.txt", false, true)]
    [InlineData("# comment\n\n   \n", "# comment", false, null)]
    [InlineData("\\#notes", "#notes", false, true)]
    [InlineData("\\!important", "!important", false, true)]
    [InlineData("trailing   ", "trailing", false, true)]
    [InlineData("/*\n!/src", "src", true, false)]
    [InlineData("/*\n!/src", "src/train.py", false, null)]
    public void Patterns_match_as_git_matches_them(string patterns, string path, bool isFolder, bool? ignored)
    {
        Assert.Equal(ignored, Match(patterns, path, isFolder));
    }

    [Fact]
    public void A_nested_ignore_file_applies_relative_to_its_folder_only()
    {
        Assert.Equal(true, Match("/out", "sub/out", isFolder: true, baseFolder: "sub"));
        Assert.Null(Match("/out", "out", isFolder: true, baseFolder: "sub"));
        Assert.Null(Match("*.tmp", "other/x.tmp", baseFolder: "sub"));
    }
}
