using System.Globalization;
using System.Text.Json;
using Strata.Contracts;

namespace Strata.Core.Jobs;

/// <summary>
/// The job contract's environment (DESIGN.md, "The job's contract"): what a training process sees, and
/// nothing else.
/// </summary>
public static class JobEnvironment
{
    /// <summary>The system's folders of programs, which every job's <c>PATH</c> names (a sandbox shows them read-only).</summary>
    public const string SystemPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /// <summary>Builds the environment of one attempt (every worker of it) from a normalized spec.</summary>
    public static Dictionary<string, string> Build(
        TrainingJobSpec spec,
        string jobId,
        int attempt,
        string apiUrl,
        string jobToken,
        string checkpointDirectory)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            // A usable PATH and locale: the job starts clean, but not crippled.
            ["PATH"] = SystemPath,
            ["LANG"] = "C.UTF-8",
            ["HOME"] = checkpointDirectory,
            ["PYTHONUNBUFFERED"] = "1",
        };
        foreach (var (name, value) in spec.EnvVars ?? [])
        {
            env[name] = value;
        }
        foreach (var (name, value) in spec.Hyperparameters ?? [])
        {
            env[Names.HyperparameterVariable(name)] = FormatHyperparameter(value);
        }
        if (spec.DataPath is not null)
        {
            env["DATA_PATH"] = spec.DataPath;
        }
        if (spec.ModelOutputPath is not null)
        {
            env["MODEL_OUTPUT_PATH"] = spec.ModelOutputPath;
        }
        env["STRATA_JOB_ID"] = jobId;
        env["STRATA_JOB_NAME"] = spec.Name ?? "";
        env["STRATA_TENANT_ID"] = spec.TenantId ?? "";
        env["STRATA_ATTEMPT"] = attempt.ToString(CultureInfo.InvariantCulture);
        env["STRATA_API_URL"] = apiUrl;
        env["STRATA_JOB_TOKEN"] = jobToken;
        env["STRATA_CHECKPOINT_DIR"] = checkpointDirectory;
        // A distributed job's place in its gang (RANK, MASTER_ADDR, ...) is the runtime's to add: it knows where
        // the ranks run (GangEnvironment).
        return env;
    }

    /// <summary>A hyperparameter's value as text: strings as they are, everything else as JSON (<c>0.001</c>, <c>true</c>).</summary>
    public static string FormatHyperparameter(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString() ?? "",
        JsonValueKind.Null => "",
        _ => value.GetRawText(),
    };

    /// <summary>
    /// <see cref="FormatHyperparameter"/>, or null when the value's text cannot be read (invalid UTF-8, or
    /// an escaped lone surrogate), which the validator refuses.
    /// </summary>
    public static string? TryFormatHyperparameter(JsonElement value)
    {
        try
        {
            return FormatHyperparameter(value);
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }
}
