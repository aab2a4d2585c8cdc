using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Strata.Server.Tests.Support;

/// <summary>
/// An S3 server for tests, in process on a loopback port: PutObject, GetObject, DeleteObject and
/// ListObjectsV2 on path-style URLs, speaking S3's REST protocol (XML errors and listings). It checks
/// what a real S3 checks of each request that it can without the secret's derivation: a SigV4
/// Authorization header naming the expected access key, and that the body matches its signed
/// <c>x-amz-content-sha256</c>. No S3-compatible server is installable from Debian's packages here.
/// </summary>
public sealed class FakeS3 : IAsyncDisposable
{
    private readonly WebApplication _app;

    public ConcurrentDictionary<string, byte[]> Objects { get; } = new(StringComparer.Ordinal);
    public ConcurrentQueue<string> Requests { get; } = new();
    public string Bucket { get; }
    public string AccessKey { get; } = "AKIATESTSTRATA";
    public string Url { get; private set; } = "";

    private FakeS3(string bucket)
    {
        Bucket = bucket;
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.Run(HandleAsync);
    }

    public static async Task<FakeS3> StartAsync(string bucket = "strata-test")
    {
        var s3 = new FakeS3(bucket);
        await s3._app.StartAsync();
        s3.Url = s3._app.Urls.First();
        return s3;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        Requests.Enqueue($"{request.Method} {request.Path}{request.QueryString}");
        var authorization = request.Headers.Authorization.ToString();
        if (!authorization.StartsWith($"AWS4-HMAC-SHA256 Credential={AccessKey}/", StringComparison.Ordinal))
        {
            await ErrorAsync(context, 403, "AccessDenied", "Missing or foreign SigV4 credentials.");
            return;
        }
        var path = request.Path.Value!.TrimStart('/');
        var slash = path.IndexOf('/', StringComparison.Ordinal);
        var bucket = slash < 0 ? path : path[..slash];
        var key = slash < 0 ? "" : Uri.UnescapeDataString(path[(slash + 1)..]);
        if (bucket != Bucket)
        {
            await ErrorAsync(context, 404, "NoSuchBucket", "The specified bucket does not exist.");
            return;
        }
        switch (request.Method)
        {
            case "PUT" when key.Length > 0:
                using (var body = new MemoryStream())
                {
                    await request.Body.CopyToAsync(body);
                    var bytes = body.ToArray();
                    var signed = request.Headers["x-amz-content-sha256"].ToString();
                    if (signed != Convert.ToHexStringLower(SHA256.HashData(bytes)))
                    {
                        await ErrorAsync(context, 400, "XAmzContentSHA256Mismatch", $"The body does not match its signed hash ({signed}).");
                        return;
                    }
                    Objects[key] = bytes;
                    context.Response.Headers.ETag = $"\"{Convert.ToHexStringLower(SHA256.HashData(bytes))[..32]}\"";
                }
                return;
            case "GET" when key.Length > 0:
                if (!Objects.TryGetValue(key, out var content))
                {
                    await ErrorAsync(context, 404, "NoSuchKey", "The specified key does not exist.");
                    return;
                }
                context.Response.ContentType = "application/octet-stream";
                context.Response.ContentLength = content.Length;
                await context.Response.Body.WriteAsync(content);
                return;
            case "DELETE" when key.Length > 0:
                Objects.TryRemove(key, out _);
                context.Response.StatusCode = 204;
                return;
            case "GET" when request.Query["list-type"] == "2":
                var prefix = request.Query["prefix"].ToString();
                var xml = new StringBuilder("<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
                var keys = Objects.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
                xml.Append($"<Name>{Bucket}</Name><Prefix>{SecurityElement.Escape(prefix)}</Prefix><KeyCount>{keys.Count}</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>");
                foreach (var k in keys)
                {
                    xml.Append($"<Contents><Key>{SecurityElement.Escape(k)}</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>\"x\"</ETag><Size>{Objects[k].Length}</Size><StorageClass>STANDARD</StorageClass></Contents>");
                }
                xml.Append("</ListBucketResult>");
                context.Response.ContentType = "application/xml";
                await context.Response.WriteAsync(xml.ToString());
                return;
            default:
                await ErrorAsync(context, 501, "NotImplemented", $"{request.Method} is not implemented by the test server.");
                return;
        }
    }

    private static async Task ErrorAsync(HttpContext context, int status, string code, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/xml";
        await context.Response.WriteAsync($"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{SecurityElement.Escape(message)}</Message><RequestId>test</RequestId></Error>");
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
