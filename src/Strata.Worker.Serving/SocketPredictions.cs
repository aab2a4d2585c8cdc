using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Logging;
using Strata.Contracts;
using Strata.Core.Runtime.Local;

namespace Strata.Worker.Serving;

/// <summary>
/// The replica's side of its socket (<see cref="ReplicaFrames"/>): every request frame read is answered on the
/// thread pool, so that a large batch does not hold up the small requests behind it, and the answers go back
/// in the order they are ready, those ready together in one write.
/// </summary>
internal sealed class SocketPredictions(Func<ReadOnlySequence<byte>, long, ModelServer.Reply> answer, ILogger logger)
{
    private readonly record struct Answered(int Id, ModelServer.Reply Reply);

    public async Task OnConnectedAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        var answers = Channel.CreateUnbounded<Answered>(new UnboundedChannelOptions { SingleReader = true });
        var writing = WriteAnswersAsync(connection.Transport.Output, answers.Reader);
        // Asked to close when the replica stops (SIGTERM): no new request is read, those read are answered, then the
        // connection closes, and the server sends what it has not had answered to another replica.
        var closing = connection.Features.Get<IConnectionLifetimeNotificationFeature>()?.ConnectionClosedRequested ?? CancellationToken.None;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(connection.ConnectionClosed, closing);
        var inFlight = new InFlight();
        try
        {
            while (true)
            {
                var read = await input.ReadAsync(stop.Token);
                var buffer = read.Buffer;
                // A copy of each body: the request is answered on another thread while the next frames are read.
                while (ReplicaFrames.TryRead(ref buffer, out var frame)) Dispatch(frame.Id, frame.Body.ToArray());
                input.AdvanceTo(buffer.Start, buffer.End);
                if (read.IsCompleted) break;
            }
        }
        catch (InvalidDataException e)
        {
            // Only the server connects here (the socket is in its own folder): a frame it cannot have written ends the connection.
            logger.LogError("Closing a connection on the replica's socket: {Error}", e.Message);
        }
        catch (Exception e) when (e is OperationCanceledException or ConnectionResetException or IOException)
        {
            // The server closed the connection, or the replica is stopping.
        }
        finally
        {
            await inFlight.DrainedAsync();
            answers.Writer.TryComplete();
            await writing;
        }

        void Dispatch(int id, byte[] body)
        {
            inFlight.Add();
            ThreadPool.UnsafeQueueUserWorkItem(new Request(id, body, Stopwatch.GetTimestamp(), answer, answers.Writer, inFlight), preferLocal: false);
        }
    }

    /// <summary>The requests of a connection being answered: the connection closes once none is left.</summary>
    private sealed class InFlight
    {
        private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
        // One for the reading itself, so that the count reaches 0 only once reading has stopped.
        private int _count = 1;

        public void Add() => Interlocked.Increment(ref _count);

        public void Done()
        {
            if (Interlocked.Decrement(ref _count) == 0) _drained.TrySetResult();
        }

        public Task DrainedAsync()
        {
            Done();
            return _drained.Task;
        }
    }

    private static async Task WriteAnswersAsync(PipeWriter output, ChannelReader<Answered> answers)
    {
        try
        {
            while (await answers.WaitToReadAsync())
            {
                while (answers.TryRead(out var answered))
                {
                    var reply = answered.Reply;
                    if (ReplicaFrames.Fits(reply.ContentType, reply.Body.WrittenCount))
                    {
                        ReplicaFrames.WriteAnswer(output, answered.Id, reply.Status, reply.ContentType, reply.Body.WrittenSpan);
                    }
                    else
                    {
                        // An answer over what a frame holds (a batch of many classes' probabilities) is a 500 naming the way round it.
                        ReplicaFrames.WriteAnswer(output, answered.Id, 500, "application/problem+json", System.Text.Encoding.UTF8.GetBytes(
                            $$"""{"type":"{{ProblemTypes.Internal}}","title":"Answer too large","status":500,"detail":"The answer is over {{ReplicaFrames.MaxFrameBytes}} bytes; send fewer instances per request."}"""));
                    }
                }
                if ((await output.FlushAsync()).IsCompleted) return;
            }
        }
        catch (Exception e) when (e is IOException or ConnectionResetException or OperationCanceledException or InvalidOperationException)
        {
            // The server is gone: nobody waits for these answers.
        }
    }

    private sealed class Request(int id, byte[] body, long started, Func<ReadOnlySequence<byte>, long, ModelServer.Reply> answer, ChannelWriter<Answered> answers, InFlight inFlight)
        : IThreadPoolWorkItem
    {
        public void Execute()
        {
            try
            {
                answers.TryWrite(new Answered(id, answer(new ReadOnlySequence<byte>(body), started)));
            }
            finally
            {
                inFlight.Done();
            }
        }
    }
}
