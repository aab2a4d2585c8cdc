// Train a model on a CSV, deploy it and predict, with the .NET SDK (Strata.Client).
//
//   STRATA_URL=http://localhost:8080 STRATA_TOKEN=$(cat member-token) \
//     dotnet run --project examples/dotnet -- examples/churn/churn.csv
//
// The token is a tenant member's (strata tokens create <tenant> --role member).
using System.Text.Json;
using Strata.Client;
using Strata.Contracts;

var url = Environment.GetEnvironmentVariable("STRATA_URL") ?? "http://localhost:8080";
var token = Environment.GetEnvironmentVariable("STRATA_TOKEN");
if (string.IsNullOrEmpty(token))
{
    Console.Error.WriteLine("error: set STRATA_TOKEN to a tenant member's token (strata tokens create <tenant> --role member)");
    return 2;
}
var csv = args.Length > 0 ? args[0] : Path.Combine("examples", "churn", "churn.csv");

// One client for the whole program: it keeps its connections, and retries what is safe to retry.
using var client = new StrataClient(new Uri(url), token);

// 1. Upload the training data: the job names it by its artifact:// URI, so the server needs no shared disk.
var data = await client.Artifacts.UploadFileAsync(csv);
Console.WriteLine($"uploaded {data.Name} ({data.SizeBytes} bytes) as {data.Uri}");

// 2. Train with a built-in trainer (no code): LightGBM on the CSV, predicting the `churned` column.
var job = await client.Jobs.SubmitAsync(new TrainingJobSpec
{
    Name = "churn-dotnet",
    Model = "lightgbm",
    DataPath = data.Uri,
    Label = "churned",
    Hyperparameters = new() { ["num_iterations"] = JsonSerializer.SerializeToElement(20) },
});
Console.WriteLine($"submitted job {job.Id}");

// 3. Wait for it to end; a failed job says why in its error message.
var finished = await job.WaitAsync();
if (finished.Status != JobStatus.Succeeded)
{
    Console.Error.WriteLine($"error: job {job.Id} ended {finished.Status}: {finished.ErrorMessage}");
    return 1;
}
var model = finished.Output!.ModelVersion!;   // "churn-dotnet@1": the version the job registered
Console.WriteLine($"registered {model}");

// 4. Deploy that version and wait until its replica is ready.
var deployment = await client.Deployments.CreateAsync(new CreateDeploymentRequest
{
    Name = "churn-dotnet",
    Model = model,
    MinReplicas = 1,
    MaxReplicas = 2,
});
deployment = await client.Deployments.WaitUntilReadyAsync(deployment);
Console.WriteLine($"deployment {deployment.Name} is {deployment.Status} at version {deployment.ModelVersion}");

// 5. Predict: one row of the CSV's columns, without the label.
var row = JsonSerializer.SerializeToElement(new Dictionary<string, object>
{
    ["tenure_months"] = 3,
    ["plan"] = "basic",
    ["contract"] = "month-to-month",
    ["monthly_charges"] = 70.5,
    ["total_charges"] = 211.5,
    ["support_calls"] = 4,
    ["region"] = "west",
    ["paperless_billing"] = "yes",
});
var prediction = await client.Deployments.PredictAsync(deployment.Name, row);
Console.WriteLine($"prediction (version {prediction.ModelVersion}): {prediction.Body.GetProperty("prediction")}");
return 0;
