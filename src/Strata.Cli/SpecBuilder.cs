using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Strata.Contracts;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Strata.Cli;

/// <summary>The values of <c>strata jobs submit</c>'s flags; null where a flag was not given.</summary>
public sealed record SubmitArguments
{
    public string? File { get; init; }
    public string? Name { get; init; }
    public string? Entrypoint { get; init; }
    public string? Image { get; init; }
    public string? Data { get; init; }
    public string? OutputPath { get; init; }
    public int? Cpu { get; init; }
    public int? Memory { get; init; }
    public int? Gpus { get; init; }
    public string? GpuType { get; init; }
    public int? Priority { get; init; }
    public string? Timeout { get; init; }
    public int? MaxAttempts { get; init; }
    public int? Workers { get; init; }
    public IReadOnlyList<string> Hyperparameters { get; init; } = [];
    public IReadOnlyList<string> Env { get; init; } = [];
    public string? Model { get; init; }
    public string? Label { get; init; }
    public string? Task { get; init; }
    public string? OnQuotaExceeded { get; init; }
}

/// <summary>
/// Builds a <see cref="TrainingJobSpec"/> from a spec file (JSON or YAML, snake_case keys like the API) and
/// flags; a flag overrides the file's value, and <c>-p</c>/<c>-e</c> entries are merged over the file's maps.
/// </summary>
public static partial class SpecBuilder
{
    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex EnvName();

    [GeneratedRegex(@"^(?:(?<d>\d+)d)?(?:(?<h>\d+)h)?(?:(?<m>\d+)m)?(?:(?<s>\d+)s?)?$")]
    private static partial Regex DurationPattern();

    /// <exception cref="UsageException">A flag or the file is invalid, or no name is given.</exception>
    public static TrainingJobSpec Build(SubmitArguments args, string workingDirectory)
    {
        var spec = new TrainingJobSpec();
        string? specDirectory = null;
        if (!string.IsNullOrEmpty(args.File))
        {
            var path = Path.GetFullPath(args.File, workingDirectory);
            spec = LoadFile(path);
            specDirectory = Path.GetDirectoryName(path);
        }

        var compute = spec.Compute ?? new ComputeSpec();
        compute = compute with
        {
            CpuCores = args.Cpu ?? compute.CpuCores,
            MemoryGb = args.Memory ?? compute.MemoryGb,
            GpuCount = args.Gpus ?? compute.GpuCount,
            GpuType = args.GpuType ?? compute.GpuType,
        };
        if (compute.Type is null && (compute.GpuCount > 0 || compute.GpuType is not null))
        {
            compute = compute with { Type = ComputeTypes.Gpu };
        }

        var hyperparameters = spec.Hyperparameters is null ? null : new Dictionary<string, JsonElement>(spec.Hyperparameters);
        foreach (var entry in args.Hyperparameters)
        {
            var (key, value) = SplitPair(entry, "--hyperparameter");
            (hyperparameters ??= [])[key] = ParseHyperparameter(value);
        }

        var env = spec.EnvVars is null ? null : new Dictionary<string, string>(spec.EnvVars);
        foreach (var entry in args.Env)
        {
            var (key, value) = SplitPair(entry, "--env");
            if (!EnvName().IsMatch(key))
            {
                throw new UsageException($"--env \"{entry}\": \"{key}\" is not an environment variable name (letters, digits and _, not starting with a digit)");
            }

            (env ??= [])[key] = value;
        }

        var dataPath = args.Data is not null
            ? AbsoluteIfLocal(args.Data, workingDirectory)
            : spec.DataPath is not null && specDirectory is not null ? AbsoluteIfLocal(spec.DataPath, specDirectory, workingDirectory) : spec.DataPath;

        spec = spec with
        {
            Name = args.Name ?? spec.Name,
            Entrypoint = args.Entrypoint ?? spec.Entrypoint,
            DockerImage = args.Image ?? spec.DockerImage,
            DataPath = dataPath,
            ModelOutputPath = args.OutputPath ?? spec.ModelOutputPath,
            Compute = compute == new ComputeSpec() ? null : compute,
            Priority = args.Priority ?? spec.Priority,
            TimeoutSeconds = args.Timeout is null ? spec.TimeoutSeconds : ParseDurationSeconds(args.Timeout, "--timeout"),
            Retry = args.MaxAttempts is null ? spec.Retry : (spec.Retry ?? new RetrySpec()) with { MaxAttempts = args.MaxAttempts },
            Distributed = args.Workers is null ? spec.Distributed : (spec.Distributed ?? new DistributedSpec()) with { NumWorkers = args.Workers },
            Hyperparameters = hyperparameters,
            EnvVars = env,
            Model = args.Model ?? spec.Model,
            Label = args.Label ?? spec.Label,
            Task = args.Task ?? spec.Task,
            OnQuotaExceeded = args.OnQuotaExceeded ?? spec.OnQuotaExceeded,
        };

        if (string.IsNullOrWhiteSpace(spec.Name))
        {
            throw new UsageException("a job needs a name: pass --name, or set name in the spec file");
        }

        return spec;
    }

    /// <summary>Reads a spec file: <c>.json</c> as JSON, <c>.yaml</c>/<c>.yml</c> as YAML, else by its first character.</summary>
    /// <exception cref="UsageException">The file is missing, unreadable or not a valid spec.</exception>
    public static TrainingJobSpec LoadFile(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"cannot read the spec file {path}: {e.Message}", e);
        }

        var extension = Path.GetExtension(path).ToLowerInvariant();
        var isJson = extension == ".json" || (extension is not ".yaml" and not ".yml" && text.TrimStart().StartsWith('{'));
        try
        {
            var where = new Dictionary<string, string>(StringComparer.Ordinal);
            var node = isJson ? JsonNode.Parse(text) : YamlToJson(text, where);
            if (node is null) throw new UsageException($"the spec file {path} is empty");
            // Every error at once, where it is, in the API's names.
            if (SpecFileErrors.Find(node, where) is { Count: > 0 } errors)
            {
                throw new UsageException($"the spec file {path} is not a valid job spec:\n  {string.Join("\n  ", errors)}");
            }
            return node.Deserialize<TrainingJobSpec>(StrataJson.Options) ?? throw new UsageException($"the spec file {path} is empty");
        }
        catch (JsonException e)
        {
            // Broken JSON (YAML's errors are its own): where, as the reader says it.
            throw new UsageException($"the spec file {path} is not valid JSON{(e.LineNumber is { } line ? $" (line {line + 1})" : "")}: {e.Message.Split(". Path:")[0].Split(" LineNumber:")[0]}", e);
        }
        catch (YamlException e)
        {
            throw new UsageException($"the spec file {path} is not valid YAML: {e.Message}", e);
        }
    }

    /// <summary>
    /// Converts YAML to JSON so that a YAML spec is read by the same rules as a JSON one (snake_case keys,
    /// unknown keys refused). Plain scalars that look like numbers, booleans or null become those; quoted ones stay strings.
    /// </summary>
    public static JsonNode? YamlToJson(string yaml) => YamlToJson(yaml, new Dictionary<string, string>(StringComparer.Ordinal));

    /// <param name="where">Filled with where each field is in the file (<c>line 4, column 3</c>), by its path.</param>
    private static JsonNode? YamlToJson(string yaml, Dictionary<string, string> where)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return stream.Documents.Count == 0 ? null : Convert(stream.Documents[0].RootNode, "", where);
    }

    private static JsonNode? Convert(YamlNode node, string path, Dictionary<string, string> where)
    {
        where.TryAdd(path, $"line {node.Start.Line}, column {node.Start.Column}");
        switch (node)
        {
            case YamlMappingNode mapping:
                var obj = new JsonObject();
                foreach (var (key, value) in mapping.Children)
                {
                    var name = key is YamlScalarNode scalarKey ? scalarKey.Value ?? "" : throw new UsageException($"a key at {key.Start} is not a plain name");
                    var fieldPath = path.Length == 0 ? name : $"{path}.{name}";
                    // A field is where its key is.
                    where[fieldPath] = $"line {key.Start.Line}, column {key.Start.Column}";
                    obj[name] = Convert(value, fieldPath, where);
                }

                return obj;
            case YamlSequenceNode sequence:
                var array = new JsonArray();
                foreach (var item in sequence.Children)
                {
                    array.Add(Convert(item, $"{path}[{array.Count}]", where));
                }

                return array;
            case YamlScalarNode scalar:
                var text = scalar.Value ?? "";
                if (scalar.Style is ScalarStyle.Plain)
                {
                    if (text is "" or "~" or "null" or "Null" or "NULL")
                    {
                        return null;
                    }

                    if (text is "true" or "True" or "TRUE")
                    {
                        return JsonValue.Create(true);
                    }

                    if (text is "false" or "False" or "FALSE")
                    {
                        return JsonValue.Create(false);
                    }

                    if (TryJsonNumber(text, out var number))
                    {
                        return JsonNode.Parse(number.GetRawText());
                    }
                }

                return JsonValue.Create(text);
            default:
                throw new UsageException($"unsupported YAML at {node.Start}");
        }
    }

    /// <summary>A value that is a JSON number or boolean becomes one; anything else is a string.</summary>
    public static JsonElement ParseHyperparameter(string value)
    {
        if (value is "true" or "false" || TryJsonNumber(value, out _))
        {
            using var document = JsonDocument.Parse(value);
            return document.RootElement.Clone();
        }

        return JsonSerializer.SerializeToElement(value);
    }

    private static bool TryJsonNumber(string text, out JsonElement number)
    {
        number = default;
        if (text.Length == 0 || !(char.IsAsciiDigit(text[0]) || text[0] == '-'))
        {
            return false;
        }

        try
        {
            using var document = JsonDocument.Parse(text);
            if (document.RootElement.ValueKind != JsonValueKind.Number)
            {
                return false;
            }

            number = document.RootElement.Clone();
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>Splits <c>key=value</c> at the first '='.</summary>
    /// <exception cref="UsageException">There is no '=' or the key is empty.</exception>
    public static (string Key, string Value) SplitPair(string entry, string flag)
    {
        var eq = entry.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0 || string.IsNullOrWhiteSpace(entry[..eq]))
        {
            throw new UsageException($"{flag} \"{entry}\": expected KEY=VALUE");
        }

        return (entry[..eq].Trim(), entry[(eq + 1)..]);
    }

    /// <summary>Seconds from <c>3600</c>, <c>90s</c>, <c>30m</c>, <c>2h</c>, <c>1d</c> or <c>1h30m</c>.</summary>
    /// <exception cref="UsageException">The text is not such a duration, or it is zero.</exception>
    public static int ParseDurationSeconds(string text, string flag)
    {
        var match = DurationPattern().Match(text.Trim());
        if (!match.Success || text.Trim().Length == 0)
        {
            throw new UsageException($"{flag} \"{text}\": expected a duration such as 3600, 90s, 30m, 2h or 1h30m");
        }

        static long Part(Match m, string name, long unit) =>
            m.Groups[name].Success ? long.Parse(m.Groups[name].Value, CultureInfo.InvariantCulture) * unit : 0;

        long seconds;
        try
        {
            seconds = checked(Part(match, "d", 86400) + Part(match, "h", 3600) + Part(match, "m", 60) + Part(match, "s", 1));
        }
        catch (Exception e) when (e is OverflowException or FormatException)
        {
            throw new UsageException($"{flag} \"{text}\" is too long", e);
        }

        if (seconds is <= 0 or > int.MaxValue)
        {
            throw new UsageException($"{flag} \"{text}\" must be between 1 second and {int.MaxValue} seconds");
        }

        return (int)seconds;
    }

    /// <summary>A path that exists locally (tried against each base folder in turn) becomes absolute; anything else is sent as written.</summary>
    public static string AbsoluteIfLocal(string path, params string[] baseDirectories)
    {
        if (path.Contains("://", StringComparison.Ordinal) || path.Length == 0)
        {
            return path;
        }

        foreach (var directory in baseDirectories)
        {
            var full = Path.GetFullPath(path, directory);
            if (File.Exists(full) || Directory.Exists(full))
            {
                return full;
            }
        }

        return path;
    }
}
