using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Strata.Contracts;
using Strata.Core.Runtime;
using Strata.Server.Attempts;
using Strata.Server.Hosting;
using Strata.Server.Storage;

namespace Strata.Server.Models;

/// <summary>
/// Registers what a built-in trainer wrote (model.zip, schema.json, metrics.json in the job's output
/// folder) as the next version of the model named after the job, when its attempt succeeds.
/// <para>
/// The server does this, not the trainer calling the API from inside the job: it happens exactly once
/// whatever the job's network or token (the registration is keyed by the job, so observing the success
/// again after a crash finds the same version), it is recorded before the job is marked succeeded (a
/// succeeded built-in job always has its version), and the job's token keeps its narrow scope.
/// </para>
/// </summary>
public sealed class TrainerOutputs(Store store, ModelRegistry registry, Artifacts.ArtifactStore artifacts, FileWork fileWork, ILogger<TrainerOutputs> logger) : IAttemptOutputs
{
    /// <summary>Null when the attempt is not the live attempt of a built-in trainer job (nothing to register).</summary>
    public async Task<OutputRegistration?> RegisterAsync(AttemptRef attempt, CancellationToken cancellationToken)
    {
        await using var db = store.CreateContext();
        var job = await db.Jobs.AsNoTracking().FirstOrDefaultAsync(j => j.Id == attempt.JobId, cancellationToken);
        if (job is not { Status: JobStatus.Running } || job.AttemptCount != attempt.Number) return null;
        var spec = job.ReadSpec();
        if (spec.Model is null || spec.ModelOutputPath is null) return null;

        try
        {
            // The job wrote this folder: what it left there is opened as any file a user names (SafeFiles).
            var folder = spec.ModelOutputPath;
            var (report, schema) = await fileWork.RunAsync("reading the trainer's report", _ => Task.FromResult(
                (ReadJson<TrainingReport>(Path.Combine(folder, "metrics.json")), ReadText(Path.Combine(folder, "schema.json")))), cancellationToken);
            JsonDocument.Parse(schema).Dispose();
            await using var file = await fileWork.RunAsync(
                "opening the trainer's model", _ => Task.FromResult(SafeFiles.OpenRegular(Path.Combine(folder, "model.zip"), refuseHardLinks: true)), cancellationToken);
            var lineage = await ModelsApi.LineageAsync(job, artifacts, fileWork, cancellationToken, report.DataSha256);
            if (report.Hyperparameters.Count > 0)
            {
                // What the trainer used, defaults included: the spec names only what the user gave, and two versions
                // trained with different defaults would look alike (docs/models.md, "Lineage").
                lineage = lineage with
                {
                    Hyperparameters = report.Hyperparameters.ToDictionary(h => h.Key, h => JsonSerializer.SerializeToElement(h.Value), StringComparer.Ordinal),
                };
            }
            var version = await registry.RegisterAsync(job.TenantId, job.Name, new NewVersion(
                file, ModelFormats.MlNet, report.Metrics, schema, lineage, ModelRegistry.SourceTrainer,
                $"{report.Model} {report.Task} model of '{report.Label}', trained by job {job.Id}"), cancellationToken);
            return new OutputRegistration($"{version.ModelName}@{version.Version}", null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or ModelFileException or UnsafeFileException or FileWorkTimeoutException)
        {
            logger.LogWarning(e, "The output of built-in trainer job {Job} could not be registered", job.Id);
            return new OutputRegistration(null, $"its model could not be registered: {e.Message}");
        }
    }

    private static T ReadJson<T>(string path) =>
        JsonSerializer.Deserialize<T>(ReadText(path), StrataJson.Options) ?? throw new JsonException($"{path} holds null");

    /// <summary>A small text file the trainer wrote, at most <see cref="ModelsOptions.MaxInputSchemaBytes"/>.</summary>
    private static string ReadText(string path)
    {
        using var file = SafeFiles.OpenRegular(path, refuseHardLinks: true);
        if (file.Length > ModelsOptions.MaxInputSchemaBytes)
        {
            throw new UnsafeFileException($"{path} is {file.Length} bytes; a trainer's report is at most {ModelsOptions.MaxInputSchemaBytes}");
        }
        using var reader = new StreamReader(file);
        return reader.ReadToEnd();
    }
}
