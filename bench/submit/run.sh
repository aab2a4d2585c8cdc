#!/usr/bin/env bash
# Durable, authenticated job submissions under a closed-loop load (wrk, 32 connections).
# Starts a Release server on loopback with a fresh data folder whose one core is held by a blocker job,
# so that every submitted job is stored, queued and scheduled but none starts: the figure is the API's.
# Usage: bench/submit/run.sh [duration, default 20s] [connections, default 32]
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib/server.sh
duration=${1:-20s}
connections=${2:-32}
port=${STRATA_BENCH_PORT:-18181}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
build_server
data=$(mktemp -d)
server=""
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; pkill -f "$data" 2>/dev/null || true; rm -rf "$data"' EXIT
# The per-tenant rate limit (100/s by default) is off: the figure is the API's throughput, not the limit's.
# The bench queues far more jobs than a tenant's default quota (1,000 pending, 100 cores) allows: lift it.
start_server "$data" "$port" Runtime__Local__CpuCores=1 RateLimits__Enabled=false \
  Quotas__Default__CpuCores=1000000 Quotas__Default__MemoryGb=100000000 Quotas__Default__MaxPendingJobs=10000000
token=$(tenant_token "$data" "$port" bench)
api "$token" "$port" /v1/jobs/training -d '{"name":"blocker","entrypoint":"sleep 600","compute":{"cpu_cores":1,"memory_gb":1}}' >/dev/null
# Warm up (JIT, connection pools), then measure.
STRATA_TOKEN=$token wrk -t2 -c"$connections" -d5s -s bench/submit/submit.lua "http://127.0.0.1:$port" >/dev/null
STRATA_TOKEN=$token wrk -t2 -c"$connections" -d"$duration" --latency -s bench/submit/submit.lua "http://127.0.0.1:$port"
echo "server RSS after the run: $(( $(awk '/VmRSS/ {print $2}' /proc/$server/status) / 1024 )) MB"
