using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Strata.Core.Runtime.Local;

/// <summary>
/// What the server and a local replica say to each other over the replica's socket (<see cref="ReplicaSocket"/>):
/// length-prefixed frames, many requests in flight on one connection, each answer naming the request it
/// answers. HTTP/1.1 there cost the server a system call each way per prediction and the parsing of a
/// request and an answer (issue 21's profile); frames written while the peer is busy go out together in one
/// write, and are read together in one read.
/// <para>
/// A frame is, little-endian: its length after these four bytes (int32), the request's id (int32), a code
/// (uint16: 0 in a request, the HTTP status in an answer), the length of a content type (uint16: 0 in a
/// request), the content type (ASCII), then the body: a prediction request's JSON body as the caller sent
/// it, or the replica's answer to it, exactly what its <c>POST /predict</c> answers.
/// </para>
/// </summary>
public static class ReplicaFrames
{
    private const int HeaderBytes = 4 + 4 + 2 + 2;

    /// <summary>The largest frame either side accepts: a prediction request is at most 16 MiB, and its answer is of the same order.</summary>
    public const int MaxFrameBytes = 64 * 1024 * 1024;

    /// <summary>One frame read: its body is a slice of the buffer it was read from, valid until that buffer is released.</summary>
    public readonly record struct Frame(int Id, int Code, string? ContentType, ReadOnlySequence<byte> Body);

    /// <summary>Whether an answer of that content type and body fits in a frame.</summary>
    public static bool Fits(string contentType, int bodyBytes) => HeaderBytes - 4L + contentType.Length + bodyBytes <= MaxFrameBytes;

    /// <summary>Writes a request for <paramref name="body"/>.</summary>
    public static void WriteRequest(IBufferWriter<byte> output, int id, ReadOnlySpan<byte> body) => Write(output, id, 0, [], body);

    /// <summary>Writes the answer to request <paramref name="id"/>.</summary>
    public static void WriteAnswer(IBufferWriter<byte> output, int id, int status, string contentType, ReadOnlySpan<byte> body)
    {
        Span<byte> type = stackalloc byte[Encoding.ASCII.GetByteCount(contentType)];
        Encoding.ASCII.GetBytes(contentType, type);
        Write(output, id, status, type, body);
    }

    private static void Write(IBufferWriter<byte> output, int id, int code, ReadOnlySpan<byte> contentType, ReadOnlySpan<byte> body)
    {
        var length = HeaderBytes - 4 + contentType.Length + body.Length;
        if (length > MaxFrameBytes) throw new InvalidOperationException($"A frame of {length} bytes is over the limit of {MaxFrameBytes}.");
        var header = output.GetSpan(HeaderBytes);
        BinaryPrimitives.WriteInt32LittleEndian(header, length);
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], id);
        BinaryPrimitives.WriteUInt16LittleEndian(header[8..], checked((ushort)code));
        BinaryPrimitives.WriteUInt16LittleEndian(header[10..], checked((ushort)contentType.Length));
        output.Advance(HeaderBytes);
        output.Write(contentType);
        output.Write(body);
    }

    private static readonly string[] KnownTypes = ["application/json", "application/problem+json"];
    private static readonly byte[][] KnownTypeBytes = [.. KnownTypes.Select(Encoding.ASCII.GetBytes)];

    /// <summary>The content type of a frame; a replica's usual ones without a new string each time.</summary>
    private static string ContentType(ReadOnlySequence<byte> bytes)
    {
        if (bytes.Length > 64) return Encoding.ASCII.GetString(bytes);
        Span<byte> type = stackalloc byte[(int)bytes.Length];
        bytes.CopyTo(type);
        for (var i = 0; i < KnownTypes.Length; i++)
        {
            if (type.SequenceEqual(KnownTypeBytes[i])) return KnownTypes[i];
        }
        return Encoding.ASCII.GetString(type);
    }

    /// <summary>
    /// Reads the first whole frame of <paramref name="buffer"/> and moves it past that frame; false when the
    /// buffer does not hold a whole one yet. A frame over <see cref="MaxFrameBytes"/> or that contradicts its
    /// own length is an <see cref="InvalidDataException"/>: the connection is not to be read further.
    /// </summary>
    public static bool TryRead(ref ReadOnlySequence<byte> buffer, out Frame frame)
    {
        frame = default;
        if (buffer.Length < HeaderBytes) return false;
        Span<byte> header = stackalloc byte[HeaderBytes];
        buffer.Slice(0, HeaderBytes).CopyTo(header);
        var length = BinaryPrimitives.ReadInt32LittleEndian(header);
        var typeLength = BinaryPrimitives.ReadUInt16LittleEndian(header[10..]);
        if (length is < HeaderBytes - 4 or > MaxFrameBytes || typeLength > length - (HeaderBytes - 4))
        {
            throw new InvalidDataException($"A frame says it is {length} bytes long, with a content type of {typeLength}.");
        }
        if (buffer.Length < 4L + length) return false;
        var type = typeLength == 0 ? null : ContentType(buffer.Slice(HeaderBytes, typeLength));
        frame = new Frame(
            BinaryPrimitives.ReadInt32LittleEndian(header[4..]), BinaryPrimitives.ReadUInt16LittleEndian(header[8..]), type,
            buffer.Slice(HeaderBytes + typeLength, length - (HeaderBytes - 4) - typeLength));
        buffer = buffer.Slice(4L + length);
        return true;
    }
}
