using Microsoft.OpenApi;
using Strata.Server.Retention;

namespace Strata.Server.Idempotency;

public static class IdempotencySetup
{
    public static WebApplicationBuilder AddIdempotency(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<IdempotencyKeys>();
        builder.Services.AddSingleton<IDiskSweep, IdempotencyKeySweep>();
        return builder;
    }

    /// <summary>
    /// Honours the <c>Idempotency-Key</c> header on this route (<see cref="IdempotencyFilter"/>), whose endpoint
    /// must record its answer through <see cref="IdempotencyFilter.ClaimOf"/>; <paramref name="maxBodyBytes"/>
    /// is the route's body limit.
    /// </summary>
    public static RouteHandlerBuilder WithIdempotencyKey(this RouteHandlerBuilder route, Func<HttpContext, long> maxBodyBytes) => route
        .AddEndpointFilterFactory((factory, next) =>
        {
            var filter = new IdempotencyFilter(factory.ApplicationServices.GetRequiredService<IdempotencyKeys>(), maxBodyBytes);
            return invocation => filter.InvokeAsync(invocation, next);
        })
        .AddOpenApiOperationTransformer((operation, _, _) =>
        {
            operation.Parameters ??= [];
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = IdempotencyFilter.HeaderName,
                In = ParameterLocation.Header,
                Description = "Makes a retry safe: the same key with the same request answers the first response again and creates nothing (docs/idempotency.md).",
                Schema = new OpenApiSchema { Type = JsonSchemaType.String, MinLength = 1, MaxLength = IdempotencyFilter.MaxKeyLength },
            });
            return Task.CompletedTask;
        })
        .ProducesProblem(StatusCodes.Status409Conflict)
        .ProducesProblem(StatusCodes.Status422UnprocessableEntity);
}
