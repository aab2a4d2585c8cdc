using System.Diagnostics.CodeAnalysis;

namespace Strata.Contracts;

/// <summary>The values of <see cref="Artifact.Kind"/>.</summary>
public static class ArtifactKinds
{
    /// <summary>One file, handed to a job as that file.</summary>
    public const string File = "file";
    /// <summary>A gzip-compressed tar archive, handed to a job as the folder it extracts to.</summary>
    public const string Archive = "archive";
    public static readonly IReadOnlyList<string> All = [File, Archive];
}

/// <summary>An uploaded file or archive of a tenant (<c>POST /v1/artifacts</c>).</summary>
public sealed record Artifact
{
    public required string Id { get; init; }
    /// <summary>The name it was uploaded with, such as <c>churn.csv</c>.</summary>
    public required string Name { get; init; }
    /// <summary><c>file</c> or <c>archive</c>; see <see cref="ArtifactKinds"/>.</summary>
    public required string Kind { get; init; }
    public required long SizeBytes { get; init; }
    /// <summary>The SHA-256 of the uploaded bytes, lower-case hex.</summary>
    public required string Sha256 { get; init; }
    /// <summary>How a job spec refers to it: <c>artifact://&lt;id&gt;</c> in <c>data_path</c> or <c>code_artifact</c>.</summary>
    public required string Uri { get; init; }
    /// <summary>The job whose token uploaded it, if a job did.</summary>
    public string? JobId { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
}

/// <summary>
/// The <c>artifact://&lt;id&gt;</c> form by which a job spec names one of its tenant's artifacts. The id is
/// the artifact's UUID; nothing else (no path, no query) is part of it.
/// </summary>
public static class ArtifactUri
{
    public const string Scheme = "artifact";
    public const string Prefix = Scheme + "://";

    public static string Format(string id) => Prefix + id;

    /// <summary>
    /// In a dry run (<c>POST /v1/jobs/training?dry_run=true</c>), the artifact a client is about to upload: the nil
    /// UUID, which no real artifact has. A real submission naming it is refused as any missing artifact is.
    /// </summary>
    public static readonly string ToBeUploaded = Prefix + Guid.Empty.ToString();

    /// <summary>True when <paramref name="value"/> is <c>artifact://&lt;uuid&gt;</c>; <paramref name="id"/> is then the canonical id.</summary>
    public static bool TryParse(string? value, [NotNullWhen(true)] out string? id)
    {
        id = null;
        if (value is null || !value.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase)) return false;
        if (!Guid.TryParseExact(value[Prefix.Length..], "D", out var guid)) return false;
        id = guid.ToString();
        return true;
    }

    /// <summary>True when <paramref name="value"/> uses the artifact scheme at all (well-formed or not).</summary>
    public static bool HasScheme(string? value) => value is not null && value.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase);
}
