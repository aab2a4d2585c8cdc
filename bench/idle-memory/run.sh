#!/usr/bin/env bash
# The server's resident memory when idle: a Release server on loopback with a fresh data folder, one
# tenant and one finished job (so that storage, auth and the scheduler have all been used), then left
# alone for 30 s. Prints VmRSS and VmHWM from /proc.
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib/server.sh
port=${STRATA_BENCH_PORT:-18184}
build_server
data=$(mktemp -d)
server=""
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; pkill -f "$data" 2>/dev/null || true; rm -rf "$data"' EXIT
start_server "$data" "$port"
token=$(tenant_token "$data" "$port" idle)
api "$token" "$port" /v1/jobs/training -d '{"name":"once","entrypoint":"echo hi"}' >/dev/null
sleep 30
grep -E 'VmRSS|VmHWM' "/proc/$server/status"
