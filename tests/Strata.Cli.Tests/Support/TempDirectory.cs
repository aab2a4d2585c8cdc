namespace Strata.Cli.Tests.Support;

/// <summary>A fresh folder removed when disposed.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "strata-cli-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name, string? content = null)
    {
        var path = System.IO.Path.Combine(Path, name);
        if (content is not null)
        {
            System.IO.File.WriteAllText(path, content);
        }

        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A process of the server under test may still hold a file; the OS's temp cleanup takes it.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
