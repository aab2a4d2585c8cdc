using Strata.Server.Artifacts;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Artifacts;

/// <summary>Extraction on disk: hostile entries are refused and nothing lands outside the destination.</summary>
public sealed class ArchiveExtractorTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "strata-extract-tests", Guid.NewGuid().ToString("N")[..12]);

    private string Destination => Path.Combine(_root, "a", "b", "work");

    [Theory]
    [MemberData(nameof(TestArchives.HostileKinds), MemberType = typeof(TestArchives))]
    public async Task A_hostile_archive_is_refused_and_writes_nothing_outside_the_destination(string kind)
    {
        var extractor = new ArchiveExtractor(1 << 20, 100);

        await Assert.ThrowsAsync<UnsafeArchiveException>(() => extractor.ExtractAsync(new MemoryStream(TestArchives.Hostile(kind)), Destination, CancellationToken.None));

        var outside = Directory.EnumerateFileSystemEntries(_root, "*", SearchOption.AllDirectories)
            .Where(p => !p.StartsWith(Destination, StringComparison.Ordinal) && p != Path.Combine(_root, "a") && p != Path.Combine(_root, "a", "b"));
        Assert.Empty(outside);
        Assert.False(File.Exists("/tmp/strata-escaped.txt"));
    }

    [Fact]
    public async Task Files_folders_modes_and_inside_links_are_extracted()
    {
        var archive = TestArchives.Create(
            TestEntry.Folder("src/"),
            TestEntry.File("src/run.sh", "#!/bin/sh\necho hi\n"),
            TestEntry.Symlink("run", "src/run.sh"));

        await new ArchiveExtractor(1 << 20, 100).ExtractAsync(new MemoryStream(archive), Destination, CancellationToken.None);

        Assert.Equal("#!/bin/sh\necho hi\n", File.ReadAllText(Path.Combine(Destination, "run")));
        Assert.True(File.GetUnixFileMode(Path.Combine(Destination, "src", "run.sh")).HasFlag(UnixFileMode.UserExecute));
    }

    [Fact]
    public async Task An_archive_over_the_extracted_size_or_entry_limit_is_refused()
    {
        var archive = TestArchives.Create(TestEntry.File("a", new string('x', 600)), TestEntry.File("b", new string('x', 600)));

        var size = await Assert.ThrowsAsync<UnsafeArchiveException>(() => new ArchiveExtractor(1000, 100).CheckAsync(new MemoryStream(archive), CancellationToken.None));
        Assert.Contains("1000 bytes", size.Message, StringComparison.Ordinal);
        var entries = await Assert.ThrowsAsync<UnsafeArchiveException>(() => new ArchiveExtractor(1 << 20, 1).CheckAsync(new MemoryStream(archive), CancellationToken.None));
        Assert.Contains("1 entries", entries.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bytes_that_are_not_a_tar_gz_are_refused()
    {
        await Assert.ThrowsAsync<UnsafeArchiveException>(() => new ArchiveExtractor(1 << 20, 100).CheckAsync(new MemoryStream("plain text"u8.ToArray()), CancellationToken.None));
    }

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }
}
