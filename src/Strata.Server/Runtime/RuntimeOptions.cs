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

    /// <summary>
    /// The <c>strata-worker</c> (a JIT build: its apphost or its <c>.dll</c>) that runs built-in trainer jobs
    /// (<c>train</c>) and model replicas (<c>serve</c>), and supervises local attempts unless
    /// <c>Runtime:Local:WorkerPath</c> names another. Read by <see cref="WorkerBinary"/> only.
    /// </summary>
    /// <value>The default is null: <c>worker/strata-worker</c> beside the server, where its build and publish put it.</value>
    public string? WorkerPath { get; set; }
}
