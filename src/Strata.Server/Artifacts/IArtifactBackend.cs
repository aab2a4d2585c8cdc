namespace Strata.Server.Artifacts;

/// <summary>Where artifacts' bytes are kept. Keys are <c>&lt;tenant&gt;/&lt;artifact id&gt;</c>.</summary>
public interface IArtifactBackend
{
    /// <summary>Stores the file at <paramref name="sourcePath"/> under <paramref name="key"/>; the source may be moved or deleted.</summary>
    Task PutAsync(string key, string sourcePath, CancellationToken cancellationToken);

    /// <summary>Opens the bytes stored under <paramref name="key"/>, or null when there are none.</summary>
    Task<Stream?> OpenReadAsync(string key, CancellationToken cancellationToken);

    /// <summary>Removes everything under <paramref name="prefix"/> (a tenant's artifacts, when it is deleted).</summary>
    Task DeletePrefixAsync(string prefix, CancellationToken cancellationToken);
}
