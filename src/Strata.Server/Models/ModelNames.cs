using System.Globalization;
using Strata.Core.Jobs;

namespace Strata.Server.Models;

/// <summary>Rules for model and alias names, and how a version is referred to (<c>3</c>, <c>production</c>, <c>latest</c>).</summary>
public static class ModelNames
{
    /// <summary>The implicit alias of a model's newest version; it cannot be set or removed.</summary>
    public const string Latest = "latest";

    public static string? CheckModelName(string? name) =>
        name is not null && Names.IsDnsLabel(name)
            ? null
            : "must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters";

    public static string? CheckAlias(string alias) =>
        !Names.IsDnsLabel(alias) ? "must be a DNS-1123 label such as production or staging"
        : alias == Latest ? "'latest' always names the newest version; it cannot be set or removed"
        : alias.All(char.IsAsciiDigit) ? "must not be a number: numbers name versions"
        : null;

    /// <summary>A version number from the route, or null when <paramref name="reference"/> is an alias.</summary>
    public static int? AsNumber(string reference) =>
        int.TryParse(reference, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number > 0 ? number : null;
}
