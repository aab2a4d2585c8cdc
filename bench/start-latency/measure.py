#!/usr/bin/env python3
"""Submit-to-first-instruction latency: submits one job at a time with free capacity and compares the
client's clock just before the request with the clock the job's first instruction read (same machine).
Usage: measure.py URL TOKEN STAMP_BINARY OUT_DIR COUNT"""
import http.client, json, os, shlex, sys, time, urllib.parse

url, token, stamp, out_dir, count = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
parsed = urllib.parse.urlparse(url)
conn = http.client.HTTPConnection(parsed.hostname, parsed.port)
headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
latencies = []
for i in range(count + 5):
    out = os.path.join(out_dir, f"stamp-{i}")
    body = json.dumps({"name": f"lat-{os.getpid()}-{i}", "entrypoint": f"exec {shlex.quote(stamp)} {shlex.quote(out)}",
                       "compute": {"cpu_cores": 1, "memory_gb": 1}, "retry": {"max_attempts": 1}})
    sent = time.time_ns()
    conn.request("POST", "/v1/jobs/training", body, headers)
    response = conn.getresponse()
    job = json.loads(response.read())
    if response.status != 201:
        sys.exit(f"submission failed: {response.status} {job}")
    deadline = time.time() + 30
    while not os.path.exists(out) or os.path.getsize(out) == 0:
        if time.time() > deadline:
            conn.request("GET", f"/v1/jobs/training/{job['id']}", headers=headers)
            now = json.loads(conn.getresponse().read())
            sys.exit(f"job {job['id']} did not start within 30 s: {now['status']} ({now['status_reason']}) {now['error_message']}")
        time.sleep(0.0005)
    started = int(open(out).read())
    # Let the attempt finish so the next one finds the capacity free.
    while True:
        conn.request("GET", f"/v1/jobs/training/{job['id']}", headers=headers)
        status = json.loads(conn.getresponse().read())["status"]
        if status in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.005)
    if i >= 5:  # the first few warm the server up
        latencies.append((started - sent) / 1e6)
latencies.sort()
def pct(p): return latencies[min(len(latencies) - 1, int(round(p / 100 * len(latencies))) - 1 if p < 100 else len(latencies) - 1)]
print(f"samples: {len(latencies)}  p50: {pct(50):.2f} ms  p90: {pct(90):.2f} ms  p99: {pct(99):.2f} ms  max: {latencies[-1]:.2f} ms")
