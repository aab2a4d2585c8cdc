using System.ComponentModel.DataAnnotations;

namespace Strata.Server.Hosting;

/// <summary>Top-level settings (section <c>Strata</c>).</summary>
public sealed class StrataOptions
{
    public const string Section = "Strata";
    public const string DefaultDataPath = "./.strata";
    public const int DefaultDiskSweepSeconds = 300;

    /// <summary>The data folder: database, signing key, admin token, attempts and artifacts.</summary>
    /// <value>The default is <c>./.strata</c>, relative to the working directory.</value>
    [Required]
    public string DataPath { get; set; } = DefaultDataPath;

    /// <summary>The URL jobs use to reach the API (<c>STRATA_API_URL</c>); null means the first URL the server listens on.</summary>
    public string? PublicUrl { get; set; }

    /// <summary>Local folders that jobs' <c>data_path</c> and <c>model_output_path</c> may name, besides the tenant's own area.</summary>
    /// <value>The default is the server's working directory, which suits one machine; narrow it on a shared one.</value>
    public List<string> DataRoots { get; set; } = [];

    /// <summary>Seconds between two sweeps of what the server keeps on disk (ended attempts, unused cached inputs, checkpoints).</summary>
    /// <value>The default is 300 seconds.</value>
    [Range(1, 86400)]
    public int DiskSweepSeconds { get; set; } = DefaultDiskSweepSeconds;
}

/// <summary>The data folder's layout.</summary>
public sealed class DataFolder
{
    public DataFolder(string path)
    {
        Root = Path.GetFullPath(path);
        // The folder holds the signing key, tokens and every tenant's files: its owner only.
        Directory.CreateDirectory(Root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Directory.CreateDirectory(Attempts);
        Directory.CreateDirectory(Artifacts);
        Directory.CreateDirectory(Checkpoints);
    }

    public string Root { get; }
    public string Database => Path.Combine(Root, "strata.db");
    public string SigningKey => Path.Combine(Root, "signing-key");
    public string AdminToken => Path.Combine(Root, "admin-token");
    public string Attempts => Path.Combine(Root, "attempts");
    public string Artifacts => Path.Combine(Root, "artifacts");
    public string Checkpoints => Path.Combine(Root, "checkpoints");
    public string Standby => Path.Combine(Root, "standby");
    /// <summary>Uploads being received, before the artifact backend takes them.</summary>
    public string Uploads => Path.Combine(Root, "uploads");
    /// <summary>The input cache: artifacts as jobs read them, per tenant and content (see <c>InputCache</c>).</summary>
    public string Inputs => Path.Combine(Root, "inputs");
    /// <summary>The model registry's copies of model files, outside the paths a job may name, so a version never changes.</summary>
    public string Models => Path.Combine(Root, "models");

    public string TenantArtifacts(string tenantId) => Path.Combine(Artifacts, tenantId);

    public string TenantModels(string tenantId) => Path.Combine(Models, tenantId);

    public string JobCheckpoints(string jobId) => Path.Combine(Checkpoints, jobId);

    /// <summary>Writes a secret readable by the server's user only (mode 0600), created that way so it is never briefly exposed.</summary>
    public static void WriteSecret(string path, string content)
    {
        var options = new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        };
        using (var stream = new FileStream(path, options))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(content);
        }
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }
}
