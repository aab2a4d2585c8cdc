using System.Globalization;
using System.Text;
using Strata.Worker.Training;

namespace Strata.Worker.Serving.Tests;

/// <summary>Models trained once per test run with the built-in trainers: churn (binary), and small multiclass and regression sets.</summary>
public sealed class TrainedModels : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("strata-serving-models-").FullName;

    public TrainedModels()
    {
        Churn = Train("churn", File.ReadAllText(Path.Combine(RepositoryRoot(), "examples", "churn", "churn.csv")), "lightgbm", "churned");
        Multiclass = Train("tiers", Make(600, (x, _, _) => x < 3.3 ? "bronze" : x < 6.6 ? "silver" : "gold"), "lightgbm", "y");
        ZeroOne = Train("high", Make(300, (x, _, _) => x > 5 ? "1" : "0"), "lightgbm", "y");
        NumberedClasses = Train("levels", Make(600, (x, _, _) => x < 3.3 ? "1" : x < 6.6 ? "2" : "3"), "lightgbm", "y");
        Regression = Train("price", Make(400, (x, c, r) => (3 * x + (c == "blue" ? 5 : 0) + r.NextDouble()).ToString("F3", CultureInfo.InvariantCulture)), "linear_regression", "y");
    }

    /// <summary>A folder with model.zip and schema.json of a LightGBM churn classifier.</summary>
    public string Churn { get; }
    /// <summary>x (numeric), colour (categorical) → bronze/silver/gold by x.</summary>
    public string Multiclass { get; }
    /// <summary>x (numeric), colour (categorical) → 1 when x is over 5, else 0: a binary label written as numbers.</summary>
    public string ZeroOne { get; }
    /// <summary>x (numeric), colour (categorical) → 1, 2 or 3 by x: multiclass, the classes written as numbers.</summary>
    public string NumberedClasses { get; }
    /// <summary>x (numeric), colour (categorical) → about 3x (+5 when blue).</summary>
    public string Regression { get; }

    /// <summary>A churn instance in the CSV's shape.</summary>
    public static Dictionary<string, object?> ChurnInstance(int tenureMonths = 10, string contract = "month-to-month") => new()
    {
        ["tenure_months"] = tenureMonths,
        ["plan"] = "premium",
        ["contract"] = contract,
        ["monthly_charges"] = 103.22,
        ["total_charges"] = 1055.07,
        ["support_calls"] = 2,
        ["region"] = "south",
        ["paperless_billing"] = "yes",
    };

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string Train(string name, string csv, string model, string label)
    {
        var data = Path.Combine(_folder, name + ".csv");
        File.WriteAllText(data, csv);
        var output = Path.Combine(_folder, name);
        var error = new StringWriter();
        var exit = TrainCommand.Run(["--model", model, "--label", label, "--data", data, "--output", output], new Dictionary<string, string>(), TextWriter.Null, error);
        if (exit != TrainCommand.Success) throw new InvalidOperationException($"training {name} failed: {error}");
        return output;
    }

    private static string Make(int rows, Func<double, string, Random, string> label)
    {
        var random = new Random(7);
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

    public static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Strata.slnx"))) directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("Strata.slnx not found above the test folder");
    }
}

[CollectionDefinition(Name)]
public sealed class TrainedModelsCollection : ICollectionFixture<TrainedModels>
{
    public const string Name = "trained models";
}
