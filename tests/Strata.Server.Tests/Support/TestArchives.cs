using System.Formats.Tar;
using System.IO.Compression;
using System.Text;

namespace Strata.Server.Tests.Support;

/// <summary>One entry of a test archive: a file with content, a folder, or a link (hard or symbolic) to a target; mode 0755 unless given.</summary>
public sealed record TestEntry(TarEntryType Type, string Name, string? Content = null, string? Link = null, UnixFileMode? Mode = null)
{
    public static TestEntry File(string name, string content, UnixFileMode? mode = null) => new(TarEntryType.RegularFile, name, content, Mode: mode);
    public static TestEntry Folder(string name) => new(TarEntryType.Directory, name);
    public static TestEntry Symlink(string name, string target) => new(TarEntryType.SymbolicLink, name, Link: target);
}

/// <summary>Builds tar.gz archives entry by entry, including the hostile ones a real tar would refuse to make.</summary>
public static class TestArchives
{
    public static byte[] Create(params TestEntry[] entries)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Pax))
        {
            foreach (var entry in entries)
            {
                var tarEntry = new PaxTarEntry(entry.Type, entry.Name) { Mode = entry.Mode ?? (UnixFileMode)0x1ED }; // 0755
                if (entry.Link is not null) tarEntry.LinkName = entry.Link;
                if (entry.Content is not null) tarEntry.DataStream = new MemoryStream(Encoding.UTF8.GetBytes(entry.Content));
                tar.WriteEntry(tarEntry);
            }
        }
        return output.ToArray();
    }

    /// <summary>The hostile archives every extraction must refuse, by what makes them so.</summary>
    public static TheoryData<string> HostileKinds => new() { "dot-dot", "absolute", "symlink-escape", "symlink-absolute", "hardlink", "device", "fifo" };

    public static byte[] Hostile(string kind) => kind switch
    {
        "dot-dot" => Create(TestEntry.File("ok.txt", "ok"), TestEntry.File("../escaped.txt", "pwned")),
        "absolute" => Create(TestEntry.File("/tmp/strata-escaped.txt", "pwned")),
        "symlink-escape" => Create(TestEntry.Symlink("out", "../.."), TestEntry.File("out/escaped.txt", "pwned")),
        "symlink-absolute" => Create(TestEntry.Symlink("etc", "/etc")),
        "hardlink" => Create(TestEntry.File("a.txt", "a"), new TestEntry(TarEntryType.HardLink, "b.txt", Link: "/etc/passwd")),
        "device" => Create(new TestEntry(TarEntryType.CharacterDevice, "null")),
        "fifo" => Create(new TestEntry(TarEntryType.Fifo, "pipe")),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}
