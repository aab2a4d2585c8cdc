using System.Text.RegularExpressions;
using Strata.Core.Text;

namespace Strata.Core.Jobs;

/// <summary>
/// Which git repositories the platform clones for a job's <c>code_repo</c>, and which revisions. The
/// server never fetches an arbitrary URL: a remote repository (<c>https://</c>, <c>ssh://</c> or
/// <c>user@host:path</c>) must be on a host the operator allowed (none by default), and a local one
/// (<c>file://</c> or a path) must satisfy the job's <see cref="PathPolicy"/> (the tenant's area or a
/// data root, never the platform's own folder). Other transports (<c>git://</c>, <c>ext::</c>, <c>http://</c>)
/// are refused.
/// </summary>
public sealed partial class CodeRepoPolicy(IReadOnlyCollection<string> allowedHosts)
{
    /// <summary>Checks <paramref name="repo"/> and <paramref name="commit"/>; on success <paramref name="cloneUrl"/> is what to give <c>git clone</c>.</summary>
    public bool TryCheck(string repo, string? commit, PathPolicy paths, out string cloneUrl, out ValidationErrors errors)
    {
        errors = new ValidationErrors();
        cloneUrl = repo;
        if (commit is not null && !Revision().IsMatch(commit))
        {
            errors.Add("code_commit", "must be a commit hash, tag or branch: letters, digits and '_ . / -', not starting with '-'");
        }
        if (repo.StartsWith('-') || !TextRules.IsValid(repo, TextKind.Line) || repo.Contains("::", StringComparison.Ordinal))
        {
            errors.Add("code_repo", "must be an https:// or ssh:// URL, user@host:path, or a local path");
            return false;
        }
        if (repo.StartsWith("https://", StringComparison.OrdinalIgnoreCase) || repo.StartsWith("ssh://", StringComparison.OrdinalIgnoreCase))
        {
            if (!Uri.TryCreate(repo, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
            {
                errors.Add("code_repo", "is not a valid URL");
            }
            else
            {
                CheckHost(uri.Host, errors);
            }
            return errors.IsEmpty;
        }
        if (ScpLike().Match(repo) is { Success: true } scp)
        {
            CheckHost(scp.Groups["host"].Value, errors);
            return errors.IsEmpty;
        }
        var local = repo.StartsWith("file://", StringComparison.OrdinalIgnoreCase) ? repo["file://".Length..] : repo;
        if (local.Contains("://", StringComparison.Ordinal))
        {
            errors.Add("code_repo", "only https://, ssh://, user@host:path and local repositories can be cloned");
            return false;
        }
        if (!Path.IsPathRooted(local))
        {
            errors.Add("code_repo", "a local repository must be an absolute path (or file:// URL)");
            return false;
        }
        if (!paths.TryResolve(local, out var resolved, out var error))
        {
            errors.Add("code_repo", error!);
            return false;
        }
        cloneUrl = resolved;
        return errors.IsEmpty;
    }

    private void CheckHost(string host, ValidationErrors errors)
    {
        if (!allowedHosts.Contains(host, StringComparer.OrdinalIgnoreCase))
        {
            errors.Add("code_repo", allowedHosts.Count == 0
                ? $"cloning from '{host}' is not allowed: this server clones no remote repositories unless an operator lists their hosts in Code:AllowedHosts"
                : $"cloning from '{host}' is not allowed; allowed hosts: {string.Join(", ", allowedHosts)}");
        }
    }

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9_./-]{0,63}$")]
    private static partial Regex Revision();

    [GeneratedRegex(@"^[A-Za-z0-9_.-]+@(?<host>[A-Za-z0-9.-]+):")]
    private static partial Regex ScpLike();
}
