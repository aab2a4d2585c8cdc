using Strata.Contracts;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Artifacts;

/// <summary>An app that accepts uploads of at most 4 KiB.</summary>
public sealed class SmallUploadsApp : StrataApp
{
    public const int Limit = 4096;

    public SmallUploadsApp() : base(StorageKind.Sqlite, new Dictionary<string, string?> { ["Artifacts:MaxUploadBytes"] = Limit.ToString(System.Globalization.CultureInfo.InvariantCulture) }) { }
}

/// <summary>Uploads over Artifacts:MaxUploadBytes are refused with 413 problem+json, and leave nothing behind.</summary>
public sealed class UploadLimitTests(SmallUploadsApp app) : IClassFixture<SmallUploadsApp>
{
    [Fact]
    public async Task An_upload_announced_larger_than_the_limit_is_refused_before_it_is_read()
    {
        var (_, client) = await app.TenantClientAsync("announced");
        using var _ = client;
        using var content = new ByteArrayContent(new byte[SmallUploadsApp.Limit + 1]);

        using var response = await client.PostAsync("/v1/artifacts?name=big.bin", content);

        var problem = await Http.ExpectProblemAsync(response, 413, ProblemTypes.PayloadTooLarge);
        Assert.Contains($"at most {SmallUploadsApp.Limit} bytes", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        await AssertNothingStoredAsync(client);
    }

    [Fact]
    public async Task A_streamed_upload_without_a_length_is_cut_off_at_the_limit()
    {
        var (_, client) = await app.TenantClientAsync("streamed");
        using var _ = client;
        using var content = new StreamContent(new UnknownLengthStream(SmallUploadsApp.Limit * 4));

        using var response = await client.PostAsync("/v1/artifacts?name=big.bin", content);

        await Http.ExpectProblemAsync(response, 413, ProblemTypes.PayloadTooLarge);
        await AssertNothingStoredAsync(client);
    }

    [Fact]
    public async Task An_upload_of_exactly_the_limit_is_stored()
    {
        var (_, client) = await app.TenantClientAsync("exact");
        using var _ = client;
        var artifact = await ArtifactApiTests<SmallUploadsApp>.UploadAsync(client, new byte[SmallUploadsApp.Limit], "exact.bin");
        Assert.Equal(SmallUploadsApp.Limit, artifact.GetProperty("size_bytes").GetInt64());
    }

    private async Task AssertNothingStoredAsync(HttpClient client)
    {
        using var list = await client.GetAsync("/v1/artifacts");
        Assert.Empty((await Http.ExpectAsync(list, 200)).EnumerateArray());
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(app.DataPath, "uploads")));
    }

    /// <summary>A body whose length is not known in advance (sent chunked).</summary>
    private sealed class UnknownLengthStream(int length) : Stream
    {
        private int _position;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = Math.Min(count, length - _position);
            Array.Fill(buffer, (byte)'x', offset, n);
            _position += n;
            return n;
        }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
