using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Strata.Core.Runtime.Local;
using Strata.Server.Deployments;

namespace Strata.Server.Tests.Deployments;

/// <summary>
/// The server's side of local replicas' sockets, against a replica played by the test: answers matched to their
/// requests whatever their order, and every way a replica can fail a request in flight.
/// </summary>
public sealed class ReplicaSocketsTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("strata-replica-sockets-").FullName;

    private string Socket => Path.Combine(_folder, "replica.sock");

    private static byte[] Body(int n) => Encoding.UTF8.GetBytes($"{{\"n\":{n}}}");

    [Fact]
    public async Task Fifty_predictions_at_once_share_one_connection_and_each_gets_its_own_answer_in_whatever_order_they_come()
    {
        const int count = 50;
        await using var replica = new FakeFrameReplica(Socket, async connection =>
        {
            // Every request read before any is answered, then answered last first: an answer's place says nothing.
            var requests = new List<(int Id, byte[] Body)>();
            while (requests.Count < count && await connection.ReadAsync() is { } request) requests.Add(request);
            requests.Reverse();
            foreach (var (id, body) in requests) await connection.AnswerAsync(id, 200, [.. "answer to "u8, .. body]);
            await FakeFrameReplica.Echo(connection);
        });
        using var sockets = new ReplicaSockets(TimeSpan.FromSeconds(100));

        var answers = await Task.WhenAll(Enumerable.Range(0, count).Select(n => Task.Run(() => sockets.SendAsync("r1", Socket, Body(n), CancellationToken.None))));

        for (var n = 0; n < count; n++)
        {
            Assert.Equal(200, answers[n].Status);
            Assert.Equal("application/json", answers[n].ContentType);
            Assert.Equal($"answer to {{\"n\":{n}}}", Encoding.UTF8.GetString(answers[n].Body));
        }
        Assert.Equal(1, replica.Connections);
    }

    [Fact]
    public async Task A_replica_that_closes_the_connection_before_answering_fails_the_request_as_not_reached_and_the_next_one_reconnects()
    {
        await using var replica = new FakeFrameReplica(Socket, async connection =>
        {
            if (connection.Number == 1)
            {
                await connection.ReadAsync();
                return; // closed with the request unanswered, as a replica killed mid-request
            }
            await FakeFrameReplica.Echo(connection);
        });
        using var sockets = new ReplicaSockets(TimeSpan.FromSeconds(100));

        await Assert.ThrowsAsync<HttpRequestException>(() => sockets.SendAsync("r1", Socket, Body(1), CancellationToken.None));
        var answer = await sockets.SendAsync("r1", Socket, Body(2), CancellationToken.None);

        Assert.Equal("{\"n\":2}", Encoding.UTF8.GetString(answer.Body));
        Assert.Equal(2, replica.Connections);
    }

    [Fact]
    public async Task A_replica_that_writes_what_is_not_a_frame_fails_what_is_in_flight_and_is_reconnected()
    {
        await using var replica = new FakeFrameReplica(Socket, async connection =>
        {
            if (connection.Number == 1)
            {
                await connection.ReadAsync();
                // A length over the limit: nothing after it can be read as frames.
                var header = new byte[12];
                BinaryPrimitives.WriteInt32LittleEndian(header, ReplicaFrames.MaxFrameBytes + 1);
                await connection.WriteAsync(header);
                await connection.ReadAsync();
                return;
            }
            await FakeFrameReplica.Echo(connection);
        });
        using var sockets = new ReplicaSockets(TimeSpan.FromSeconds(100));

        await Assert.ThrowsAsync<HttpRequestException>(() => sockets.SendAsync("r1", Socket, Body(1), CancellationToken.None));
        var answer = await sockets.SendAsync("r1", Socket, Body(2), CancellationToken.None);

        Assert.Equal(200, answer.Status);
        Assert.Equal(2, replica.Connections);
    }

    [Fact]
    public async Task A_cancelled_request_ends_at_once_its_late_answer_is_dropped_and_the_connection_serves_on()
    {
        var cancelledArrived = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var answerCancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var replica = new FakeFrameReplica(Socket, async connection =>
        {
            var (first, _) = (await connection.ReadAsync())!.Value;
            cancelledArrived.SetResult(first);
            await answerCancelled.Task;
            await connection.AnswerAsync(first, 200, "late"u8.ToArray());
            await FakeFrameReplica.Echo(connection);
        });
        using var sockets = new ReplicaSockets(TimeSpan.FromSeconds(100));
        using var cancel = new CancellationTokenSource();

        var cancelled = sockets.SendAsync("r1", Socket, Body(1), cancel.Token);
        await cancelledArrived.Task;
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        answerCancelled.SetResult();
        var next = await sockets.SendAsync("r1", Socket, Body(2), CancellationToken.None);

        Assert.Equal("{\"n\":2}", Encoding.UTF8.GetString(next.Body));
        Assert.Equal(1, replica.Connections);
    }

    [Fact]
    public async Task A_replica_that_never_answers_fails_the_request_after_the_timeout()
    {
        await using var replica = new FakeFrameReplica(Socket, async connection =>
        {
            while (await connection.ReadAsync() is not null)
            {
                // Read, never answered: a model stuck on its input.
            }
        });
        using var sockets = new ReplicaSockets(TimeSpan.FromMilliseconds(200));

        var failure = await Assert.ThrowsAsync<TimeoutException>(() => sockets.SendAsync("r1", Socket, Body(1), CancellationToken.None));

        Assert.Contains("did not answer within", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_replica_whose_socket_is_missing_is_not_reached_and_a_forgotten_one_is_connected_again()
    {
        using var sockets = new ReplicaSockets(TimeSpan.FromSeconds(100));

        await Assert.ThrowsAsync<HttpRequestException>(() => sockets.SendAsync("r1", Socket, Body(1), CancellationToken.None));

        await using var replica = new FakeFrameReplica(Socket, FakeFrameReplica.Echo);
        Assert.Equal(200, (await sockets.SendAsync("r1", Socket, Body(2), CancellationToken.None)).Status);
        sockets.Forget("r1");
        Assert.Equal(200, (await sockets.SendAsync("r1", Socket, Body(3), CancellationToken.None)).Status);
        Assert.Equal(2, replica.Connections);
    }

    [Fact]
    public void A_frame_is_read_only_when_whole_and_one_that_contradicts_its_length_is_refused()
    {
        var output = new ArrayBufferWriter<byte>();
        ReplicaFrames.WriteAnswer(output, 7, 400, "application/problem+json", "{}"u8);
        ReplicaFrames.WriteRequest(output, 8, "{\"a\":1}"u8);
        var bytes = output.WrittenMemory;

        var part = new ReadOnlySequence<byte>(bytes[..10]);
        Assert.False(ReplicaFrames.TryRead(ref part, out _));
        var whole = new ReadOnlySequence<byte>(bytes);
        Assert.True(ReplicaFrames.TryRead(ref whole, out var answer));
        Assert.True(ReplicaFrames.TryRead(ref whole, out var request));
        Assert.True(whole.IsEmpty);

        Assert.Equal((7, 400, "application/problem+json", "{}"), (answer.Id, answer.Code, answer.ContentType, Encoding.UTF8.GetString(answer.Body)));
        Assert.Equal((8, 0, (string?)null, "{\"a\":1}"), (request.Id, request.Code, request.ContentType, Encoding.UTF8.GetString(request.Body)));

        Assert.True(ReplicaFrames.Fits("application/json", 1024));
        Assert.False(ReplicaFrames.Fits("application/json", ReplicaFrames.MaxFrameBytes));

        var lying = new byte[12];
        BinaryPrimitives.WriteInt32LittleEndian(lying, 8);
        BinaryPrimitives.WriteUInt16LittleEndian(lying.AsSpan(10), 100); // a content type longer than the frame
        var bad = new ReadOnlySequence<byte>(lying);
        Assert.Throws<InvalidDataException>(() => ReplicaFrames.TryRead(ref bad, out _));
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
