using System.Text.RegularExpressions;

namespace Strata.Core.Jobs;

/// <summary>Name rules shared by jobs, tenants and environment variables.</summary>
public static partial class Names
{
    /// <summary>True for a DNS-1123 label: lower-case letters, digits and '-', starting and ending alphanumeric.</summary>
    public static bool IsDnsLabel(string value, int maxLength = 63) =>
        value.Length > 0 && value.Length <= maxLength && DnsLabel().IsMatch(value);

    public static bool IsEnvironmentName(string value) => EnvironmentName().IsMatch(value);

    public static bool IsHyperparameterName(string value) => HyperparameterName().IsMatch(value);

    /// <summary>The environment variable a hyperparameter becomes: <c>learning-rate</c> → <c>HYPERPARAM_LEARNING_RATE</c>.</summary>
    public static string HyperparameterVariable(string name) =>
        "HYPERPARAM_" + NonWordCharacters().Replace(name, "_").ToUpperInvariant();

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex DnsLabel();

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex EnvironmentName();

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_.-]*$")]
    private static partial Regex HyperparameterName();

    [GeneratedRegex("[^A-Za-z0-9_]")]
    private static partial Regex NonWordCharacters();
}
