using System.Collections.Concurrent;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Strata.Server.Tests.Process;

namespace Strata.Server.Tests.Observability;

/// <summary>
/// With <c>Observability:OtlpEndpoint</c> set, the built server sends traces by OTLP/HTTP: spans of API
/// requests and of scheduler cycles reach a receiver that speaks the protocol's HTTP transport
/// (<c>POST /v1/traces</c>, protobuf bodies, 200 in reply).
/// </summary>
[Collection(ServerProcessCollection.Name)]
public sealed class TraceExportTests
{
    [Fact]
    public async Task Request_and_scheduler_cycle_spans_are_exported_by_otlp()
    {
        var bodies = new ConcurrentQueue<byte[]>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var receiver = builder.Build();
        receiver.MapPost("/v1/{signal}", async (string signal, HttpRequest request) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body);
            if (signal == "traces") bodies.Enqueue(body.ToArray());
            return Results.Ok();
        });
        await receiver.StartAsync();
        var address = receiver.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

        using var server = new ServerProcess(new Dictionary<string, string>
        {
            ["Observability__OtlpEndpoint"] = address,
            ["Observability__OtlpProtocol"] = "HttpProtobuf",
        });
        await server.StartAsync();
        using var api = await server.CreateTenantAsync("team-traces");
        var job = await api.SubmitAsync("""{"name":"traced","entrypoint":"true","compute":{"cpu_cores":1,"memory_gb":1}}""");
        await api.WaitForStatusAsync(job.GetProperty("id").GetString()!, "succeeded");

        // Protobuf keeps strings as UTF-8 bytes: the span names can be found in the raw bodies.
        string Exported() => string.Join('\n', bodies.Select(b => Encoding.UTF8.GetString(b)));
        await Wait.UntilAsync(() => Task.FromResult(Exported().Contains("scheduler.cycle", StringComparison.Ordinal)
            && Exported().Contains("/v1/jobs/training", StringComparison.Ordinal)),
            "spans of a scheduler cycle and of the submission at the OTLP receiver", server);
        Assert.Contains("strata-server", Exported(), StringComparison.Ordinal);
    }
}
