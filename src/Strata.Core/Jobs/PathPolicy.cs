using System.Text.RegularExpressions;
using Strata.Contracts;

namespace Strata.Core.Jobs;

/// <summary>
/// Where a job's <c>data_path</c> and <c>model_output_path</c> may point. Object-store URIs pass through
/// untouched (the server never fetches them; the job does). <c>artifact://&lt;id&gt;</c> names one of the
/// tenant's uploaded artifacts (whether it exists is the server's check). Local paths must lie inside the tenant's
/// own artifact area or one of the configured data roots; relative paths are taken inside the tenant's
/// area; <c>..</c> is refused everywhere. The platform's own folder (<paramref name="platformRoot"/>:
/// keys, the database, other tenants' areas) is refused even where a data root contains it, except for
/// the tenant's own area inside it.
/// </summary>
public sealed partial class PathPolicy(string tenantArea, IReadOnlyList<string> dataRoots, string? platformRoot = null)
{
    /// <summary>URI schemes handed to the job as they are.</summary>
    public static readonly IReadOnlySet<string> PassThroughSchemes =
        new HashSet<string>(StringComparer.Ordinal) { "s3", "gs", "gcs", "az", "abfs", "abfss", "hdfs", "http", "https" };

    public string TenantArea { get; } = Path.GetFullPath(tenantArea);

    /// <summary>Resolves <paramref name="path"/>, or says why it is refused.</summary>
    public bool TryResolve(string path, out string resolved, out string? error)
    {
        resolved = path;
        error = null;
        if (path.Length == 0 || path.Length > JobLimits.PathLength)
        {
            error = $"must be 1 to {JobLimits.PathLength} characters";
            return false;
        }
        if (path.Contains('\0', StringComparison.Ordinal) || path.Contains('\\', StringComparison.Ordinal))
        {
            error = "must not contain NUL or backslash characters";
            return false;
        }
        if (ArtifactUri.HasScheme(path))
        {
            if (!ArtifactUri.TryParse(path, out var id))
            {
                error = "an artifact URI must be artifact://<artifact id>";
                return false;
            }
            resolved = ArtifactUri.Format(id);
            return true;
        }
        var scheme = Scheme().Match(path);
        if (scheme.Success)
        {
            var name = scheme.Groups[1].Value.ToLowerInvariant();
            if (!PassThroughSchemes.Contains(name))
            {
                error = $"scheme '{name}' is not supported; use a local path or one of {string.Join(", ", PassThroughSchemes.Order())}";
                return false;
            }
            if (HasDotDotSegment(path[scheme.Length..]))
            {
                error = "must not contain '..' segments";
                return false;
            }
            return true;
        }
        if (HasDotDotSegment(path))
        {
            error = "must not contain '..' segments";
            return false;
        }
        var full = Path.IsPathRooted(path) ? Path.GetFullPath(path) : Path.GetFullPath(Path.Combine(TenantArea, path));
        if (IsInside(full, TenantArea))
        {
            resolved = full;
            return true;
        }
        if (platformRoot is not null && IsInside(full, Path.GetFullPath(platformRoot)))
        {
            error = "must not point into the platform's data folder, except the tenant's own area";
            return false;
        }
        if (dataRoots.Any(root => IsInside(full, Path.GetFullPath(root))))
        {
            resolved = full;
            return true;
        }
        error = "must be inside the tenant's artifact area or a configured data root";
        return false;
    }

    private static bool HasDotDotSegment(string path) =>
        path.Split('/').Any(segment => segment == "..");

    private static bool IsInside(string path, string root)
    {
        var trimmed = root.TrimEnd('/');
        return path == trimmed || path.StartsWith(trimmed + "/", StringComparison.Ordinal) || trimmed.Length == 0;
    }

    [GeneratedRegex("^([A-Za-z][A-Za-z0-9+.-]*)://")]
    private static partial Regex Scheme();
}
