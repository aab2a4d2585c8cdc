using System.Net;
using System.Text;

namespace Strata.Cli.Tests.Support;

/// <summary>An HttpMessageHandler that answers from a function and records the requests it saw.</summary>
public sealed class StubHandler : HttpMessageHandler
{
    private readonly Func<HttpRequestMessage, HttpResponseMessage> _respond;

    public StubHandler(Func<HttpRequestMessage, HttpResponseMessage> respond) => _respond = respond;

    public List<HttpRequestMessage> Requests { get; } = [];

    public static HttpResponseMessage Json(HttpStatusCode status, string json, string mediaType = "application/json") =>
        new(status) { Content = new StringContent(json, Encoding.UTF8, mediaType) };

    public static HttpResponseMessage Problem(HttpStatusCode status, string json) => Json(status, json, "application/problem+json");

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Requests.Add(request);
        return Task.FromResult(_respond(request));
    }
}

/// <summary>A client factory for commands that must not reach a server.</summary>
public sealed class NoServerFactory : Strata.Cli.IStrataClientFactory
{
    public int Calls { get; private set; }

    public Strata.Client.StrataClient Create(Connection connection)
    {
        Calls++;
        throw new InvalidOperationException("this test must not contact a server");
    }
}

/// <summary>A client factory over a fixed handler; it records the connections asked for.</summary>
public sealed class HandlerFactory : Strata.Cli.IStrataClientFactory
{
    private readonly HttpMessageHandler _handler;

    public HandlerFactory(HttpMessageHandler handler) => _handler = handler;

    public List<Connection> Connections { get; } = [];

    public Strata.Client.StrataClient Create(Connection connection)
    {
        Connections.Add(connection);
        return new Strata.Client.StrataClient(connection.Url, connection.Token, _handler);
    }
}
