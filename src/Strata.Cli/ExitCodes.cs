namespace Strata.Cli;

/// <summary>
/// The exit codes of <c>strata</c>. Scripts may rely on them: they are part of the CLI's contract.
/// </summary>
public static class ExitCodes
{
    /// <summary>The command did what was asked (for <c>jobs wait</c>: the job succeeded).</summary>
    public const int Success = 0;
    /// <summary>The command worked but the job it waited on failed or was cancelled.</summary>
    public const int Failure = 1;
    /// <summary>The command line or a spec file is wrong (unknown option, bad value, unreadable file).</summary>
    public const int UsageError = 2;
    /// <summary>The API refused the request (validation, conflict, quota, rate limit, server error).</summary>
    public const int ApiError = 3;
    /// <summary>The resource does not exist (404).</summary>
    public const int NotFound = 4;
    /// <summary>Not logged in, or the token is invalid, expired (401) or not allowed (403).</summary>
    public const int Unauthorized = 5;
    /// <summary>The server could not be reached.</summary>
    public const int ConnectionError = 6;
    /// <summary><c>jobs wait --timeout</c> passed before the job ended.</summary>
    public const int Timeout = 7;
    /// <summary>Interrupted (Ctrl+C), as shells report SIGINT.</summary>
    public const int Interrupted = 130;
}
