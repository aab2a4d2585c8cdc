using System.ComponentModel;

namespace Strata.Cli;

/// <summary>
/// The exit codes of <c>strata</c>. Scripts may rely on them: they are part of the CLI's contract, and
/// docs/cli.md lists them from these descriptions.
/// </summary>
public static class ExitCodes
{
    [Description("The command did what was asked (for `jobs wait`, `train --wait`: the job succeeded).")]
    public const int Success = 0;
    [Description("The command worked but the job it waited on failed or was cancelled; or an unexpected error.")]
    public const int Failure = 1;
    [Description("The command line, a spec file or the config file is wrong (unknown command or option, bad value, unreadable file, unknown context).")]
    public const int UsageError = 2;
    [Description("The API refused the request (validation, conflict, quota, rate limit, server error).")]
    public const int ApiError = 3;
    [Description("The resource does not exist, or belongs to another tenant (404).")]
    public const int NotFound = 4;
    [Description("Not logged in, or the token is invalid, expired (401) or not allowed (403).")]
    public const int Unauthorized = 5;
    [Description("The server could not be reached.")]
    public const int ConnectionError = 6;
    [Description("`jobs wait --timeout` or `deploy --wait --timeout` passed before the job ended or the deployment was ready.")]
    public const int Timeout = 7;
    [Description("Interrupted (Ctrl+C), as shells report SIGINT.")]
    public const int Interrupted = 130;

    /// <summary>Every code with its name and meaning, in increasing order.</summary>
    public static IReadOnlyList<(int Code, string Name, string Meaning)> All { get; } =
    [
        .. typeof(ExitCodes).GetFields()
            .Where(f => f.IsLiteral)
            .Select(f => ((int)f.GetRawConstantValue()!, f.Name, f.GetCustomAttributes(typeof(DescriptionAttribute), false).Cast<DescriptionAttribute>().Single().Description))
            .OrderBy(c => c.Item1),
    ];
}
