using System.ComponentModel.DataAnnotations;

namespace Strata.Server.Models;

/// <summary>Settings of the model registry (section <c>Models</c>).</summary>
public sealed class ModelsOptions
{
    public const string Section = "Models";
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 200;
    public const int MaxDescriptionLength = 1000;
    public const int MaxMetrics = 100;
    public const int MaxMetricNameLength = 128;
    /// <summary>The largest <c>input_schema</c> a version may carry, in bytes of JSON.</summary>
    public const int MaxInputSchemaBytes = 256 * 1024;

    /// <summary>The largest model file the registry takes (it keeps its own copy).</summary>
    /// <value>The default is 4 GiB.</value>
    [Range(1, long.MaxValue)]
    public long MaxModelBytes { get; set; } = 4L * 1024 * 1024 * 1024;
}
