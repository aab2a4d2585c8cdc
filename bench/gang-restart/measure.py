#!/usr/bin/env python3
"""Gang restart time: submits one 2-rank job at a time. In its first attempt rank 1 stamps the clock and
exits 75 (retried as an infrastructure failure, no backoff) while rank 0 waits; in the second both ranks stamp
the clock as their first instruction. The figure is the later second-attempt stamp minus the failure stamp.
Usage: measure.py URL TOKEN STAMP_BINARY OUT_DIR COUNT"""
import http.client, json, os, shlex, sys, time, urllib.parse

url, token, stamp, out_dir, count = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
parsed = urllib.parse.urlparse(url)
conn = http.client.HTTPConnection(parsed.hostname, parsed.port)
headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
stamp = shlex.quote(stamp)


def get(path):
    conn.request("GET", path, headers=headers)
    return json.loads(conn.getresponse().read())


def read(path):
    return int(open(path).read())


restarts = []
for i in range(count + 2):
    out = os.path.join(out_dir, f"job-{i}")
    entrypoint = (f'if [ "$STRATA_ATTEMPT" = 1 ]; then if [ "$RANK" = 1 ]; then sleep 0.5; {stamp} {shlex.quote(out)}-fail; exit 75; fi; exec sleep 300; fi; '
                  f'exec {stamp} {shlex.quote(out)}-start-$RANK')
    body = json.dumps({"name": f"gang-{os.getpid()}-{i}", "entrypoint": entrypoint, "distributed": {"num_workers": 2},
                       "compute": {"cpu_cores": 1, "memory_gb": 1},
                       "retry": {"max_attempts": 2, "backoff_seconds": 0, "retry_on_exit_codes": [75]}})
    conn.request("POST", "/v1/jobs/training", body, headers)
    response = conn.getresponse()
    job = json.loads(response.read())
    if response.status != 201:
        sys.exit(f"submission failed: {response.status} {job}")
    deadline = time.time() + 60
    while (status := get(f"/v1/jobs/training/{job['id']}"))["status"] not in ("succeeded", "failed", "cancelled"):
        if time.time() > deadline:
            sys.exit(f"job {job['id']} did not end within 60 s: {status}")
        time.sleep(0.02)
    if status["status"] != "succeeded":
        sys.exit(f"job {job['id']} {status['status']}: {status['error_message']}")
    if i >= 2:  # the first few warm the server up
        restarts.append((max(read(f"{out}-start-0"), read(f"{out}-start-1")) - read(f"{out}-fail")) / 1e6)
restarts.sort()
def pct(p): return restarts[min(len(restarts) - 1, max(0, int(round(p / 100 * len(restarts))) - 1))]
print(f"samples: {len(restarts)}  p50: {pct(50):.0f} ms  p90: {pct(90):.0f} ms  max: {restarts[-1]:.0f} ms")
