using System.ComponentModel.DataAnnotations;

namespace Strata.Server.Retention;

/// <summary>
/// How long an ended job's files are kept (section <c>Jobs</c>, whose other settings are the job features' own):
/// read by the sweeps that remove them, the local runtime's and the checkpoints'.
/// </summary>
public sealed class RetentionOptions
{
    public const string Section = "Jobs";

    public static readonly TimeSpan DefaultRetention = TimeSpan.FromDays(7);

    /// <summary>
    /// How long what an ended attempt leaves on the server's disk is kept: its <c>output.log</c>, <c>result.json</c>
    /// and <c>worker.log</c> (its working folder goes as soon as it ends), and an ended job's checkpoint folder.
    /// After that the job's logs answer empty, as for a job that wrote none. Written as <c>d.hh:mm:ss</c>.
    /// </summary>
    /// <value>The default is 7 days.</value>
    [Range(typeof(TimeSpan), "00:00:01", "3650.00:00:00", ErrorMessage = "Jobs:Retention must be between 1 second and 3650 days.")]
    public TimeSpan Retention { get; set; } = DefaultRetention;
}
