using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Channels;
using Strata.Core.Runtime.Local;

namespace Strata.Server.Deployments;

/// <summary>
/// The server's side of local replicas' sockets (<see cref="ReplicaFrames"/>): one connection per replica, opened
/// at its first prediction and again after it broke, carrying every prediction in flight to that replica. A
/// prediction that was sent on a connection that broke before its answer came fails as not reached
/// (<see cref="HttpRequestException"/>, as a refused connection does), and the router tries another replica.
/// </summary>
public sealed class ReplicaSockets(TimeSpan timeout) : IDisposable
{
    private readonly ConcurrentDictionary<string, Connection> _connections = new(StringComparer.Ordinal);

    /// <summary>Sends a prediction's body to the replica <paramref name="replicaId"/> listening on <paramref name="socket"/>.</summary>
    public Task<ReplicaAnswer> SendAsync(string replicaId, string socket, ReadOnlyMemory<byte> body, CancellationToken cancellationToken) =>
        _connections.GetOrAdd(replicaId, static (_, state) => new Connection(state.socket, state.timeout), (socket, timeout)).SendAsync(body, cancellationToken);

    /// <summary>Closes the connection to a replica that is gone.</summary>
    public void Forget(string replicaId)
    {
        if (_connections.TryRemove(replicaId, out var connection)) connection.Dispose();
    }

    public void Dispose()
    {
        foreach (var replicaId in _connections.Keys) Forget(replicaId);
    }

    /// <summary>A replica's connection: the open session, or the next one opened when it broke.</summary>
    private sealed class Connection(string socket, TimeSpan timeout) : IDisposable
    {
        private readonly Lock _gate = new();
        private Task<Session>? _session;
        private bool _disposed;

        public async Task<ReplicaAnswer> SendAsync(ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
        {
            var session = await CurrentAsync();
            return await session.SendAsync(body, cancellationToken);
        }

        private Task<Session> CurrentAsync()
        {
            var session = Volatile.Read(ref _session);
            if (session is { IsCompletedSuccessfully: true } && !session.Result.IsClosed) return session;
            lock (_gate)
            {
                if (_disposed) throw new HttpRequestException($"The replica on {socket} is gone.");
                // One connect at a time; one that failed (the replica is gone, or not listening yet) is tried again by the next prediction.
                if (_session is null || _session.IsFaulted || _session is { IsCompletedSuccessfully: true } && _session.Result.IsClosed)
                {
                    _session = Session.OpenAsync(socket, timeout);
                }
                return _session;
            }
        }

        public void Dispose()
        {
            lock (_gate)
            {
                _disposed = true;
                // One still connecting is closed once it has.
                _session?.ContinueWith(static opened => opened.Result.Close("the replica is gone"),
                    CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }
    }

    /// <summary>One open connection: a loop that writes the queued requests (those queued together in one write), one that reads the answers.</summary>
    private sealed class Session : IDisposable
    {
        private readonly Socket _socket;
        private readonly PipeReader _input;
        private readonly PipeWriter _output;
        private readonly Channel<Pending> _outgoing = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
        private readonly ConcurrentDictionary<int, Pending> _pending = new();
        private readonly TimeSpan _timeout;
        private readonly Timer _expiry;
        private readonly string _path;
        private int _nextId;
        private int _closed;

        private Session(Socket socket, string path, TimeSpan timeout)
        {
            _socket = socket;
            _path = path;
            _timeout = timeout;
            var stream = new NetworkStream(socket, ownsSocket: true);
            _input = PipeReader.Create(stream);
            _output = PipeWriter.Create(stream);
            // A replica that never answers (a model stuck on an input) fails its requests after the timeout, as HttpClient did.
            var period = timeout < TimeSpan.FromSeconds(10) ? timeout : TimeSpan.FromSeconds(10);
            _expiry = new Timer(_ => Expire(), null, period, period);
            _ = WriteAsync();
            _ = ReadAsync();
        }

        public bool IsClosed => Volatile.Read(ref _closed) != 0;

        public static async Task<Session> OpenAsync(string path, TimeSpan timeout)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(path));
            }
            catch (SocketException e)
            {
                socket.Dispose();
                throw new HttpRequestException($"The replica's socket {path} could not be reached: {e.Message}", e);
            }
            return new Session(socket, path, timeout);
        }

        public async Task<ReplicaAnswer> SendAsync(ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
        {
            var pending = new Pending(Interlocked.Increment(ref _nextId), body, Stopwatch.GetTimestamp());
            _pending[pending.Id] = pending;
            // Close sets the flag, then fails what it finds: a request added meanwhile is failed here or there, never left waiting.
            if (IsClosed || !_outgoing.Writer.TryWrite(pending))
            {
                if (_pending.TryRemove(pending.Id, out _)) throw NotReached();
            }
            using var registration = cancellationToken.UnsafeRegister(static (state, token) =>
            {
                var (session, request) = ((Session, Pending))state!;
                if (session._pending.TryRemove(request.Id, out _)) request.TrySetCanceled(token);
            }, (this, pending));
            return await pending.Task;
        }

        private async Task WriteAsync()
        {
            try
            {
                var requests = _outgoing.Reader;
                while (await requests.WaitToReadAsync())
                {
                    while (requests.TryRead(out var pending))
                    {
                        // One cancelled while it waited here is not sent.
                        if (!pending.Task.IsCompleted) ReplicaFrames.WriteRequest(_output, pending.Id, pending.Body.Span);
                    }
                    if ((await _output.FlushAsync()).IsCompleted) break;
                }
            }
            catch (Exception)
            {
                // Whatever ended the loop (most often the connection broke), the connection is unusable: Close fails what is in flight.
            }
            Close("the connection to the replica broke");
        }

        private async Task ReadAsync()
        {
            try
            {
                while (true)
                {
                    var read = await _input.ReadAsync();
                    var buffer = read.Buffer;
                    while (ReplicaFrames.TryRead(ref buffer, out var frame))
                    {
                        // A request that was cancelled or expired is no longer there: its answer is dropped.
                        if (_pending.TryRemove(frame.Id, out var pending)) pending.TrySetResult(new ReplicaAnswer(frame.Code, frame.ContentType, frame.Body.ToArray()));
                    }
                    _input.AdvanceTo(buffer.Start, buffer.End);
                    if (read.IsCompleted) break;
                }
            }
            catch (Exception)
            {
                // The connection broke, or the replica wrote what is not a frame: the connection is unusable, and Close fails what is in flight.
            }
            Close("the replica closed the connection");
        }

        private void Expire()
        {
            var oldest = Stopwatch.GetTimestamp() - (long)(_timeout.TotalSeconds * Stopwatch.Frequency);
            foreach (var (id, pending) in _pending)
            {
                if (pending.Sent < oldest && _pending.TryRemove(id, out _))
                {
                    pending.TrySetException(new TimeoutException($"The replica on {_path} did not answer within {_timeout.TotalSeconds:0} s."));
                }
            }
        }

        public void Close(string why)
        {
            if (Interlocked.Exchange(ref _closed, 1) != 0) return;
            _outgoing.Writer.TryComplete();
            _expiry.Dispose();
            _socket.Dispose();
            foreach (var id in _pending.Keys)
            {
                if (_pending.TryRemove(id, out var pending)) pending.TrySetException(NotReached(why));
            }
        }

        public void Dispose() => Close("the connection was closed");

        private HttpRequestException NotReached(string why = "the connection to the replica is closed") => new($"The replica on {_path} could not answer: {why}.");
    }

    private sealed class Pending(int id, ReadOnlyMemory<byte> body, long sent) : TaskCompletionSource<ReplicaAnswer>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public int Id { get; } = id;
        public ReadOnlyMemory<byte> Body { get; } = body;
        public long Sent { get; } = sent;
    }
}
