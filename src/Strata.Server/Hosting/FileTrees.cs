namespace Strata.Server.Hosting;

/// <summary>Whole folders on disk: removed even where a job left them read-only, and never through a link.</summary>
public static class FileTrees
{
    private const UnixFileMode OwnerAll = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>
    /// Removes <paramref name="path"/> (a folder, a file or a link) and everything under it; nothing when it is
    /// missing. Folders are made writable by their owner first, so that a read-only tree (the input cache's,
    /// or one a job made with <c>chmod -w</c>) goes too when the server is not root. Links are removed, not followed.
    /// </summary>
    public static void Delete(string path)
    {
        var info = new FileInfo(path);
        if (info.LinkTarget is null && Directory.Exists(path))
        {
            MakeOwnerWritable(path);
            Directory.Delete(path, recursive: true);
        }
        else if (info.LinkTarget is not null || info.Exists)
        {
            info.Delete();
        }
    }

    /// <summary>The modification time of <paramref name="path"/>, or null when it is gone.</summary>
    public static DateTimeOffset? LastWrite(string path)
    {
        var info = new FileInfo(path);
        if (info.Exists) return info.LastWriteTimeUtc;
        var folder = new DirectoryInfo(path);
        return folder.Exists ? folder.LastWriteTimeUtc : null;
    }

    private static void MakeOwnerWritable(string folder)
    {
        try
        {
            var mode = File.GetUnixFileMode(folder);
            if ((mode & OwnerAll) != OwnerAll) File.SetUnixFileMode(folder, mode | OwnerAll);
        }
        catch (UnauthorizedAccessException)
        {
            // Not ours (a job's other uid): the delete reports what it cannot remove.
        }
        foreach (var child in new DirectoryInfo(folder).EnumerateDirectories())
        {
            if (child.LinkTarget is null) MakeOwnerWritable(child.FullName);
        }
    }
}
