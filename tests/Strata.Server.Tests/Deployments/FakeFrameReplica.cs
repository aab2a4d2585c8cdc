using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using Strata.Core.Runtime.Local;

namespace Strata.Server.Tests.Deployments;

/// <summary>
/// A replica's socket as the server sees it (<see cref="ReplicaFrames"/>), played by the test: each connection is
/// handed to <c>serve</c>, which reads its request frames and answers them (or not) as the case needs.
/// </summary>
internal sealed class FakeFrameReplica : IAsyncDisposable
{
    private readonly Socket _listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    private readonly Task _accepting;
    private readonly List<Task> _serving = [];
    private readonly List<FakeFrameConnection> _open = [];
    private int _connections;

    public FakeFrameReplica(string path, Func<FakeFrameConnection, Task> serve)
    {
        _listener.Bind(new UnixDomainSocketEndPoint(path));
        _listener.Listen();
        _accepting = AcceptAsync(serve);
    }

    /// <summary>How many connections the server opened.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Answers every request with its own body.</summary>
    public static async Task Echo(FakeFrameConnection connection)
    {
        while (await connection.ReadAsync() is var (id, body)) await connection.AnswerAsync(id, 200, body);
    }

    private async Task AcceptAsync(Func<FakeFrameConnection, Task> serve)
    {
        try
        {
            while (true)
            {
                var socket = await _listener.AcceptAsync();
                var number = Interlocked.Increment(ref _connections);
                var connection = new FakeFrameConnection(socket, number);
                lock (_serving)
                {
                    _open.Add(connection);
                    _serving.Add(Task.Run(() => ServeAsync(connection, serve)));
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Disposed.
        }
    }

    private static async Task ServeAsync(FakeFrameConnection connection, Func<FakeFrameConnection, Task> serve)
    {
        try
        {
            await serve(connection);
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            // The server closed the connection.
        }
        finally
        {
            connection.Close();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Dispose();
        await _accepting;
        Task[] serving;
        lock (_serving)
        {
            // The replica goes away with its connections, whether or not the server closed them.
            foreach (var connection in _open) connection.Close();
            serving = [.. _serving];
        }
        await Task.WhenAll(serving);
    }
}

internal sealed class FakeFrameConnection(Socket socket, int number)
{
    private readonly PipeReader _input = PipeReader.Create(new NetworkStream(socket, ownsSocket: false));
    private readonly SemaphoreSlim _writing = new(1, 1);

    /// <summary>1 for the first connection the server opened, 2 for the next, ...</summary>
    public int Number { get; } = number;

    /// <summary>The next request frame; null when the server closed the connection.</summary>
    public async Task<(int Id, byte[] Body)?> ReadAsync()
    {
        while (true)
        {
            var read = await _input.ReadAsync();
            var buffer = read.Buffer;
            if (ReplicaFrames.TryRead(ref buffer, out var frame))
            {
                var request = (frame.Id, frame.Body.ToArray());
                _input.AdvanceTo(buffer.Start);
                return request;
            }
            _input.AdvanceTo(buffer.Start, buffer.End);
            if (read.IsCompleted) return null;
        }
    }

    public Task AnswerAsync(int id, int status, byte[] body, string contentType = "application/json")
    {
        var frame = new ArrayBufferWriter<byte>();
        ReplicaFrames.WriteAnswer(frame, id, status, contentType, body);
        return WriteAsync(frame.WrittenMemory);
    }

    /// <summary>Bytes as they are, framed or not.</summary>
    public async Task WriteAsync(ReadOnlyMemory<byte> bytes)
    {
        await _writing.WaitAsync();
        try
        {
            await socket.SendAsync(bytes);
        }
        finally
        {
            _writing.Release();
        }
    }

    public void Close() => socket.Dispose();

    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);
}
