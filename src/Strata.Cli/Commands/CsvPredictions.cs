using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsvHelper;
using CsvHelper.Configuration;
using Spectre.Console;
using Strata.Client;
using Strata.Contracts;

namespace Strata.Cli.Commands;

/// <summary>
/// <c>strata predict NAME --csv FILE</c> (or <c>@FILE.csv</c>): a CSV with a header row of feature names, sent in
/// batches the server accepts, answered as CSV: the input's columns, then the prediction's (a classifier's
/// <c>predicted_label</c>, <c>probability</c>, <c>score</c>; a regressor's <c>score</c>). Each value is typed by the served
/// version's input schema (a numeric column as a number, a categorical one as text, an empty or NA cell as missing, as the
/// trainer reads it: <see cref="MissingValues"/>); columns
/// the model does not take, such as the label, are carried through to the answer but not sent.
/// </summary>
public static class CsvPredictions
{
    /// <summary>Rows per request: well inside the route's 10,000 instances and 16 MiB.</summary>
    public const int BatchRows = 1000;

    public static async Task<int> PredictAsync(CliContext cli, StrataClient client, string name, string csvPath, string? outPath, CancellationToken cancellationToken)
    {
        var path = Path.GetFullPath(csvPath, cli.WorkingDirectory);
        if (!File.Exists(path)) throw new UsageException($"--csv: there is no file {path}");
        var deployment = await client.Deployments.GetAsync(name, cancellationToken);
        var version = await client.Models.GetVersionAsync(deployment.ModelName, deployment.ModelVersion.ToString(CultureInfo.InvariantCulture), cancellationToken);
        var types = ColumnTypes(version.InputSchema);

        var configuration = new CsvConfiguration(CultureInfo.InvariantCulture) { DetectDelimiter = false, BadDataFound = null };
        using var reader = new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        using var csv = new CsvReader(reader, configuration);
        if (!await csv.ReadAsync() || !csv.ReadHeader() || csv.HeaderRecord is not { Length: > 0 } header)
        {
            throw new UsageException($"--csv {csvPath}: the file has no header row of feature names");
        }
        var missing = types?.Keys.Where(column => !header.Contains(column, StringComparer.Ordinal)).ToList() ?? [];
        if (missing.Count > 0)
        {
            throw new UsageException($"--csv {csvPath}: the model's inputs {string.Join(", ", missing)} are not columns of the file; its columns are: {Excerpt(string.Join(", ", header))}");
        }

        await using var output = outPath is null ? null : new StreamWriter(Path.GetFullPath(outPath, cli.WorkingDirectory), append: false, new UTF8Encoding(false));
        // Standard output is the console's writer, left open for what follows.
        await using var writer = new CsvWriter(output ?? cli.Out.Profile.Out.Writer, CultureInfo.InvariantCulture, leaveOpen: output is null);
        string[]? predictionColumns = null;
        var rows = new List<(int Line, string[] Cells)>();
        var line = 1;
        var total = 0;
        while (true)
        {
            var more = await csv.ReadAsync();
            if (more)
            {
                line++;
                rows.Add((line, [.. header.Select((_, i) => csv.GetField(i) ?? "")]));
            }
            if (rows.Count == BatchRows || (!more && rows.Count > 0))
            {
                var body = new JsonObject { ["instances"] = new JsonArray([.. rows.Select(row => (JsonNode)Instance(header, row.Cells, types, row.Line))]) };
                var answer = await client.Deployments.PredictAsync(name, JsonSerializer.SerializeToElement(body), cancellationToken);
                var predictions = answer.Body.GetProperty("predictions").EnumerateArray().ToList();
                if (predictionColumns is null)
                {
                    predictionColumns = PredictionColumns(predictions[0], header);
                    foreach (var column in header.Concat(predictionColumns)) writer.WriteField(column);
                    await writer.NextRecordAsync();
                }
                for (var i = 0; i < rows.Count; i++)
                {
                    foreach (var field in rows[i].Cells) writer.WriteField(field);
                    foreach (var value in PredictionValues(predictions[i], predictionColumns, header)) writer.WriteField(value);
                    await writer.NextRecordAsync();
                }
                total += rows.Count;
                rows.Clear();
            }
            if (!more) break;
        }
        if (predictionColumns is null) throw new UsageException($"--csv {csvPath}: the file has a header row and no rows to predict");
        await writer.FlushAsync();
        if (outPath is not null) cli.Error.MarkupLine($"[grey]Predicted {total} row{(total == 1 ? "" : "s")} into {Output.Esc(outPath)}[/]");
        return ExitCodes.Success;
    }

    /// <summary>The served version's input columns and their types (numeric, categorical), or null when it has no schema.</summary>
    private static Dictionary<string, string>? ColumnTypes(JsonElement? schema)
    {
        if (schema is not { ValueKind: JsonValueKind.Object } value || !value.TryGetProperty("columns", out var columns) || columns.ValueKind != JsonValueKind.Array) return null;
        return columns.EnumerateArray()
            .Where(c => c.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String)
            .ToDictionary(c => c.GetProperty("name").GetString()!, c => c.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "", StringComparer.Ordinal);
    }

    /// <summary>One row as an instance: typed by the schema (or, without one, a number where the text is one).</summary>
    private static JsonObject Instance(string[] header, string[] row, Dictionary<string, string>? types, int line)
    {
        var instance = new JsonObject();
        for (var i = 0; i < header.Length; i++)
        {
            var column = header[i];
            var text = row[i].Trim();
            if (types is not null && !types.ContainsKey(column)) continue;
            var type = types?.GetValueOrDefault(column);
            if (MissingValues.IsMissing(text))
            {
                instance[column] = null;
            }
            else if (type == "numeric" || (type is null && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out _)))
            {
                if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) || !double.IsFinite(number))
                {
                    throw new UsageException($"line {line}, column {column}: \"{Excerpt(text)}\" is not a number, and the model takes a number there");
                }
                instance[column] = number;
            }
            else
            {
                instance[column] = text;
            }
        }
        return instance;
    }

    /// <summary>The answer's columns: an object's fields (renamed prediction_x where the input has an x), or one "prediction".</summary>
    private static string[] PredictionColumns(JsonElement first, string[] header) =>
        first.ValueKind == JsonValueKind.Object
            ? [.. first.EnumerateObject().Select(p => header.Contains(p.Name, StringComparer.Ordinal) ? "prediction_" + p.Name : p.Name)]
            : ["prediction"];

    private static IEnumerable<string> PredictionValues(JsonElement prediction, string[] columns, string[] header)
    {
        if (prediction.ValueKind != JsonValueKind.Object)
        {
            yield return Text(prediction);
            yield break;
        }
        foreach (var column in columns)
        {
            var field = column.StartsWith("prediction_", StringComparison.Ordinal) && header.Contains(column["prediction_".Length..], StringComparer.Ordinal)
                ? column["prediction_".Length..] : column;
            yield return prediction.TryGetProperty(field, out var value) ? Text(value) : "";
        }
    }

    /// <summary>A value as it was written: a string's text, a number's JSON (a float32's shortest form), true/false.</summary>
    private static string Text(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString()!,
        JsonValueKind.Null => "",
        _ => value.GetRawText(),
    };

    /// <summary>The header row of a CSV, read as the predictions read it (quotes and all).</summary>
    internal static string[]? Header(string path)
    {
        using var reader = new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        using var csv = new CsvReader(reader, new CsvConfiguration(CultureInfo.InvariantCulture) { BadDataFound = null });
        return csv.Read() && csv.ReadHeader() ? csv.HeaderRecord : null;
    }

    /// <summary>At most a short excerpt of what the user gave: an error never echoes a whole file.</summary>
    internal static string Excerpt(string text) => text.Length <= 80 ? text : text[..77] + "...";
}
