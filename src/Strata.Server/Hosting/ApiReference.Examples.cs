using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Strata.Contracts;

namespace Strata.Server.Hosting;

/// <summary>
/// An example of every body in the document, and the shapes of a prediction, which the route forwards as bytes and
/// so declares no type. The examples of the contracts are real answers, in <c>ApiExamples.json</c> by schema name;
/// a problem's example is made from its status.
/// </summary>
internal static partial class ApiReference
{
    /// <summary>The examples of <c>ApiExamples.json</c>, by schema name (a list's example is a list of one).</summary>
    internal static readonly Lazy<JsonObject> SchemaExamples = new(() =>
    {
        using var stream = typeof(ApiReference).Assembly.GetManifestResourceStream("Strata.Server.Hosting.ApiExamples.json")
            ?? throw new InvalidOperationException("ApiExamples.json is not embedded in the server.");
        return JsonNode.Parse(stream, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip })!.AsObject();
    });

    private const string LogExample =
        "STRATA_METRIC {\"name\":\"auc\",\"value\":0.8260225522695831,\"step\":0}\n" +
        "strata-worker train: wrote /var/lib/strata/artifacts/team-a/jobs/01a25178-095b-730c-a140-c4e34b91dd99/output/model.zip, schema.json and metrics.json\n";

    private static Task AddExamples(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        foreach (var media in operation.RequestBody?.Content?.Values ?? [])
        {
            if (media is OpenApiMediaType body) body.Example ??= ExampleOf(body.Schema);
        }
        foreach (var (status, response) in operation.Responses ?? [])
        {
            foreach (var (type, media) in response.Content ?? new Dictionary<string, OpenApiMediaType>())
            {
                if (media.Example is not null || media.Examples?.Count > 0) continue;
                media.Example = type == "application/problem+json"
                    ? ProblemExample(status, context.Description.RelativePath ?? "")
                    : type == "text/plain" ? JsonValue.Create(LogExample) : ExampleOf(media.Schema);
            }
        }
        return Task.CompletedTask;
    }

    /// <summary>The example of a schema that names a contract, or of a list of them; null for bytes (a file has no example in JSON).</summary>
    private static JsonNode? ExampleOf(IOpenApiSchema? schema) => schema switch
    {
        OpenApiSchemaReference reference => SchemaExamples.Value[reference.Reference.Id!]?.DeepClone(),
        { Type: JsonSchemaType.Array, Items: { } items } => ExampleOf(items) is { } item ? new JsonArray(item) : null,
        _ => null,
    };

    /// <summary>A problem as the server writes it for <paramref name="status"/> on the route <paramref name="path"/>.</summary>
    private static JsonObject ProblemExample(string status, string path)
    {
        var (type, title, detail) = status switch
        {
            "400" => (ProblemTypes.Validation, "Validation failed", "The request has invalid fields: name."),
            "401" => (ProblemTypes.Unauthenticated, "Unauthenticated", "Send a bearer token: Authorization: Bearer <token>."),
            "403" => (ProblemTypes.Forbidden, "Forbidden", "This token's role may not do that."),
            "404" => (ProblemTypes.NotFound, "Not found", NotFoundDetail(path)),
            "409" => (ProblemTypes.IdempotencyKeyInFlight, "Idempotency key in flight",
                "A request with the Idempotency-Key 'c0ffee' is still being processed; retry this one unchanged once it has been answered."),
            "413" => (ProblemTypes.PayloadTooLarge, "Request too large", "The body is 600017 bytes; the limit is 524288."),
            "415" => (ProblemTypes.UnsupportedMediaType, "Unsupported Media Type", "Send the body as application/json."),
            "422" => (ProblemTypes.IdempotencyKeyReused, "Idempotency key reused",
                "The Idempotency-Key 'c0ffee' was used with another request (another body, route or query) in the last 24 hours; " +
                "a retry must repeat the request unchanged, and a new request needs a new key."),
            "429" => (ProblemTypes.RateLimited, "Too many requests",
                "Tenant 'team-a' sent more requests than its limit (200 at once, then 100 every 1 s); retry after 1 s."),
            "500" => (ProblemTypes.Internal, "Prediction failed", "The model failed on this input: a Gather node's index is out of range."),
            "503" => path.EndsWith("/predict", StringComparison.Ordinal)
                ? (ProblemTypes.Unavailable, "No ready replica", "Deployment 'churn' has no ready replica yet (1 desired); retry shortly.")
                : (ProblemTypes.Unavailable, "Unavailable", "Reading the model file took longer than 30 s; retry later."),
            _ => throw new InvalidOperationException($"No example of a {status} problem: add one to ApiReference.ProblemExample."),
        };
        var problem = new JsonObject { ["type"] = type, ["title"] = title, ["status"] = int.Parse(status), ["detail"] = detail };
        if (status == "400") problem["errors"] = new JsonObject { ["name"] = new JsonArray("is required") };
        problem["trace_id"] = "00-98dd402e499eea13f1f0671d55ebf3ff-50a44daff347b3dd-00";
        return problem;
    }

    private static string NotFoundDetail(string path) => path.Split('/') switch
    {
        [_, "jobs", ..] => "Training job '01a25178-095b-730c-a140-c4e34b91dd99' was not found.",
        [_, "artifacts", ..] => "Artifact '01a25178-07cd-7ce9-9258-b745d60d83bf' was not found.",
        [_, "models", ..] => "Model 'churn' was not found.",
        [_, "deployments", ..] => "Deployment 'churn' was not found.",
        [_, "tenants", ..] => "Tenant 'team-a' was not found.",
        _ => "There is no such resource.",
    };

    /// <summary>
    /// A prediction's request and answer (docs/serving.md): the route forwards the bytes to a replica, which reads them
    /// against the model's inputs, so no contract type describes them.
    /// </summary>
    private static Task DescribePrediction(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        if (operation.OperationId != "Predict") return Task.CompletedTask;
        var document = context.Document!;
        document.AddComponent("PredictionRequest", PredictionRequest);
        document.AddComponent("Prediction", Prediction);
        document.AddComponent("PredictionAnswer", PredictionAnswer(document));

        var one = Instances[0]!.DeepClone();
        var batch = new JsonObject { ["instances"] = Instances.DeepClone() };
        operation.RequestBody = new OpenApiRequestBody
        {
            Required = true,
            Description = "One instance, or a batch of up to 10,000 as {\"instances\": [...]}: a field per input of the model (a version's " +
                "`input_schema` lists them), every input present, `null` for a missing value.",
            Content = new Dictionary<string, OpenApiMediaType>
            {
                ["application/json"] = new()
                {
                    Schema = new OpenApiSchemaReference("PredictionRequest", document),
                    Examples = new Dictionary<string, IOpenApiExample>
                    {
                        ["one"] = new OpenApiExample { Summary = "One instance", Value = one },
                        ["batch"] = new OpenApiExample { Summary = "A batch", Value = batch },
                    },
                },
            },
        };
        operation.Responses ??= [];
        operation.Responses["200"] = new OpenApiResponse
        {
            Description = "The predictions: `prediction` for one instance, `predictions` in the order of a batch's instances.",
            Content = new Dictionary<string, OpenApiMediaType>
            {
                ["application/json"] = new()
                {
                    Schema = new OpenApiSchemaReference("PredictionAnswer", document),
                    Examples = new Dictionary<string, IOpenApiExample>
                    {
                        ["one"] = new OpenApiExample { Summary = "One instance", Value = Answer("prediction", Predictions[0]!) },
                        ["batch"] = new OpenApiExample { Summary = "A batch", Value = Answer("predictions", Predictions) },
                    },
                },
            },
        };
        return Task.CompletedTask;
    }

    private static JsonObject Answer(string member, JsonNode predictions) =>
        new() { ["model_name"] = "churn", ["version"] = "1", [member] = predictions.DeepClone() };

    /// <summary>Two rows of examples/churn/instances.json, and what the churn model of the README answers for them.</summary>
    private static readonly JsonArray Instances = JsonNode.Parse("""
        [{"tenure_months": 3, "plan": "basic", "contract": "month-to-month", "monthly_charges": 70.5,
          "total_charges": 211.5, "support_calls": 4, "region": "west", "paperless_billing": "yes"},
         {"tenure_months": 48, "plan": "premium", "contract": "two-year", "monthly_charges": 99.9,
          "total_charges": 4795.2, "support_calls": 0, "region": "north", "paperless_billing": "no"}]
        """)!.AsArray();

    private static readonly JsonArray Predictions = JsonNode.Parse("""
        [{"predicted_label": true, "probability": 0.9217781, "score": 4.93351},
         {"predicted_label": false, "probability": 0.0569524, "score": -5.613802}]
        """)!.AsArray();

    private static readonly OpenApiSchema AnInstance = new()
    {
        Type = JsonSchemaType.Object,
        Description = "One instance: a field per input of the model, named as in its version's `input_schema` (ML.NET) or its inputs (ONNX). " +
            "Numeric inputs take numbers, categorical ones strings, boolean ones true/false; an ONNX input that is not a column takes an array per instance.",
        AdditionalProperties = new OpenApiSchema(),
    };

    private static readonly OpenApiSchema AnInstanceArray = new()
    {
        Type = JsonSchemaType.Array,
        Description = "One instance of an ONNX model whose single input is not a column: that input's array alone (`[5.1, 3.5, 1.4, 0.2]`).",
    };

    private static readonly OpenApiSchema PredictionRequest = new()
    {
        Description = "One instance, or a batch as {\"instances\": [...]} (1 to 10,000): docs/serving.md.",
        AnyOf =
        [
            new OpenApiSchema
            {
                Title = "A batch",
                Type = JsonSchemaType.Object,
                Required = new HashSet<string> { "instances" },
                Properties = new Dictionary<string, IOpenApiSchema>
                {
                    ["instances"] = new OpenApiSchema
                    {
                        Type = JsonSchemaType.Array,
                        MinItems = 1,
                        MaxItems = 10_000,
                        Items = new OpenApiSchema { AnyOf = [AnInstance, AnInstanceArray] },
                    },
                },
            },
            new OpenApiSchema { Title = "One instance", Type = JsonSchemaType.Object, Description = AnInstance.Description, AdditionalProperties = new OpenApiSchema() },
            new OpenApiSchema { Title = "One instance as an array", Type = JsonSchemaType.Array, Description = AnInstanceArray.Description },
        ],
    };

    private static readonly OpenApiSchema Prediction = new()
    {
        Type = JsonSchemaType.Object,
        Description = "What the model predicts for one instance. A binary classifier answers `predicted_label`, `probability` and `score`; " +
            "a multiclass one `predicted_label` and `probabilities`; a regression `value`; an ONNX model that is not a classifier each output by its name.",
        AdditionalProperties = new OpenApiSchema(),
        Properties = new Dictionary<string, IOpenApiSchema>
        {
            ["predicted_label"] = new OpenApiSchema
            {
                Type = JsonSchemaType.Boolean | JsonSchemaType.String | JsonSchemaType.Number,
                Description = "The predicted class, of the training label's type: a boolean when it was boolean, a number when it was numbers (0/1), else the class's name (or an ONNX model's label as it gives it).",
            },
            ["probability"] = new OpenApiSchema { Type = JsonSchemaType.Number, Description = "The probability of the positive class (binary)." },
            ["score"] = new OpenApiSchema { Type = JsonSchemaType.Number, Description = "The model's raw score (binary)." },
            ["probabilities"] = new OpenApiSchema
            {
                Type = JsonSchemaType.Object | JsonSchemaType.Array,
                Description = "The probability of each class, by class name (multiclass), or in the model's class order (an ONNX tensor).",
            },
            ["value"] = new OpenApiSchema { Type = JsonSchemaType.Number, Description = "The predicted value (regression)." },
        },
    };

    private static OpenApiSchema PredictionAnswer(OpenApiDocument document) => new()
    {
        Type = JsonSchemaType.Object,
        Required = new HashSet<string> { "model_name", "version" },
        Properties = new Dictionary<string, IOpenApiSchema>
        {
            ["model_name"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "The model the deployment serves." },
            ["version"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "The version that answered (a canary's, for its share of the predictions)." },
            ["prediction"] = new OpenApiSchemaReference("Prediction", document),
            ["predictions"] = new OpenApiSchema
            {
                Type = JsonSchemaType.Array,
                Description = "A batch's predictions, in the order of its instances.",
                Items = new OpenApiSchemaReference("Prediction", document),
            },
        },
        AdditionalPropertiesAllowed = false,
    };
}
