namespace Strata.Server.Dashboard.Shared;

/// <summary>A job's status as the dashboard words it: the status, and its reason when there is one.</summary>
public static class StatusText
{
    public static string Of(string status, string? reason) =>
        string.IsNullOrEmpty(reason) ? status : $"{status} ({reason.Replace('_', ' ')})";
}
