using Strata.Server.Hosting;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Hosting;

/// <summary>
/// What a user can leave where the server opens files on their behalf: only a regular file is opened, and
/// nothing makes the opening wait (a blocking open would hang the test, so each open runs against a
/// generous deadline that only a hang reaches).
/// </summary>
public sealed class SafeFilesTests : IDisposable
{
    private static readonly TimeSpan Hang = TimeSpan.FromSeconds(30);
    private readonly string _folder = Directory.CreateTempSubdirectory("strata-safefiles-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string Regular(string name = "model.zip")
    {
        var path = Path.Combine(_folder, name);
        File.WriteAllBytes(path, [(byte)'P', (byte)'K', 3, 4, 1, 2, 3]);
        return path;
    }

    private static async Task<UnsafeFileException> RefusedAsync(string path, bool refuseHardLinks = true) =>
        await Assert.ThrowsAsync<UnsafeFileException>(() => Task.Run(() => SafeFiles.OpenRegular(path, refuseHardLinks)).WaitAsync(Hang));

    [Fact]
    public async Task A_regular_file_opens_and_reads_from_its_start()
    {
        var path = Regular();
        await using var file = await Task.Run(() => SafeFiles.OpenRegular(path, refuseHardLinks: true)).WaitAsync(Hang);
        Assert.Equal(7, file.Length);
        Assert.Equal((byte)'P', (byte)file.ReadByte());
        Assert.Equal(path, SafeFiles.RealPathOf(file));
    }

    [Fact]
    public async Task A_fifo_is_refused_without_waiting_for_a_writer()
    {
        var fifo = Path.Combine(_folder, "model.zip");
        SpecialFiles.MakeFifo(fifo);
        Assert.Equal(FileKind.Fifo, SafeFiles.KindOf(fifo));
        Assert.Contains("FIFO", (await RefusedAsync(fifo)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_socket_is_refused()
    {
        using var socket = SpecialFiles.MakeSocket(Path.Combine(_folder, "s.zip"));
        Assert.Contains("socket", (await RefusedAsync(Path.Combine(_folder, "s.zip"))).Message, StringComparison.Ordinal);
    }

    [SkippableTheory]
    [InlineData("/dev/null", FileKind.CharacterDevice)]
    [InlineData("/dev/zero", FileKind.CharacterDevice)]
    [InlineData("/dev/tty", FileKind.CharacterDevice)]
    [InlineData("/", FileKind.Directory)]
    public async Task What_is_not_a_regular_file_is_refused_by_its_kind(string path, FileKind kind)
    {
        Skip.If(SafeFiles.KindOf(path) == FileKind.Missing, $"{path} does not exist here");
        Assert.Equal(kind, SafeFiles.KindOf(path));
        await RefusedAsync(path);
    }

    [Fact]
    public async Task A_symbolic_link_is_refused_even_to_a_regular_file()
    {
        var target = Regular();
        var link = Path.Combine(_folder, "link.zip");
        File.CreateSymbolicLink(link, target);
        Assert.Equal(FileKind.SymbolicLink, SafeFiles.KindOf(link));
        Assert.Equal(FileKind.Regular, SafeFiles.KindOfTarget(link));
        Assert.Contains("symbolic link", (await RefusedAsync(link)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_symbolic_link_to_a_fifo_is_refused_and_its_target_is_seen_as_a_fifo()
    {
        var fifo = Path.Combine(_folder, "pipe");
        SpecialFiles.MakeFifo(fifo);
        var link = Path.Combine(_folder, "link.zip");
        File.CreateSymbolicLink(link, fifo);
        Assert.Equal(FileKind.Fifo, SafeFiles.KindOfTarget(link));
        await RefusedAsync(link);
    }

    [Fact]
    public async Task A_hard_link_is_refused_where_the_file_must_be_the_callers_own_and_opens_elsewhere()
    {
        var original = Regular("original.zip");
        var second = Path.Combine(_folder, "second.zip");
        SpecialFiles.MakeHardLink(original, second);
        Assert.Contains("2 hard links", (await RefusedAsync(second)).Message, StringComparison.Ordinal);
        // Both names are the same file: the original is refused as well.
        await RefusedAsync(original);
        await using var file = SafeFiles.OpenRegular(second, refuseHardLinks: false);
        Assert.Equal(7, file.Length);
    }

    [Fact]
    public async Task A_missing_file_and_a_folder_are_refused_naming_what_they_are()
    {
        Assert.Equal(FileKind.Missing, SafeFiles.KindOf(Path.Combine(_folder, "none.zip")));
        Assert.Equal(FileKind.Missing, SafeFiles.KindOf(Path.Combine(_folder, "none", "deeper.zip")));
        Assert.Contains("no such file", (await RefusedAsync(Path.Combine(_folder, "none.zip"))).Message, StringComparison.Ordinal);
        Assert.Contains("is a folder", (await RefusedAsync(_folder)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_name_swapped_for_a_link_after_the_look_is_not_followed()
    {
        var target = Regular();
        var link = Path.Combine(_folder, "swapped.zip");
        File.CreateSymbolicLink(link, target);
        // What OpenRegular does after its lstat found a regular file and the name became a link: O_NOFOLLOW refuses it.
        var refused = await Assert.ThrowsAsync<UnsafeFileException>(() => Task.Run(() => SafeFiles.OpenWithoutFollowing(link)).WaitAsync(Hang));
        Assert.Contains("symbolic link", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_name_swapped_for_a_fifo_after_the_look_opens_at_once_and_is_then_refused()
    {
        var fifo = Path.Combine(_folder, "swapped.zip");
        SpecialFiles.MakeFifo(fifo);
        // O_NONBLOCK: the open returns with no writer at the other end; fstat then sees a FIFO.
        var handle = await Task.Run(() => SafeFiles.OpenWithoutFollowing(fifo)).WaitAsync(Hang);
        var refused = Assert.Throws<UnsafeFileException>(() => SafeFiles.Adopt(handle, fifo, refuseHardLinks: false));
        Assert.Contains("FIFO", refused.Message, StringComparison.Ordinal);
        Assert.True(handle.IsClosed);
    }
}
