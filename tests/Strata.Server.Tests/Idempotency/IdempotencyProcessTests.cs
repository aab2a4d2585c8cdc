using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Strata.Server.Idempotency;
using Strata.Server.Tests.Process;

namespace Strata.Server.Tests.Idempotency;

/// <summary>An <c>Idempotency-Key</c> across a kill -9 of the built server.</summary>
[Collection(ServerProcessCollection.Name)]
public sealed class IdempotencyProcessTests
{
    [Fact]
    public async Task A_kill_9_once_the_job_is_committed_and_before_the_answer_is_read_then_a_retry_gives_the_same_job()
    {
        using var server = new ServerProcess();
        await server.StartAsync();
        using var api = await server.CreateTenantAsync("team-a");
        var token = await TokenAsync(server, "team-a");
        const string Spec = """{"name":"once","entrypoint":"sleep 30","compute":{"cpu_cores":1,"memory_gb":1}}""";
        var key = Guid.NewGuid().ToString();

        // The submission is sent, and the server killed as soon as the job is in the database, whatever the client has read.
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var unread = Task.Run(async () =>
        {
            try
            {
                using var response = await http.SendAsync(Submit(server.BaseAddress, token, Spec, key));
                return (int?)response.StatusCode;
            }
            catch (HttpRequestException)
            {
                return null;
            }
        });
        string? committed = null;
        await Wait.UntilAsync(async () => (committed = await JobIdInDatabaseAsync(server)) is not null, "the job to be committed", server);
        server.KillServer();
        await unread;
        await server.StartAsync();

        using var retry = await http.SendAsync(Submit(server.BaseAddress, token, Spec, key));
        var body = await retry.Content.ReadAsStringAsync();
        Assert.True(retry.StatusCode == HttpStatusCode.Created, $"retry: {(int)retry.StatusCode} {body}");
        Assert.Equal(committed, JsonDocument.Parse(body).RootElement.GetProperty("id").GetString());
        Assert.Equal($"/v1/jobs/training/{committed}", retry.Headers.Location?.OriginalString);
        Assert.Equal([committed], (await api.ListAsync()).EnumerateArray().Select(j => j.GetProperty("id").GetString()));
        using var cancel = await api.SendAsync(HttpMethod.Delete, $"/v1/jobs/training/{committed}");
    }

    private static HttpRequestMessage Submit(Uri server, string token, string spec, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server, "/v1/jobs/training"))
        {
            Content = new StringContent(spec, Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Add(IdempotencyFilter.HeaderName, key);
        return request;
    }

    /// <summary>A member's token of the tenant, issued by the admin.</summary>
    private static async Task<string> TokenAsync(ServerProcess server, string tenant)
    {
        using var admin = new ApiClient(server, server.AdminToken);
        using var response = await admin.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/tokens", """{"role":"member"}""");
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"token: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.GetProperty("token").GetString()!;
    }

    private static async Task<string?> JobIdInDatabaseAsync(ServerProcess server)
    {
        var database = Path.Combine(server.DataPath, "strata.db");
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT id FROM jobs WHERE name = 'once'";
        return await command.ExecuteScalarAsync() as string;
    }
}
