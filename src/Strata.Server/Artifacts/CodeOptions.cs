using System.ComponentModel.DataAnnotations;

namespace Strata.Server.Artifacts;

/// <summary>Where jobs' <c>code_repo</c> may be cloned from (section <c>Code</c>).</summary>
public sealed class CodeOptions
{
    public const string Section = "Code";

    /// <summary>
    /// Hosts whose repositories may be cloned over https or ssh, such as <c>github.com</c>. Local
    /// repositories are allowed where a job's data_path could point (the tenant's area, the data roots).
    /// </summary>
    /// <value>The default is none: the server fetches no remote URL unless an operator allows its host.</value>
    public List<string> AllowedHosts { get; set; } = [];

    /// <summary>How long a clone may take before the attempt fails to start.</summary>
    /// <value>The default is 600 seconds.</value>
    [Range(1, 86400)]
    public int CloneTimeoutSeconds { get; set; } = 600;
}
