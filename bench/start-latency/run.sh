#!/usr/bin/env bash
# Submit → process start latency with idle capacity, from the client's request to the job's first
# instruction (a tiny C program that reads the clock). Runs the server (Release) on loopback once per
# configuration: the Native AOT or the JIT strata-worker, with or without a standby worker, with cgroup
# limits enforced or only measured, in the job sandbox (bwrap) or not.
# Usage: bench/start-latency/run.sh [samples, default 200]
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib/server.sh
samples=${1:-200}
port=${STRATA_BENCH_PORT:-18183}
work=$(mktemp -d)
server=""
trap 'kill $server 2>/dev/null || true; pkill -f "$work" 2>/dev/null || true; rm -rf "$work"' EXIT
command -v clang >/dev/null || { apt-get update -qq && apt-get install -y -qq clang zlib1g-dev; }
mkdir -p "$work/bin"
gcc -O2 -o "$work/bin/stamp" bench/start-latency/stamp.c
build_server
dotnet publish src/Strata.Worker -c Release -r linux-x64 -p:PublishAot=true -v q -nologo -o "$work/worker-aot" >/dev/null

measure() {  # $1: label, $2: worker path ("" = the JIT one beside the server), $3: enforce limits, $4: standby workers, $5: sandbox (bwrap|none)
  local data="$work/data-${1// /-}" out="$work/out-${1// /-}"
  mkdir -p "$out"
  chmod 1777 "$out"  # a root server runs the job as the tenant's own user
  # No per-tenant rate limit: the script polls each job every 5 ms. The sandbox shows the job the stamp
  # program (read-only) and the folder it writes its stamp to, as an operator's shared folders.
  start_server "$data" "$port" RateLimits__Enabled=false Runtime__Local__WorkerPath="$2" Runtime__Local__EnforceLimits="$3" Runtime__Local__StandbyWorkers="$4" \
    Runtime__Local__Sandbox="${5:-bwrap}" Runtime__Local__Sandbox__ReadOnlyPaths__0="$work/bin" Runtime__Local__Sandbox__ReadWritePaths__0="$out"
  local token; token=$(tenant_token "$data" "$port" bench)
  printf '%-46s ' "$1:"
  python3 bench/start-latency/measure.py "http://127.0.0.1:$port" "$token" "$work/bin/stamp" "$out" "$samples"
  kill "$server"; wait "$server" 2>/dev/null || true
}
measure "aot, standby, limits on, sandbox" "$work/worker-aot/strata-worker" true 1 bwrap
measure "aot, standby, limits on, no sandbox" "$work/worker-aot/strata-worker" true 1 none
measure "aot, standby, measured only, sandbox" "$work/worker-aot/strata-worker" false 1 bwrap
measure "aot, no standby, limits on, sandbox" "$work/worker-aot/strata-worker" true 0 bwrap
measure "jit (default), standby, limits on, sandbox" "" true 1 bwrap
measure "jit (default), standby, limits on, no sandbox" "" true 1 none
