using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Strata.Contracts;
using Strata.Core.Text;

namespace Strata.Core.Jobs;

/// <summary>
/// What a runtime lets a job's <c>environment</c> ask for (docs/environments.md). Each refusal is the reason the
/// 400 gives; null allows the field.
/// </summary>
/// <param name="RequirementsRefusal">Why <c>environment.requirements</c> is refused here (Kubernetes with installing turned off).</param>
/// <param name="PythonRefusal">Why <c>environment.python</c> is refused here (Kubernetes: the image's Python is the job's).</param>
/// <param name="InheritPathRefusal">Why <c>environment.inherit_path</c> is refused here (the operator has not allowed it).</param>
public sealed record EnvironmentRules(string? RequirementsRefusal = null, string? PythonRefusal = null, string? InheritPathRefusal = EnvironmentRules.DefaultInheritPathRefusal)
{
    public const string DefaultInheritPathRefusal = "is not allowed on this platform: the operator has not set Runtime:Local:AllowInheritPath";

    /// <summary>A local runtime whose operator has not allowed <c>inherit_path</c>.</summary>
    public static readonly EnvironmentRules Default = new();
}

/// <summary>
/// The pure rules of jobs' Python environments: what the spec may say, the requirements a file names, and the
/// content hash an environment is cached by.
/// </summary>
public static class PythonEnvironments
{
    /// <summary>The most requirement strings a spec may list.</summary>
    public const int MaxRequirements = 256;

    /// <summary>The longest requirement string.</summary>
    public const int MaxRequirementLength = 512;

    /// <summary>The largest requirements file read from a job's code.</summary>
    public const int MaxRequirementsFileBytes = 256 * 1024;

    /// <summary>
    /// Checks <paramref name="environment"/> and returns it normalized (the interpreter's path resolved, an empty
    /// section as null), adding an error per bad field to <paramref name="errors"/>.
    /// </summary>
    public static EnvironmentSpec? Validate(ValidationErrors errors, EnvironmentSpec? environment, bool builtInTrainer, PathPolicy paths, EnvironmentRules rules)
    {
        if (environment is null) return null;
        if (builtInTrainer && (environment.Requirements is not null || environment.Python is not null || environment.SystemSitePackages is true))
        {
            errors.Add("environment", "is for a job's own code: a built-in trainer (model) runs without Python");
        }
        if (environment.Requirements is { } requirements)
        {
            if (rules.RequirementsRefusal is { } refusal) errors.Add("environment.requirements", refusal);
            else ValidateRequirements(errors, requirements);
        }
        string? python = null;
        if (environment.Python is { } named)
        {
            if (rules.PythonRefusal is { } refusal) errors.Add("environment.python", refusal);
            else python = ResolveInterpreter(errors, named, paths);
        }
        if (environment.InheritPath is true && rules.InheritPathRefusal is { } inheritRefusal)
        {
            errors.Add("environment.inherit_path", inheritRefusal);
        }
        var normalized = environment with { Python = python };
        return normalized.Requirements is null && normalized.Python is null && normalized.SystemSitePackages is not true && normalized.InheritPath is not true
            ? null
            : normalized;
    }

    /// <summary>Whether the section asks for a virtual environment (rather than only the server's <c>PATH</c>).</summary>
    public static bool NeedsVirtualEnvironment(EnvironmentSpec? environment) =>
        environment is not null && (environment.Requirements is not null || environment.Python is not null || environment.SystemSitePackages is true);

    /// <summary>The requirements file a spec names (<c>"requirements.txt"</c>); null when it lists them.</summary>
    public static string? RequirementsFile(EnvironmentSpec? environment) =>
        environment?.Requirements is { ValueKind: JsonValueKind.String } file ? file.GetString() : null;

    /// <summary>The requirement strings a spec lists; empty when it names a file or none.</summary>
    public static IReadOnlyList<string> RequirementList(EnvironmentSpec? environment) =>
        environment?.Requirements is { ValueKind: JsonValueKind.Array } list
            ? list.EnumerateArray().Select(item => item.GetString()!.Trim()).ToList()
            : [];

    /// <summary>
    /// The lines of a requirements file that pip reads: comments, blank lines and line continuations taken out,
    /// each trimmed (pip's own options, such as <c>--extra-index-url</c>, are kept).
    /// </summary>
    public static List<string> ParseRequirementsFile(string text)
    {
        var lines = new List<string>();
        var pending = new StringBuilder();
        foreach (var raw in text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n'))
        {
            var line = raw;
            var comment = line.IndexOf(" #", StringComparison.Ordinal);
            if (line.TrimStart().StartsWith('#')) line = "";
            else if (comment >= 0) line = line[..comment];
            if (line.EndsWith('\\'))
            {
                pending.Append(line[..^1]);
                continue;
            }
            pending.Append(line);
            var whole = pending.ToString().Trim();
            pending.Clear();
            if (whole.Length > 0) lines.Add(whole);
        }
        if (pending.ToString().Trim() is { Length: > 0 } last) lines.Add(last);
        return lines;
    }

    /// <summary>
    /// The hash an environment is cached by: the interpreter, the requirements (sorted, so their order does not
    /// matter), pip's index settings and whether the machine's packages are visible. Lowercase hex, 64 characters.
    /// </summary>
    public static string Key(string interpreter, IEnumerable<string> requirements, IEnumerable<string> pipArguments, bool systemSitePackages)
    {
        var text = new StringBuilder();
        text.Append("interpreter\0").Append(interpreter).Append('\n');
        text.Append("system_site_packages\0").Append(systemSitePackages ? "true" : "false").Append('\n');
        foreach (var argument in pipArguments) text.Append("pip\0").Append(argument).Append('\n');
        foreach (var requirement in requirements.Order(StringComparer.Ordinal)) text.Append("requirement\0").Append(requirement).Append('\n');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    private static void ValidateRequirements(ValidationErrors errors, JsonElement requirements)
    {
        const string field = "environment.requirements";
        switch (requirements.ValueKind)
        {
            case JsonValueKind.String:
                var file = requirements.GetString()!;
                if (file.Length == 0 || file.Length > JobLimits.PathLength) errors.Add(field, $"must name a file of the job's code, 1 to {JobLimits.PathLength} characters");
                else if (!TextRules.Check(errors, field, file, TextKind.Line)) return;
                else if (file.StartsWith('/') || file.Contains('\\', StringComparison.Ordinal) || file.Split('/').Any(segment => segment == ".."))
                {
                    errors.Add(field, "must be a path relative to the job's code (requirements.txt), without '..'");
                }
                break;
            case JsonValueKind.Array:
                if (requirements.GetArrayLength() > MaxRequirements)
                {
                    errors.Add(field, $"must list at most {MaxRequirements} requirements");
                    return;
                }
                var index = 0;
                foreach (var item in requirements.EnumerateArray())
                {
                    var itemField = $"{field}[{index++}]";
                    if (item.ValueKind != JsonValueKind.String)
                    {
                        errors.Add(itemField, "must be a string, such as \"pandas==2.2.2\"");
                        continue;
                    }
                    var text = item.GetString()!.Trim();
                    if (text.Length == 0 || text.Length > MaxRequirementLength) errors.Add(itemField, $"must be 1 to {MaxRequirementLength} characters");
                    else if (!TextRules.Check(errors, itemField, text, TextKind.Line)) continue;
                    // An option would change how pip installs everything else: options belong in a requirements file.
                    else if (text.StartsWith('-')) errors.Add(itemField, "must be a requirement, not a pip option (put options in a requirements file)");
                }
                break;
            default:
                errors.Add(field, "must be a file of the job's code (\"requirements.txt\") or a list of requirement strings");
                break;
        }
    }

    private static string? ResolveInterpreter(ValidationErrors errors, string python, PathPolicy paths)
    {
        const string field = "environment.python";
        if (!python.StartsWith('/'))
        {
            errors.Add(field, "must be the absolute path of an interpreter inside a configured data root");
            return null;
        }
        if (!paths.TryResolve(python, out var resolved, out var error))
        {
            errors.Add(field, error!);
            return null;
        }
        // A tenant's uploads are not programs: an interpreter comes from a data root the operator set up.
        if (resolved == paths.TenantArea || resolved.StartsWith(paths.TenantArea + "/", StringComparison.Ordinal))
        {
            errors.Add(field, "must be inside a configured data root, not the tenant's artifact area");
            return null;
        }
        return resolved;
    }
}
