using System.Formats.Tar;
using System.IO.Compression;
using Strata.Cli.Commands;
using Strata.Cli.Tests.Support;
using Strata.Cli.Uploads;

namespace Strata.Cli.Tests.Unit;

public sealed class CodePackerTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    private void Write(string relative, string content = "x")
    {
        var path = Path.Combine(_dir.Path, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    [Fact]
    public void The_packed_files_honour_gitignore_files_at_every_level_and_strataignore_and_never_include_git()
    {
        Write(".gitignore", "*.log\n__pycache__/\n/data/\n.env\n");
        Write(".strataignore", "notebooks/\n!data/\n");
        Write("train.py");
        Write("run.log");
        Write(".env", "SECRET=1");
        Write("src/model.py");
        Write("src/__pycache__/model.cpython-312.pyc");
        Write("src/.gitignore", "scratch.py\n!keep.log\n");
        Write("src/scratch.py");
        Write("src/keep.log");
        Write("notebooks/explore.ipynb");
        Write("data/small.csv");
        Write(".git/HEAD", "ref: refs/heads/main");

        var files = CodePacker.Select(_dir.Path);

        Assert.Equal([".gitignore", ".strataignore", "data/small.csv", "src/.gitignore", "src/keep.log", "src/model.py", "train.py"], files);
    }

    [Fact]
    public void Symbolic_links_are_reported_not_packed_and_the_archive_holds_the_files()
    {
        Write("train.py", "print('hi')\n");
        File.CreateSymbolicLink(Path.Combine(_dir.Path, "outside"), "/etc");

        var packed = CodePacker.Pack(_dir.Path);
        try
        {
            Assert.Equal(["outside"], packed.SkippedLinks);
            Assert.Equal(1, packed.Files);
            using var reader = new TarReader(new GZipStream(File.OpenRead(packed.ArchivePath), CompressionMode.Decompress));
            var entry = reader.GetNextEntry()!;
            Assert.Equal("train.py", entry.Name);
            Assert.Equal("print('hi')\n", new StreamReader(entry.DataStream!).ReadToEnd());
            Assert.Null(reader.GetNextEntry());
        }
        finally
        {
            File.Delete(packed.ArchivePath);
        }
    }

    [Theory]
    [InlineData("churn-model", "churn-model-abc123")]
    [InlineData("My Project_v2", "my-project-v2-abc123")]
    [InlineData("2024", "run-2024-abc123")]
    [InlineData("___", "run-abc123")]
    public void The_default_run_name_is_the_folders_name_as_a_label_with_a_suffix(string folder, string expected)
    {
        Assert.Equal(expected, RunCommand.DefaultName(folder, "abc123"));
    }

    [Fact]
    public void A_sparkline_scales_between_the_minimum_and_the_maximum_and_fits_its_width()
    {
        Assert.Equal("█▅▃▁", TrackingCommands.Sparkline([1.0, 0.6, 0.4, 0.1], 40));
        Assert.Equal(10, TrackingCommands.Sparkline(Enumerable.Range(0, 1000).Select(i => (double)i).ToList(), 10).Length);
        Assert.Equal("▅▅▅", TrackingCommands.Sparkline([2.0, 2.0, 2.0], 40));
    }

    public void Dispose() => _dir.Dispose();
}

public sealed class CodePackerProgressTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Packing_reports_the_totals_before_the_first_file_then_each_file_up_to_them()
    {
        _dir.File("a.py", "12345");
        _dir.File("b.py", "123");
        _dir.File(".gitignore", "c.log\n");
        _dir.File("c.log", "ignored");
        var reports = new List<PackProgress>();

        var packed = CodePacker.Pack(_dir.Path, reports.Add);
        File.Delete(packed.ArchivePath);

        Assert.Equal(
            [new PackProgress(0, 3, 0, 14), new PackProgress(1, 3, 6, 14), new PackProgress(2, 3, 11, 14), new PackProgress(3, 3, 14, 14)],
            reports);
    }
}
