namespace Strata.Cli;

/// <summary>The user's input is wrong; reported as one line with <see cref="ExitCodes.UsageError"/>.</summary>
public sealed class UsageException : Exception
{
    public UsageException() { }
    public UsageException(string message) : base(message) { }
    public UsageException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>No server URL or token is configured; reported with <see cref="ExitCodes.Unauthorized"/>.</summary>
public sealed class NotLoggedInException : Exception
{
    public NotLoggedInException() { }
    public NotLoggedInException(string message) : base(message) { }
    public NotLoggedInException(string message, Exception innerException) : base(message, innerException) { }
}
