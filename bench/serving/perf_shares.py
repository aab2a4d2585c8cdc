#!/usr/bin/env python3
"""Shares of a process's CPU by component, from `perf script -F comm,ip,sym,dso` on stdin.

A sample counts for the innermost frame that names a component (the rules below, in order); samples whose
innermost frame is in the kernel are also counted apart, so that each line says how much of it was system calls.
JIT-compiled frames have names only when the process ran with DOTNET_PerfMapEnabled=1 and
DOTNET_EnableWriteXorExecute=0 (bench/RESULTS.md, "Where the server's CPU goes per forwarded prediction"):

    perf record -F 999 -g -p <server pid> -o server.data -- sleep 15
    perf script -i server.data -F comm,ip,sym,dso | bench/serving/perf_shares.py
"""
import collections
import re
import sys

RULES = [(name, re.compile(pattern)) for name, pattern in [
    ("HttpClient (the hop to the replica)", r"System\.Net\.Http"),
    ("Metrics (OpenTelemetry, Meter)", r"OpenTelemetry|System\.Diagnostics\.Metrics|StrataMetrics|PredictionWindow::"),
    ("Logging", r"Microsoft\.Extensions\.Logging|HostingApplicationDiagnostics"),
    ("JWT authentication", r"Authentication|IdentityModel|Jwt|RejectRevoked|TenantIncarnation"),
    ("Authorization", r"Authorization"),
    ("Claims, caller", r"Claims|Caller::"),
    ("Routing, endpoint", r"Routing|RequestDelegateFactory|EndpointMiddleware"),
    ("Other middleware", r"Microsoft\.AspNetCore\.(Diagnostics|RateLimiting|Antiforgery|Hosting)|Strata\.Server\.(Dashboard|Problems|Idempotency)"),
    ("The predict route", r"Strata\.Server\.Deployments"),
    ("Other Strata code", r"Strata\."),
    ("JSON", r"System\.Text\.Json"),
    ("Kestrel", r"Kestrel|Microsoft\.AspNetCore\.Http|System\.IO\.Pipelines"),
    ("Socket engine", r"System\.Net\.Sockets|epoll_wait"),
    ("Thread pool, async", r"ThreadPool|ExecutionContext|AsyncTaskMethodBuilder|Task"),
]]
UNNAMED = "No component (runtime, GC, system calls without a managed caller)"


def main():
    counts, kernel = collections.Counter(), collections.Counter()
    total = 0
    for sample in sys.stdin.read().split("\n\n"):
        lines = [line for line in sample.splitlines() if line.strip()]
        if not lines:
            continue
        thread, frames = lines[0].strip(), [line.strip() for line in lines[1:]]
        total += 1
        if "Tiered Com" in thread or any("libclrjit" in frame for frame in frames):
            component = "JIT compiler"
        else:
            component = next((name for frame in frames for name, rule in RULES if rule.search(frame)), UNNAMED)
        counts[component] += 1
        if frames and "kernel" in frames[0]:
            kernel[component] += 1
    for component, n in counts.most_common():
        print(f"{100 * n / total:5.1f}%  (in the kernel {100 * kernel[component] / total:4.1f}%)  {component}")
    print(f"{total} samples")


if __name__ == "__main__":
    main()
