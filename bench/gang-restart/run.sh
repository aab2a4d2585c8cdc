#!/usr/bin/env bash
# Gang restart on the local runtime: from the moment one rank of a running 2-rank job fails (the clock its
# last instruction reads) to the moment the whole gang runs again (the later of the two ranks' first
# instructions in the next attempt), with no backoff (backoff_seconds 0). Runs the server (Release, its
# defaults: JIT worker, a standby worker, sandbox, limits on) on loopback.
# Usage: bench/gang-restart/run.sh [samples, default 20] [NAME=VALUE server settings ...]
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib/server.sh
samples=${1:-20}
shift || true
port=${STRATA_BENCH_PORT:-18184}
work=$(mktemp -d)
server=""
trap 'kill $server 2>/dev/null || true; pkill -f "$work" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/out"
chmod 1777 "$work/out"  # a root server runs the job as the tenant's own user
gcc -O2 -o "$work/bin/stamp" bench/start-latency/stamp.c
build_server
start_server "$work/data" "$port" RateLimits__Enabled=false "$@" \
  Runtime__Local__Sandbox__ReadOnlyPaths__0="$work/bin" Runtime__Local__Sandbox__ReadWritePaths__0="$work/out"
token=$(tenant_token "$work/data" "$port" bench)
python3 bench/gang-restart/measure.py "http://127.0.0.1:$port" "$token" "$work/bin/stamp" "$work/out" "$samples"
