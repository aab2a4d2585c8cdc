using System.Globalization;
using System.Text;
using System.Text.Json;
using Strata.Contracts;

namespace Strata.Worker.Training.Tests;

/// <summary>Runs <c>strata-worker train</c> in a temporary folder and reads what it wrote.</summary>
public sealed class TrainRun : IDisposable
{
    private TrainRun(string folder) => Folder = folder;

    public string Folder { get; }
    public string Output => Path.Combine(Folder, "out");
    public int ExitCode { get; private set; }
    public string Stdout { get; private set; } = "";
    public string Stderr { get; private set; } = "";

    public static string ChurnCsv => Path.Combine(RepositoryRoot(), "examples", "churn", "churn.csv");

    /// <summary>Trains on <paramref name="csv"/> (text, or a path when <paramref name="isPath"/>) with the given arguments.</summary>
    public static TrainRun Start(string csv, string arguments, Dictionary<string, string>? environment = null, bool isPath = false)
    {
        var run = new TrainRun(Directory.CreateTempSubdirectory("strata-train-").FullName);
        var data = isPath ? csv : Path.Combine(run.Folder, "data.csv");
        if (!isPath) File.WriteAllText(data, csv);
        var env = new Dictionary<string, string>(environment ?? [], StringComparer.Ordinal)
        {
            ["DATA_PATH"] = data,
            ["MODEL_OUTPUT_PATH"] = run.Output,
        };
        var stdout = new StringWriter(CultureInfo.InvariantCulture);
        var stderr = new StringWriter(CultureInfo.InvariantCulture);
        run.ExitCode = TrainCommand.Run(arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries), env, stdout, stderr);
        run.Stdout = stdout.ToString();
        run.Stderr = stderr.ToString();
        return run;
    }

    public TrainingReport Report => JsonSerializer.Deserialize<TrainingReport>(File.ReadAllText(Path.Combine(Output, TrainCommand.MetricsFile)), StrataJson.Options)!;

    public ModelInputSchema Schema => JsonSerializer.Deserialize<ModelInputSchema>(File.ReadAllText(Path.Combine(Output, TrainCommand.SchemaFile)), StrataJson.Options)!;

    /// <summary>The metrics printed as STRATA_METRIC lines.</summary>
    public Dictionary<string, double> PrintedMetrics => Stdout.Split('\n')
        .Where(line => line.StartsWith("STRATA_METRIC ", StringComparison.Ordinal))
        .Select(line => JsonDocument.Parse(line["STRATA_METRIC ".Length..]).RootElement)
        .ToDictionary(m => m.GetProperty("name").GetString()!, m => m.GetProperty("value").GetDouble());

    public void Dispose() => Directory.Delete(Folder, recursive: true);

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Strata.slnx"))) directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("Strata.slnx not found above the test folder");
    }
}

/// <summary>Small seeded data sets with a known relation between features and label.</summary>
public static class Datasets
{
    /// <summary><paramref name="rows"/> rows of x (numeric), colour (categorical), and <paramref name="label"/> computed from them.</summary>
    public static string Make(int rows, Func<double, string, Random, string> label, int seed = 7)
    {
        var random = new Random(seed);
        string[] colours = ["red", "green", "blue"];
        var csv = new StringBuilder("x,colour,y\n");
        for (var i = 0; i < rows; i++)
        {
            var x = random.NextDouble() * 10;
            var colour = colours[random.Next(colours.Length)];
            csv.Append(CultureInfo.InvariantCulture, $"{x:F3},{colour},{label(x, colour, random)}\n");
        }
        return csv.ToString();
    }

    public static string Binary(int rows = 400) => Make(rows, (x, c, r) => x + (c == "red" ? 2 : 0) + r.NextDouble() * 2 > 6 ? "yes" : "no");

    public static string Multiclass(int rows = 600) => Make(rows, (x, c, _) => x < 3.3 ? "bronze" : x < 6.6 ? "silver" : "gold");

    public static string Regression(int rows = 400) =>
        Make(rows, (x, c, r) => (3 * x + (c == "blue" ? 5 : 0) + r.NextDouble()).ToString("F3", CultureInfo.InvariantCulture));
}
