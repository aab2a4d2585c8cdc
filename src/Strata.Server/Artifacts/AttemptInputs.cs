using System.Diagnostics;
using Microsoft.Extensions.Options;
using Strata.Contracts;
using Strata.Core.Runtime;
using Strata.Server.Hosting;

namespace Strata.Server.Artifacts;

/// <summary>What <see cref="AttemptInputs.PrepareAsync"/> put in place for an attempt.</summary>
/// <param name="Environment">The job's environment, with <c>DATA_PATH</c> when it has a data artifact.</param>
/// <param name="ReadOnlyPaths">The cached inputs the job reads (a folder or a file each): shared with other attempts, to be shown to the job read-only, at the same paths.</param>
public sealed record PreparedInputs(Dictionary<string, string> Environment, IReadOnlyList<string> ReadOnlyPaths);

/// <summary>
/// Puts an attempt's inputs on this machine before its process starts. An uploaded data artifact is taken from
/// the <see cref="InputCache"/> (an archive as the folder it extracts to, a file as that file), shared read-only
/// with every attempt of the tenant that names the same content, and named in <c>DATA_PATH</c>. The code (an
/// uploaded tar.gz, copied from its cached extraction, or a git repository cloned at its revision) goes into
/// the working folder as the attempt's own writable copy, so a retry never sees what a failed one changed.
/// The cache entries an attempt uses are listed in its folder (<see cref="CachedInputsFile"/>), which keeps
/// them from being collected while the attempt lives.
/// </summary>
public sealed class AttemptInputs(ArtifactStore artifacts, InputCache cache, IOptions<CodeOptions> options, ILogger<AttemptInputs> logger)
{
    /// <summary>Where attempts got their data before the input cache: removed when found.</summary>
    public const string LegacyInputsFolder = "inputs";
    /// <summary>The input cache entries an attempt uses, one path a line.</summary>
    public const string CachedInputsFile = "cached-inputs";

    /// <summary>True when <paramref name="launch"/> has inputs to put in place.</summary>
    public static bool AnyFor(JobLaunch launch) => launch.Code is not null || launch.DataArtifactId is not null;

    /// <summary>Prepares the inputs of the attempt in <paramref name="attemptFolder"/>; on failure, leaves none behind.</summary>
    /// <exception cref="RuntimeStartException">An input is missing or cannot be put in place.</exception>
    public async Task<PreparedInputs> PrepareAsync(JobLaunch launch, string attemptFolder, string workFolder, CancellationToken cancellationToken)
    {
        var environment = new Dictionary<string, string>(launch.Environment, StringComparer.Ordinal);
        var readOnly = new List<string>();
        var tenant = launch.Attempt.TenantId;
        // A start repeated after a crash begins again from nothing.
        Discard(attemptFolder, workFolder);
        Directory.CreateDirectory(workFolder);
        try
        {
            switch (launch.Code)
            {
                case { ArtifactId: { } id }:
                    var tree = await CachedAsync(tenant, id, "code_artifact", attemptFolder, archiveOnly: true, cancellationToken);
                    InputCache.CopyTree(tree, workFolder);
                    break;
                case { Repo: { } repo } code:
                    await CloneAsync(repo, code.Commit, workFolder, cancellationToken);
                    break;
            }
            if (launch.DataArtifactId is { } dataId)
            {
                var path = await CachedAsync(tenant, dataId, "data_path", attemptFolder, archiveOnly: false, cancellationToken);
                environment["DATA_PATH"] = path;
                readOnly.Add(path);
            }
        }
        catch
        {
            // Nothing of a start that failed stays, and it keeps no cache entry from being collected.
            Discard(attemptFolder, workFolder);
            throw;
        }
        return new PreparedInputs(environment, readOnly);
    }

    /// <summary>The input cache entries the attempt in <paramref name="attemptFolder"/> uses.</summary>
    public static IEnumerable<string> EntriesUsedBy(string attemptFolder)
    {
        try
        {
            return File.ReadAllLines(Path.Combine(attemptFolder, CachedInputsFile)).Where(line => line.Length > 0);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return [];
        }
    }

    /// <summary>The attempt has ended: its cached inputs count as used until now, and are kept for their retention from here.</summary>
    public void Release(string attemptFolder)
    {
        foreach (var entry in EntriesUsedBy(attemptFolder)) cache.MarkUsed(entry);
    }

    /// <summary>Removes what <see cref="PrepareAsync"/> put in the attempt's folder (and what older servers put there).</summary>
    private static void Discard(string attemptFolder, string workFolder)
    {
        FileTrees.Delete(workFolder);
        FileTrees.Delete(Path.Combine(attemptFolder, LegacyInputsFolder));
        File.Delete(Path.Combine(attemptFolder, CachedInputsFile));
    }

    /// <summary>The artifact's path in the input cache, listed as used by the attempt before it is taken.</summary>
    private async Task<string> CachedAsync(string tenant, string id, string field, string attemptFolder, bool archiveOnly, CancellationToken cancellationToken)
    {
        var artifact = await artifacts.FindAsync(tenant, id, cancellationToken)
            ?? throw new RuntimeStartException($"{field}: artifact {id} no longer exists");
        if (archiveOnly && artifact.Kind != ArtifactKinds.Archive)
        {
            throw new RuntimeStartException($"{field}: artifact {id} ({artifact.Name}) is a single file, not a tar.gz archive");
        }
        // Listed first: a collection of the cache that reads the list before this line may run, but it then
        // sees the entry marked used after it began, and keeps it (see InputCache.CollectAsync).
        await File.AppendAllTextAsync(Path.Combine(attemptFolder, CachedInputsFile), cache.EntryOf(tenant, artifact.Sha256) + "\n", cancellationToken);
        try
        {
            return await cache.GetAsync(artifact, cancellationToken);
        }
        catch (UnsafeArchiveException e)
        {
            throw new RuntimeStartException($"{field}: artifact {id} was not extracted: {e.Message}", e);
        }
        catch (InvalidDataException e)
        {
            throw new RuntimeStartException($"{field}: artifact {id} could not be put in place: {e.Message}", e);
        }
    }

    /// <summary>
    /// <c>git clone</c> into the working folder, then a detached checkout of the revision. Submodules are
    /// not fetched and git's remote helpers other than https, ssh and file are off, so a repository cannot
    /// make the server fetch anything else.
    /// </summary>
    private async Task CloneAsync(string repo, string? commit, string workFolder, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(options.Value.CloneTimeoutSeconds));
        await GitAsync(["-c", "protocol.allow=never", "-c", "protocol.https.allow=always", "-c", "protocol.ssh.allow=always", "-c", "protocol.file.allow=always",
            "clone", "--quiet", "--no-recurse-submodules", "--", repo, workFolder], workFolder, timeout.Token);
        if (commit is not null)
        {
            await GitAsync(["-C", workFolder, "-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", commit, "--"], workFolder, timeout.Token);
        }
        logger.LogInformation("Cloned {Repo} at {Commit} for an attempt", repo, commit ?? "its default branch");
    }

    private static async Task GitAsync(string[] arguments, string workFolder, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("git")
        {
            UseShellExecute = false,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            WorkingDirectory = Path.GetDirectoryName(workFolder)!,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        // Never wait for a password or a host-key prompt: fail instead.
        start.Environment["GIT_TERMINAL_PROMPT"] = "0";
        start.Environment["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes";
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new RuntimeStartException("code_repo: git did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new RuntimeStartException("code_repo: git is not installed on this machine; install it to run jobs with code_repo", e);
        }
        using (process)
        {
            var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            _ = process.StandardOutput.ReadToEndAsync(cancellationToken);
            try
            {
                await process.WaitForExitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new RuntimeStartException("code_repo: git did not finish in time (Code:CloneTimeoutSeconds)");
            }
            if (process.ExitCode != 0)
            {
                var message = (await stderr).Trim();
                throw new RuntimeStartException($"code_repo: git {arguments.SkipWhile(a => a != "clone" && a != "checkout").FirstOrDefault()} failed: {(message.Length > 500 ? message[..500] : message)}");
            }
        }
    }
}
