using System.ComponentModel.DataAnnotations;

namespace Strata.Server.Runtime;

/// <summary>Which runtime runs jobs (section <c>Runtime</c>).</summary>
public sealed class RuntimeOptions
{
    public const string Section = "Runtime";
    public const string Local = "local";
    public const string Kubernetes = "kubernetes";

    /// <summary><c>local</c> (processes on this machine) or <c>kubernetes</c> (a cluster, see <c>Runtime:Kubernetes</c>).</summary>
    /// <value>The default is <c>local</c>.</value>
    [Required]
    [RegularExpression("^(local|kubernetes)$", ErrorMessage = "Runtime:Kind must be 'local' or 'kubernetes'.")]
    public string Kind { get; set; } = Local;
}
