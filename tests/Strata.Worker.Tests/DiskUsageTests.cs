using Strata.Worker.Disk;

namespace Strata.Worker.Tests;

/// <summary>The disk limit's measurement: apparent sizes, each inode once, links never followed, bounded passes.</summary>
public sealed class DiskUsageTests : IDisposable
{
    private readonly string _root = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "strata-disk-usage", Guid.NewGuid().ToString("N"))).FullName;

    private string Folder(string name) => Directory.CreateDirectory(Path.Combine(_root, name)).FullName;

    private static void WriteFile(string path, int bytes) => File.WriteAllBytes(path, new byte[bytes]);

    /// <summary>.NET has no API for hard links: <c>ln</c>.</summary>
    private static void HardLink(string target, string link)
    {
        using var ln = System.Diagnostics.Process.Start("ln", [target, link]);
        ln.WaitForExit();
        Assert.Equal(0, ln.ExitCode);
    }

    private static long DirectorySize(string path) => Native.LStat(path)!.Value.Size;

    private static long Measure(DiskUsage usage)
    {
        for (var pass = 0; pass < 10_000; pass++)
        {
            if (usage.Pass() is { } total)
            {
                return total;
            }
        }
        throw new InvalidOperationException("the walk never finished");
    }

    [Fact]
    public void Counts_the_apparent_size_of_every_file_and_folder_hidden_ones_included()
    {
        var work = Folder("work");
        var nested = Directory.CreateDirectory(Path.Combine(work, "a", "b")).FullName;
        WriteFile(Path.Combine(work, "one"), 1000);
        WriteFile(Path.Combine(nested, ".hidden"), 2000);
        // Sparse: its apparent size counts, not the blocks it occupies.
        using (var sparse = File.Create(Path.Combine(work, "sparse")))
        {
            sparse.SetLength(5_000_000);
        }

        var total = Measure(new DiskUsage([work], entriesPerPass: 100));

        var folders = DirectorySize(work) + DirectorySize(Path.Combine(work, "a")) + DirectorySize(nested);
        Assert.Equal(1000 + 2000 + 5_000_000 + folders, total);
    }

    [Fact]
    public void Counts_hard_links_once_and_symbolic_links_as_themselves()
    {
        var work = Folder("work");
        var outside = Folder("outside");
        WriteFile(Path.Combine(outside, "big"), 3_000_000);
        WriteFile(Path.Combine(work, "data"), 4000);
        HardLink(Path.Combine(work, "data"), Path.Combine(work, "again"));
        File.CreateSymbolicLink(Path.Combine(work, "to-file"), Path.Combine(outside, "big"));
        Directory.CreateSymbolicLink(Path.Combine(work, "to-folder"), outside);
        Directory.CreateSymbolicLink(Path.Combine(work, "loop"), work);

        var total = Measure(new DiskUsage([work], entriesPerPass: 100));

        var links = Path.Combine(outside, "big").Length + outside.Length + work.Length;
        Assert.Equal(DirectorySize(work) + 4000 + links, total);
    }

    [Fact]
    public void A_root_that_is_a_symbolic_link_is_not_followed_and_a_root_inside_another_counts_once()
    {
        var work = Folder("work");
        var checkpoints = Folder("work/checkpoints");
        WriteFile(Path.Combine(checkpoints, "ckpt"), 5000);
        var big = Folder("big");
        WriteFile(Path.Combine(big, "file"), 1_000_000);
        var link = Path.Combine(_root, "output");
        Directory.CreateSymbolicLink(link, big);

        var usage = new DiskUsage([work, checkpoints, checkpoints + "/", link, Path.Combine(_root, "missing")], entriesPerPass: 100);
        var total = Measure(usage);

        Assert.Equal([work, link, Path.Combine(_root, "missing")], usage.Roots);
        Assert.Equal(DirectorySize(work) + DirectorySize(checkpoints) + 5000 + big.Length, total);
    }

    [Fact]
    public void A_large_tree_is_measured_over_several_bounded_passes_with_a_growing_lower_bound()
    {
        var work = Folder("work");
        for (var i = 0; i < 50; i++)
        {
            WriteFile(Path.Combine(work, $"f{i}"), 100);
        }
        var usage = new DiskUsage([work], entriesPerPass: 7);

        var seen = new List<long>();
        long? total;
        while ((total = usage.Pass()) is null)
        {
            seen.Add(usage.Seen);
        }

        Assert.Equal(7, seen.Count);
        Assert.Equal(seen.Order(), seen);
        Assert.Equal(DirectorySize(work) + 50 * 100, total);
        // The next walk starts afresh and finds a file written since.
        WriteFile(Path.Combine(work, "new"), 1000);
        Assert.Equal(total + 1000, Measure(usage));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
