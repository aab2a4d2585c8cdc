namespace Strata.Server.Artifacts;

/// <summary>Artifacts as files in a folder (by default <c>blobs/</c> in the data folder), readable by the server's user only.</summary>
public sealed class LocalArtifactBackend(string root) : IArtifactBackend
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    public string Root { get; } = Path.GetFullPath(root);

    public Task PutAsync(string key, string sourcePath, CancellationToken cancellationToken)
    {
        var target = PathOf(key);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!, OwnerOnly);
        // The upload was written to a temporary file on the same disk and flushed: a rename makes it appear whole.
        File.Move(sourcePath, target, overwrite: true);
        File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return Task.CompletedTask;
    }

    public Task<Stream?> OpenReadAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            return Task.FromResult<Stream?>(new FileStream(PathOf(key), FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, useAsync: true));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return Task.FromResult<Stream?>(null);
        }
    }

    public Task DeletePrefixAsync(string prefix, CancellationToken cancellationToken)
    {
        var folder = PathOf(prefix.TrimEnd('/'));
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        return Task.CompletedTask;
    }

    /// <summary>Keys are made by the server from a tenant id and a UUID, never from user input; checked all the same.</summary>
    private string PathOf(string key)
    {
        var path = Path.GetFullPath(Path.Combine(Root, key));
        if (!path.StartsWith(Root + "/", StringComparison.Ordinal))
        {
            throw new ArgumentException($"The key '{key}' leaves the artifact folder.", nameof(key));
        }
        return path;
    }
}
