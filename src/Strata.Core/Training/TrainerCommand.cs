using Strata.Contracts;

namespace Strata.Core.Training;

/// <summary>
/// The command line that runs a built-in trainer job: <c>strata-worker train --model M --label L [--task T]</c>.
/// The data and output paths and the hyperparameters reach it through the job's environment
/// (<c>DATA_PATH</c>, <c>MODEL_OUTPUT_PATH</c>, <c>HYPERPARAM_*</c>), as they reach any job.
/// </summary>
public static class TrainerCommand
{
    /// <param name="worker">The JIT-built strata-worker, as words (<c>dotnet /path/strata-worker.dll</c>).</param>
    public static string Build(IEnumerable<string> worker, TrainingJobSpec spec)
    {
        var words = new List<string>(worker) { "train", "--model", spec.Model!, "--label", spec.Label! };
        if (spec.Task is not null)
        {
            words.Add("--task");
            words.Add(spec.Task);
        }
        return string.Join(' ', words.Select(Quote));
    }

    /// <summary>Single-quotes <paramref name="word"/> for /bin/sh.</summary>
    public static string Quote(string word) => "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
