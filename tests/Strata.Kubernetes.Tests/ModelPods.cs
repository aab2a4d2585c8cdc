using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Strata.Kubernetes.Tests;

/// <summary>
/// Plays, for model deployments, what a cluster does that the fake API server does not: the Deployment and ReplicaSet
/// controllers (pods of the Deployment's template, as many as <c>spec.replicas</c>; a finished rollout leaves none of an
/// older template), the kubelet (the pod's init container and server run for real, from the pod spec's own commands:
/// <c>strata-worker fetch</c> with the token read from the Secret the spec mounts, then <c>strata-worker serve</c>), and
/// kube-proxy (the server listens on its Service's cluster IP and port, which the fake allocates on loopback). One pod
/// per track runs a process; the others of the track are marked ready beside it, since the Service reaches one.
/// </summary>
public sealed class ModelPods(FakeKubernetesApi api) : IAsyncDisposable
{
    private static readonly string Worker = Path.Combine(AppContext.BaseDirectory, "worker", "strata-worker.dll");
    private readonly Dictionary<string, Server> _servers = new(StringComparer.Ordinal);
    private int _podAddresses;

    private sealed record Server(Process Process, string Template, string Folder);

    /// <summary>
    /// Brings the Deployment's pods to its spec and marks them ready, with the Deployment's status; with
    /// <paramref name="run"/>, the track's server process runs the current template first (its fetch must succeed).
    /// </summary>
    public async Task RollOutAsync(string ns, string deployment, bool run = true)
    {
        var item = api.Get(FakeKubernetesApi.Deployments, ns, deployment) ?? throw new InvalidOperationException($"no Deployment {ns}/{deployment}");
        var template = item["spec"]!["template"]!.AsObject();
        var templateText = template.ToJsonString();
        var replicas = item["spec"]!["replicas"]!.GetValue<int>();
        var uid = item["metadata"]!["uid"]!.GetValue<string>();
        if (run) await RunAsync(ns, deployment, template, templateText);

        var pods = api.List(FakeKubernetesApi.Pods, ns).Where(p => OwnerUid(p) == uid).ToList();
        foreach (var pod in pods.Where(p => p["metadata"]!["annotations"]?["template"]?.GetValue<string>() != templateText)) api.Remove(FakeKubernetesApi.Pods, ns, Name(pod));
        var current = pods.Where(p => p["metadata"]!["annotations"]?["template"]?.GetValue<string>() == templateText).OrderBy(Name, StringComparer.Ordinal).ToList();
        foreach (var extra in current.Skip(replicas)) api.Remove(FakeKubernetesApi.Pods, ns, Name(extra));
        for (var i = current.Count; i < replicas; i++)
        {
            var suffix = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(templateText)))[..8];
            api.Put(FakeKubernetesApi.Pods, new JsonObject
            {
                ["apiVersion"] = "v1",
                ["kind"] = "Pod",
                ["metadata"] = new JsonObject
                {
                    ["name"] = $"{deployment}-{suffix}-{i}",
                    ["namespace"] = ns,
                    ["labels"] = template["metadata"]!["labels"]!.DeepClone(),
                    ["annotations"] = new JsonObject { ["template"] = templateText },
                    ["ownerReferences"] = new JsonArray(new JsonObject { ["apiVersion"] = "apps/v1", ["kind"] = "Deployment", ["name"] = deployment, ["uid"] = uid, ["controller"] = true }),
                },
                ["spec"] = template["spec"]!.DeepClone(),
                ["status"] = new JsonObject
                {
                    ["phase"] = "Running",
                    ["podIP"] = $"10.1.0.{++_podAddresses}",
                    ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Ready", ["status"] = "True" }),
                    ["containerStatuses"] = new JsonArray(new JsonObject { ["name"] = "model-server", ["ready"] = true, ["restartCount"] = 0, ["image"] = "x", ["imageID"] = "" }),
                },
            }, manager: "kubelet");
        }
        api.Update(FakeKubernetesApi.Deployments, ns, deployment, d => d["status"] = new JsonObject
        {
            ["replicas"] = replicas,
            ["readyReplicas"] = replicas,
            ["updatedReplicas"] = replicas,
            ["availableReplicas"] = replicas,
        }, manager: "kube-controller-manager");
    }

    /// <summary>Stops the track's server process, as a node that went away would (its pods stay in the API until the test removes them).</summary>
    public async Task StopAsync(string ns, string deployment)
    {
        if (!_servers.Remove(ns + "/" + deployment, out var server)) return;
        await StopAsync(server);
    }

    private async Task RunAsync(string ns, string deployment, JsonObject template, string templateText)
    {
        var id = ns + "/" + deployment;
        if (_servers.TryGetValue(id, out var running) && running.Template == templateText && !running.Process.HasExited) return;
        if (running is not null) await StopAsync(running);
        _servers.Remove(id);

        var service = api.Get(FakeKubernetesApi.Services, ns, deployment) ?? throw new InvalidOperationException($"no Service {id}");
        var address = service["spec"]!["clusterIP"]!.GetValue<string>();
        var port = service["spec"]!["ports"]![0]!["port"]!.GetValue<int>().ToString(CultureInfo.InvariantCulture);
        var spec = template["spec"]!;
        var secretName = spec["volumes"]!.AsArray().First(v => v!["secret"] is not null)!["secret"]!["secretName"]!.GetValue<string>();
        var secret = api.Get(FakeKubernetesApi.Secrets, ns, secretName) ?? throw new InvalidOperationException($"no Secret {ns}/{secretName}");
        var folder = Directory.CreateTempSubdirectory("strata-model-pod-").FullName;
        var model = Directory.CreateDirectory(Path.Combine(folder, "model")).FullName;
        var tokenFile = Path.Combine(folder, "token");
        await File.WriteAllBytesAsync(tokenFile, Convert.FromBase64String(secret["data"]!["token"]!.GetValue<string>()));

        // The init container, as the kubelet runs it: to completion, before the server starts.
        var fetch = Command(spec["initContainers"]![0]!, model, tokenFile, address, port);
        using (var init = Start(fetch))
        {
            var output = init.StandardOutput.ReadToEndAsync();
            var error = init.StandardError.ReadToEndAsync();
            await init.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120));
            if (init.ExitCode != 0) throw new InvalidOperationException($"the init container of {id} failed ({init.ExitCode}): {await output}{await error}");
        }

        var process = Start(Command(spec["containers"]![0]!, model, tokenFile, address, port));
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var errors = new StringBuilder();
        process.OutputDataReceived += (_, line) =>
        {
            if (line.Data?.Contains("ready:", StringComparison.Ordinal) == true) ready.TrySetResult();
        };
        process.ErrorDataReceived += (_, line) =>
        {
            lock (errors) errors.AppendLine(line.Data);
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _servers[id] = new Server(process, templateText, folder);
        if (await Task.WhenAny(ready.Task, process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(120))) != ready.Task)
        {
            throw new InvalidOperationException($"the server of {id} did not become ready: {errors}");
        }
    }

    /// <summary>A container's command with the pod's paths on this machine: the worker, the emptyDir, the Secret's file, the Service's address.</summary>
    private static List<string> Command(JsonNode container, string model, string tokenFile, string address, string port)
    {
        var command = container["command"]!.AsArray().Select(a => a!.GetValue<string>()).ToList();
        Assert.Equal("/app/worker/strata-worker", command[0]);
        List<string> mapped = ["dotnet", Worker];
        for (var i = 1; i < command.Count; i++)
        {
            var previous = command[i - 1];
            mapped.Add(previous switch
            {
                "--out" or "--model" when command[i] == "/model" => model,
                "--token-file" => tokenFile,
                "--host" => address,
                "--port" => port,
                _ => command[i],
            });
        }
        return mapped;
    }

    private static Process Start(List<string> command)
    {
        var start = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in command.Skip(1)) start.ArgumentList.Add(argument);
        return Process.Start(start)!;
    }

    private static async Task StopAsync(Server server)
    {
        if (!server.Process.HasExited) server.Process.Kill(entireProcessTree: true);
        await server.Process.WaitForExitAsync();
        server.Process.Dispose();
        Directory.Delete(server.Folder, recursive: true);
    }

    private static string Name(JsonObject item) => item["metadata"]!["name"]!.GetValue<string>();

    private static string? OwnerUid(JsonObject item) => item["metadata"]!["ownerReferences"]?[0]?["uid"]?.GetValue<string>();

    public async ValueTask DisposeAsync()
    {
        foreach (var server in _servers.Values) await StopAsync(server);
        _servers.Clear();
    }
}
