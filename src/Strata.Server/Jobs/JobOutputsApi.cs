using System.IO.Enumeration;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Net.Http.Headers;
using Strata.Contracts;
using Strata.Server.Auth;
using Strata.Server.Hosting;
using Strata.Server.Problems;
using Strata.Server.Storage;

namespace Strata.Server.Jobs;

/// <summary>
/// A job's outputs for a user who shares no disk with the server: <c>GET …/outputs</c> lists the regular files of
/// the job's output folder (<c>model_output_path</c>), <c>GET …/outputs/{path}</c> sends one, with its length, an
/// ETag and range requests. The folder is the job's to fill, so nothing in it is trusted: links are neither listed
/// nor followed (a link in a folder above a file is caught by where the opened file really is), FIFOs and devices are
/// never opened, a file with a second name is refused, and a listing looks at <see cref="MaxEntries"/> entries at
/// most. On a runtime that keeps outputs off the server (Kubernetes), there is nothing here: 404, saying so.
/// </summary>
public static class JobOutputsApi
{
    public const int MaxEntries = 10_000;
    private const int MaxPathLength = 1024;

    public static IEndpointRouteBuilder MapJobOutputsApi(this IEndpointRouteBuilder app)
    {
        var outputs = app.MapGroup("/v1/jobs/training/{id}/outputs").WithTags("Training jobs");
        outputs.MapGet("", ListAsync).RequireAuthorization(Policies.TenantRead).WithName("ListTrainingJobOutputs")
            .WithSummary("List the files the job wrote to its output folder (regular files only; links are not listed).");
        outputs.MapGet("{*path}", DownloadAsync).RequireAuthorization(Policies.TenantRead).WithName("DownloadTrainingJobOutput")
            .WithSummary("Download one output file by its path in the listing; Range and If-None-Match are honoured.")
            .Produces<Stream>(200, "application/octet-stream");
        return app;
    }

    private static async Task<Results<Ok<JobOutputListing>, ProblemHttpResult>> ListAsync(
        string id, HttpContext context, JobStore jobs, FileWork fileWork, CancellationToken cancellationToken)
    {
        var (folder, problem) = await OutputFolderAsync(id, context, jobs, cancellationToken);
        if (problem is not null) return problem;
        try
        {
            return TypedResults.Ok(await fileWork.RunAsync("listing a job's outputs", token => Task.FromResult(List(folder!, token)), cancellationToken));
        }
        catch (FileWorkTimeoutException e)
        {
            return Problem.Unavailable(context, e.Message, e.RetryAfter);
        }
    }

    private static async Task<IResult> DownloadAsync(
        string id, string path, HttpContext context, JobStore jobs, FileWork fileWork, CancellationToken cancellationToken)
    {
        if (CheckPath(path) is { } error) return Problem.Validation("path", error);
        var (folder, problem) = await OutputFolderAsync(id, context, jobs, cancellationToken);
        if (problem is not null) return problem;
        FileStream file;
        try
        {
            file = await fileWork.RunAsync("opening a job's output", _ => Task.FromResult(OpenConfined(folder!, path)), cancellationToken);
        }
        catch (UnsafeFileException e)
        {
            return Problem.NotFound($"Job '{id}' has no output file '{path}' ({e.Message.Replace(folder!, "", StringComparison.Ordinal)}).");
        }
        catch (FileWorkTimeoutException e)
        {
            return Problem.Unavailable(context, e.Message, e.RetryAfter);
        }
        var modified = File.GetLastWriteTimeUtc(file.SafeFileHandle);
        // Size and time: a file the job rewrites gets a new tag, so a cached or resumed download notices.
        var tag = new EntityTagHeaderValue($"\"{file.Length:x}-{modified.Ticks:x}\"");
        return TypedResults.Stream(file, "application/octet-stream", Path.GetFileName(path),
            new DateTimeOffset(modified, TimeSpan.Zero), tag, enableRangeProcessing: true);
    }

    /// <summary>The job's output folder, when the caller's tenant has the job and the folder is on this server.</summary>
    private static async Task<(string? Folder, ProblemHttpResult? Problem)> OutputFolderAsync(
        string id, HttpContext context, JobStore jobs, CancellationToken cancellationToken)
    {
        var lookup = await jobs.ResolveAsync(context.Caller().TenantId!, id, cancellationToken);
        if (lookup.Job is not { } job) return (null, JobMapping.Unresolved(id, lookup));
        var folder = job.ReadSpec().ModelOutputPath;
        // The folder itself must be a folder, not a link to one: lstat, not stat.
        if (folder is null || !Path.IsPathRooted(folder) || SafeFiles.KindOf(folder) != FileKind.Directory)
        {
            return (null, Problem.NotFound($"Job '{id}' has no outputs on the server (none written yet, or its runtime keeps them elsewhere)."));
        }
        return (folder, null);
    }

    private static JobOutputListing List(string folder, CancellationToken cancellationToken)
    {
        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = 0 };
        // Every entry counts toward the bound, folders too: a tree of empty folders is as long to walk as one of files.
        var entries = new FileSystemEnumerable<(string Path, bool IsFile, bool IsLink)>(folder,
            (ref FileSystemEntry entry) => (entry.ToFullPath(), !entry.IsDirectory, entry.Attributes.HasFlag(FileAttributes.ReparsePoint)), options)
        {
            // Never into a linked folder.
            ShouldRecursePredicate = (ref FileSystemEntry entry) => !entry.Attributes.HasFlag(FileAttributes.ReparsePoint),
        };
        var files = new List<JobOutputFile>();
        var looked = 0;
        var truncated = false;
        foreach (var (full, isFile, isLink) in entries)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (++looked > MaxEntries)
            {
                truncated = true;
                break;
            }
            if (!isFile || isLink) continue;
            // lstat: FIFOs, sockets and devices are not regular files, and are not listed.
            if (SafeFiles.KindOf(full) != FileKind.Regular) continue;
            var relative = Path.GetRelativePath(folder, full).Replace(Path.DirectorySeparatorChar, '/');
            if (relative.Length > MaxPathLength) continue;
            var info = new FileInfo(full);
            files.Add(new JobOutputFile { Path = relative, SizeBytes = info.Length, ModifiedAt = new DateTimeOffset(info.LastWriteTimeUtc, TimeSpan.Zero) });
        }
        files.Sort((a, b) => string.CompareOrdinal(a.Path, b.Path));
        return new JobOutputListing { Files = [.. files], Truncated = truncated };
    }

    /// <summary>A path as the listing writes it: relative, no empty, <c>.</c> or <c>..</c> part, no NUL or control character.</summary>
    private static string? CheckPath(string? path)
    {
        if (string.IsNullOrEmpty(path) || path.Length > MaxPathLength) return $"must be a path from the job's output listing (1 to {MaxPathLength} characters)";
        if (path.StartsWith('/') || path.Split('/').Any(part => part is "" or "." or "..") || path.Any(char.IsControl))
        {
            return "must be a relative path from the job's output listing, without '.', '..' or empty parts";
        }
        return null;
    }

    /// <summary>Opens a regular file of one name under the folder; where it really is must be under the folder too.</summary>
    private static FileStream OpenConfined(string folder, string path)
    {
        var stream = SafeFiles.OpenRegular(Path.Combine(folder, path), refuseHardLinks: true);
        if (SafeFiles.RealPath(folder) is not { } root || SafeFiles.RealPathOf(stream) is not { } real || !real.StartsWith(root + "/", StringComparison.Ordinal))
        {
            stream.Dispose();
            throw new UnsafeFileException("it is reached through a symbolic link");
        }
        return stream;
    }
}
