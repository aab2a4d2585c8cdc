using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Strata.Contracts;
using Strata.Server.Storage;

namespace Strata.Server.Idempotency;

/// <summary>
/// One request's hold on its <c>Idempotency-Key</c> while it runs. It watches the body as the endpoint reads
/// it, so that the fingerprint is of the bytes as received (however the endpoint reads them), and the
/// endpoint <see cref="Record"/>s its answer in the same store transaction as what it creates.
/// </summary>
public sealed class IdempotencyClaim : IDisposable
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly TimeProvider _time;
    private readonly Func<bool> _hold;
    private readonly Action _release;
    private bool _held;

    internal IdempotencyClaim(string tenantId, string key, HttpRequest request, TimeProvider time, Func<bool> hold, Action release)
    {
        TenantId = tenantId;
        Key = key;
        _time = time;
        _hold = hold;
        _release = release;
        // Method and target first: one key sent to two routes (or with another artifact name) is two requests.
        _hash.AppendData(Encoding.UTF8.GetBytes($"{request.Method} {request.Path}{request.QueryString}\n"));
        Body = new HashingStream(request.Body, _hash);
        request.Body = Body;
    }

    public string TenantId { get; }
    public string Key { get; }

    /// <summary>The request body, hashed as it is read.</summary>
    internal Stream Body { get; }

    /// <summary>The answer <see cref="Record"/> stored; the request's answer once its write has committed.</summary>
    internal IdempotencyKeyRecord? Answer { get; private set; }

    /// <summary>The SHA-256 of the method, the target and the body read so far (all of it, once the endpoint has read it).</summary>
    internal string Fingerprint() => Convert.ToHexStringLower(_hash.GetCurrentHash());

    /// <summary>
    /// Adds the key, with the answer (<paramref name="statusCode"/>, <paramref name="location"/> and
    /// <paramref name="body"/> as JSON), to <paramref name="db"/>: call it in the write that creates the
    /// resource, so that both commit together or neither does. May run again if the write is retried.
    /// </summary>
    public void Record(StrataDbContext db, int statusCode, string? location, object body)
    {
        var now = _time.GetUtcNow();
        var record = new IdempotencyKeyRecord
        {
            TenantId = TenantId,
            Key = Key,
            Fingerprint = Fingerprint(),
            StatusCode = statusCode,
            Location = location,
            ResponseJson = JsonSerializer.Serialize(body, body.GetType(), StrataJson.Options),
            CreatedAt = now,
            ExpiresAtUnixMs = (now + IdempotencyKeys.Lifetime).ToUnixTimeMilliseconds(),
        };
        db.IdempotencyKeys.Add(record);
        Answer = record;
    }

    /// <summary>Marks the key in flight on this server, until disposed; false when another request holds it now.</summary>
    internal bool TryHold() => _held = _hold();

    public void Dispose()
    {
        if (_held) _release();
        _hash.Dispose();
    }

    /// <summary>A read-only view of the body that feeds every byte read into the hash.</summary>
    private sealed class HashingStream(Stream inner, IncrementalHash hash) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var read = inner.Read(buffer);
            hash.AppendData(buffer[..read]);
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken);
            hash.AppendData(buffer.Span[..read]);
            return read;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
