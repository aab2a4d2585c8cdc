using System.ComponentModel.DataAnnotations;

namespace Strata.Server.Observability;

/// <summary>Settings of metrics and traces (section <c>Observability</c>). Logs are set under <c>Logging</c>.</summary>
public sealed class ObservabilityOptions
{
    public const string Section = "Observability";

    /// <summary>
    /// Where to send metrics and traces by OTLP (<c>http://collector:4317</c>, say). <c>/metrics</c> is
    /// served either way.
    /// </summary>
    /// <value>The default is none: nothing is exported and no traces are recorded.</value>
    public Uri? OtlpEndpoint { get; set; }

    /// <summary>The OTLP transport: <c>Grpc</c> (port 4317) or <c>HttpProtobuf</c> (port 4318).</summary>
    /// <value>The default is <c>Grpc</c>.</value>
    [EnumDataType(typeof(OtlpTransport))]
    public OtlpTransport OtlpProtocol { get; set; } = OtlpTransport.Grpc;
}

public enum OtlpTransport
{
    Grpc,
    HttpProtobuf,
}
