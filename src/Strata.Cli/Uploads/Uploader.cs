using System.Formats.Tar;
using System.IO.Compression;
using Spectre.Console;
using Strata.Client;
using Strata.Contracts;

namespace Strata.Cli.Uploads;

/// <summary>
/// Uploads local files and folders for commands that take them (<c>--data</c> of <c>jobs submit</c>,
/// <c>run</c>), showing progress on a terminal and one line otherwise. A folder is sent as a tar.gz.
/// Give it the error console: standard output keeps the command's result (and its JSON) alone.
/// </summary>
public static class Uploader
{
    /// <summary>The full path of <paramref name="path"/> when it is a local file or folder that would be uploaded; else null.</summary>
    public static string? LocalPath(string? path, string workingDirectory)
    {
        if (string.IsNullOrEmpty(path) || path.Contains("://", StringComparison.Ordinal)) return null;
        var full = Path.GetFullPath(path, workingDirectory);
        return File.Exists(full) || Directory.Exists(full) ? full : null;
    }

    /// <summary>
    /// The data path to put in a spec: a local file or folder that exists is uploaded and becomes its
    /// <c>artifact://</c> URI; anything else (an URI, a server-side path) is returned as it is.
    /// </summary>
    /// <param name="path">As the user wrote it; relative paths are taken from <paramref name="workingDirectory"/>.</param>
    public static async Task<string?> UploadIfLocalAsync(IAnsiConsole console, StrataClient client, string? path, string workingDirectory, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(path) || path.Contains("://", StringComparison.Ordinal)) return path;
        var full = Path.GetFullPath(path, workingDirectory);
        if (File.Exists(full))
        {
            var artifact = await UploadFileAsync(console, client, full, Path.GetFileName(full), kind: null, cancellationToken);
            return artifact.Uri;
        }
        if (Directory.Exists(full))
        {
            var archive = Path.Combine(Path.GetTempPath(), $"strata-data-{Guid.NewGuid():N}.tar.gz");
            try
            {
                using (var output = File.Create(archive))
                using (var gzip = new GZipStream(output, CompressionLevel.Fastest))
                {
                    await TarFile.CreateFromDirectoryAsync(full, gzip, includeBaseDirectory: false, cancellationToken);
                }
                var name = (Path.GetFileName(full.TrimEnd('/')) is { Length: > 0 } folder ? folder : "data") + ".tar.gz";
                var artifact = await UploadFileAsync(console, client, archive, name, ArtifactKinds.Archive, cancellationToken);
                return artifact.Uri;
            }
            finally
            {
                File.Delete(archive);
            }
        }
        return path;
    }

    /// <summary>Uploads one file under <paramref name="name"/>, with a progress bar on a terminal.</summary>
    public static async Task<Artifact> UploadFileAsync(IAnsiConsole console, StrataClient client, string path, string name, string? kind, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 128 * 1024, useAsync: true);
        var length = file.Length;
        Artifact artifact;
        if (console.Profile.Capabilities.Interactive)
        {
            artifact = await console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn())
                .StartAsync(async context =>
                {
                    var task = context.AddTask($"Uploading {Markup.Escape(name)}", maxValue: Math.Max(length, 1));
                    var uploaded = await client.Artifacts.UploadAsync(file, name,
                        new UploadOptions { Kind = kind, Progress = new Progress<long>(sent => task.Value = sent) }, cancellationToken);
                    task.Value = task.MaxValue;
                    return uploaded;
                });
        }
        else
        {
            artifact = await client.Artifacts.UploadAsync(file, name, new UploadOptions { Kind = kind }, cancellationToken);
        }
        console.MarkupLine($"[grey]Uploaded {Markup.Escape(name)} ({Output.Bytes(artifact.SizeBytes)}, sha256 {artifact.Sha256[..12]}) as {Markup.Escape(artifact.Uri)}[/]");
        return artifact;
    }
}
