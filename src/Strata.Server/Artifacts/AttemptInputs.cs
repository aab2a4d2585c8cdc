using System.Diagnostics;
using Microsoft.Extensions.Options;
using Strata.Contracts;
using Strata.Core.Runtime;

namespace Strata.Server.Artifacts;

/// <summary>
/// Puts an attempt's inputs on this machine before its process starts: the code (an uploaded tar.gz
/// extracted, or a git repository cloned at its revision) into the working folder, and an uploaded data
/// artifact under <c>inputs/</c> (a file as that file, an archive as the folder it extracts to), named
/// in <c>DATA_PATH</c>. Every attempt gets fresh copies, so a retry never sees what a failed one changed.
/// </summary>
public sealed class AttemptInputs(ArtifactStore artifacts, IOptions<CodeOptions> options, ILogger<AttemptInputs> logger)
{
    public const string InputsFolder = "inputs";

    /// <summary>True when <paramref name="launch"/> has inputs to put in place.</summary>
    public static bool AnyFor(JobLaunch launch) => launch.Code is not null || launch.DataArtifactId is not null;

    /// <summary>Prepares the inputs in the attempt folder and returns the environment with <c>DATA_PATH</c> pointing at them.</summary>
    /// <exception cref="RuntimeStartException">An input is missing or cannot be put in place.</exception>
    public async Task<Dictionary<string, string>> PrepareAsync(JobLaunch launch, string attemptFolder, string workFolder, CancellationToken cancellationToken)
    {
        var environment = new Dictionary<string, string>(launch.Environment, StringComparer.Ordinal);
        var tenant = launch.Attempt.TenantId;
        // A start repeated after a crash begins again from nothing.
        var inputs = Path.Combine(attemptFolder, InputsFolder);
        foreach (var folder in new[] { inputs, workFolder })
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
        Directory.CreateDirectory(workFolder);
        switch (launch.Code)
        {
            case { ArtifactId: { } id }:
                await ExtractAsync(tenant, id, workFolder, "code_artifact", cancellationToken);
                break;
            case { Repo: { } repo } code:
                await CloneAsync(repo, code.Commit, workFolder, cancellationToken);
                break;
        }
        if (launch.DataArtifactId is { } dataId)
        {
            var artifact = await artifacts.FindAsync(tenant, dataId, cancellationToken)
                ?? throw new RuntimeStartException($"data_path: artifact {dataId} no longer exists");
            if (artifact.Kind == ArtifactKinds.Archive)
            {
                var target = Path.Combine(inputs, "data");
                await ExtractAsync(tenant, dataId, target, "data_path", cancellationToken);
                environment["DATA_PATH"] = target;
            }
            else
            {
                Directory.CreateDirectory(inputs);
                var target = Path.Combine(inputs, SafeFileName(artifact.Name));
                await CopyAsync(tenant, dataId, target, cancellationToken);
                environment["DATA_PATH"] = target;
            }
        }
        return environment;
    }

    private async Task ExtractAsync(string tenant, string id, string destination, string field, CancellationToken cancellationToken)
    {
        if (await artifacts.OpenAsync(tenant, id, cancellationToken) is not { } found)
        {
            throw new RuntimeStartException($"{field}: artifact {id} no longer exists");
        }
        if (found.Artifact.Kind != ArtifactKinds.Archive)
        {
            await found.Content.DisposeAsync();
            throw new RuntimeStartException($"{field}: artifact {id} ({found.Artifact.Name}) is a single file, not a tar.gz archive");
        }
        await using var content = found.Content;
        try
        {
            await artifacts.Extractor.ExtractAsync(content, destination, cancellationToken);
        }
        catch (UnsafeArchiveException e)
        {
            throw new RuntimeStartException($"{field}: artifact {id} was not extracted: {e.Message}", e);
        }
    }

    private async Task CopyAsync(string tenant, string id, string target, CancellationToken cancellationToken)
    {
        if (await artifacts.OpenAsync(tenant, id, cancellationToken) is not { } found)
        {
            throw new RuntimeStartException($"data_path: artifact {id} no longer exists");
        }
        await using var content = found.Content;
        await using var file = new FileStream(target, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        await content.CopyToAsync(file, cancellationToken);
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

    /// <summary>The uploaded name as a file name (it was checked at upload; this keeps it safe whatever).</summary>
    private static string SafeFileName(string name)
    {
        var file = Path.GetFileName(name);
        return file is "" or "." or ".." ? "data" : file;
    }
}
