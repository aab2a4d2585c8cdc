using System.ComponentModel.DataAnnotations;

namespace Strata.Server.Runtime.Local.Sandbox;

/// <summary>
/// How local jobs are confined (section <c>Runtime:Local:Sandbox</c>; docs/sandbox.md). The mode can also be
/// given as the section's own value, <c>Runtime:Local:Sandbox=none</c> (an environment variable
/// <c>Runtime__Local__Sandbox=none</c>), which wins over <see cref="Mode"/>.
/// </summary>
public sealed class SandboxOptions
{
    public const string Section = "Runtime:Local:Sandbox";
    public const string Bwrap = "bwrap";
    public const string None = "none";
    public const string NetworkHost = "host";

    /// <summary><c>bwrap</c> (every attempt in a bubblewrap sandbox) or <c>none</c> (jobs are not isolated).</summary>
    /// <value>The default is <c>bwrap</c> when bubblewrap is installed and works here, else <c>none</c>, said loudly.</value>
    [RegularExpression("^(bwrap|none)$", ErrorMessage = "Runtime:Local:Sandbox must be 'bwrap' or 'none'.")]
    public string? Mode { get; set; }

    /// <summary>The bwrap executable; null looks for <c>bwrap</c> on the server's PATH.</summary>
    public string? BwrapPath { get; set; }

    /// <summary>
    /// <c>host</c>: the job shares the machine's network, so it reaches the platform API (its metrics and
    /// outputs), the package index and anything else the machine can reach, and can listen on ports.
    /// <c>none</c>: a network of its own with loopback only; the job cannot reach the API.
    /// </summary>
    /// <value>The default is <c>host</c>.</value>
    [RegularExpression("^(host|none)$", ErrorMessage = "Runtime:Local:Sandbox:Network must be 'host' or 'none'.")]
    public string Network { get; set; } = "host";

    /// <summary>
    /// When the server runs as root, the user ids given to tenants' jobs (<c>first-last</c>): each tenant
    /// gets its own, which is also its group id, recorded in <c>&lt;data&gt;/sandbox-uids</c>. Ignored when the
    /// server is not root (jobs then run as the server's user, inside a user namespace).
    /// </summary>
    /// <value>The default is <c>200000-299999</c>.</value>
    [RegularExpression(@"^\d{1,9}-\d{1,9}$", ErrorMessage = "Runtime:Local:Sandbox:UidRange must be 'first-last', e.g. 200000-299999.")]
    public string UidRange { get; set; } = "200000-299999";

    /// <summary>
    /// Folders every job may read besides its own (a shared Python environment, a model cache): bound
    /// read-only at the same path. None may hold the data folder.
    /// </summary>
    public List<string> ReadOnlyPaths { get; set; } = [];

    /// <summary>
    /// Folders every job may write, shared by all tenants on purpose (a scratch area): bound read-write at the
    /// same path. With a user per tenant, make them writable to those users (mode 1777). None may hold the data folder.
    /// </summary>
    public List<string> ReadWritePaths { get; set; } = [];

    /// <summary>The size of a job's private <c>/tmp</c>, in MB (memory, counted against the job's memory limit where cgroups enforce it).</summary>
    /// <value>The default is 1024 MB.</value>
    [Range(1, 1_048_576)]
    public int TmpMb { get; set; } = 1024;
}
