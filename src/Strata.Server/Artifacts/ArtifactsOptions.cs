using System.ComponentModel.DataAnnotations;

namespace Strata.Server.Artifacts;

/// <summary>The artifact store (section <c>Artifacts</c>): where uploads are kept and how large they may be.</summary>
public sealed class ArtifactsOptions : IValidatableObject
{
    public const string Section = "Artifacts";
    public const string Local = "local";
    public const string S3 = "s3";
    public const long DefaultMaxUploadBytes = 5L << 30;
    public const long DefaultMaxExtractedBytes = 50L << 30;
    public const int DefaultMaxArchiveEntries = 100_000;
    public static readonly TimeSpan DefaultInputCacheRetention = TimeSpan.FromDays(7);

    /// <summary><c>local</c> (a folder) or <c>s3</c> (an S3-compatible object store).</summary>
    /// <value>The default is <c>local</c>.</value>
    [Required]
    [RegularExpression("^(local|s3)$", ErrorMessage = "Artifacts:Backend must be 'local' or 's3'.")]
    public string Backend { get; set; } = Local;

    /// <summary>The local backend's folder; null means <c>blobs</c> in the data folder.</summary>
    public string? LocalPath { get; set; }

    /// <summary>The largest upload accepted, in bytes; a larger one is refused with 413.</summary>
    /// <value>The default is 5 GiB.</value>
    [Range(1, long.MaxValue)]
    public long MaxUploadBytes { get; set; } = DefaultMaxUploadBytes;

    /// <summary>The most bytes an uploaded archive may hold once extracted (guards against decompression bombs).</summary>
    /// <value>The default is 50 GiB.</value>
    [Range(1, long.MaxValue)]
    public long MaxExtractedBytes { get; set; } = DefaultMaxExtractedBytes;

    /// <summary>The most entries (files, folders, links) of an uploaded archive.</summary>
    /// <value>The default is 100,000.</value>
    [Range(1, int.MaxValue)]
    public int MaxArchiveEntries { get; set; } = DefaultMaxArchiveEntries;

    /// <summary>
    /// How long an entry of the input cache (an artifact extracted or copied for jobs, shared read-only) is
    /// kept after the last attempt that used it; an entry in use is never removed. Written as <c>d.hh:mm:ss</c>.
    /// </summary>
    /// <value>The default is 7 days.</value>
    [Range(typeof(TimeSpan), "00:00:00", "3650.00:00:00", ErrorMessage = "Artifacts:InputCacheRetention must be between 0 and 3650 days.")]
    public TimeSpan InputCacheRetention { get; set; } = DefaultInputCacheRetention;

    /// <summary>The S3 backend's settings, used when <see cref="Backend"/> is <c>s3</c>.</summary>
    public S3Options S3Store { get; set; } = new();

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Backend == S3 && string.IsNullOrWhiteSpace(S3Store.Bucket))
        {
            yield return new ValidationResult("Artifacts:S3Store:Bucket is required when Artifacts:Backend is 's3'.");
        }
    }
}

/// <summary>An S3-compatible object store (AWS S3, MinIO, Ceph RGW, ...).</summary>
public sealed class S3Options
{
    /// <summary>The endpoint, such as <c>https://s3.eu-west-1.amazonaws.com</c> or <c>http://minio:9000</c>; null means AWS for <see cref="Region"/>.</summary>
    public string? ServiceUrl { get; set; }

    /// <summary>The region the requests are signed for.</summary>
    /// <value>The default is <c>us-east-1</c>.</value>
    public string Region { get; set; } = "us-east-1";

    public string? Bucket { get; set; }

    /// <summary>A prefix of every key, such as <c>strata/</c>; tenants' artifacts are under <c>&lt;prefix&gt;&lt;tenant&gt;/</c>.</summary>
    public string Prefix { get; set; } = "";

    /// <summary>The access key; null means the AWS SDK's default credential chain (environment, profile, instance role).</summary>
    public string? AccessKey { get; set; }

    public string? SecretKey { get; set; }

    /// <summary>Path-style URLs (<c>endpoint/bucket/key</c>), which most S3-compatible stores need.</summary>
    /// <value>The default is true.</value>
    public bool ForcePathStyle { get; set; } = true;
}
