#!/usr/bin/env bash
# What the server's route costs beside what it cannot go below: one churn replica and a platform as in run.sh,
# then, 10 s each with wrk (2 threads, 32 connections) after 5 s of warm-up, with the CPU per request of the
# server and of the replica (from /proc/<pid>/stat):
#   replica      POST /predict straight to the replica;
#   route        POST /v1/deployments/churn/predict, the platform's route (cache off);
#   ready-auth   GET /v1/deployments/churn/ready: the same pipeline (Kestrel, JWT, authorization, the
#                runtime's view) with no body and no hop: the floor of any authenticated route;
#   health-anon  GET /health/live: Kestrel alone, no authentication.
# Each line also gives wrk's own CPU per request (its user + system time, from /usr/bin/time): with the server's
# and the replica's, what a request costs the machine's cores in all.
# Usage: bench/serving/floors.sh [rounds, default 1]; STRATA_BENCH_ONLY=route stops after the route.
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib/server.sh
port=${STRATA_BENCH_PORT:-18182}
rounds=${1:-1}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
build_server
work=$(mktemp -d)
server=""
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
bin=src/Strata.Server/bin/Release/net10.0
dotnet "$bin/worker/strata-worker.dll" train --model lightgbm --label churned --data examples/churn/churn.csv \
  --output "$work/model" --hp num_iterations=100 >/dev/null
data=$work/data
start_server "$data" "$port"
token=$(tenant_token "$data" "$port" bench)
deploy_churn "$data" "$port" "$token" "$work/model"
replica_pid=$(ss -Hltnp "sport = :$(sed 's|.*:\([0-9]*\)/*$|\1|' <<<"$replica")" | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
per_request() { awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f µs", t / hz / n * 1e6}'; }
# run NAME TOKEN SCRIPT URL
run() {
  local name=$1 auth=$2 script=$3 url=$4 out s0 r0 n load
  STRATA_TOKEN=$auth wrk -t2 -c32 -d5s -s "$script" "$url" >/dev/null
  s0=$(ticks "$server"); r0=$(ticks "$replica_pid")
  out=$(STRATA_TOKEN=$auth /usr/bin/time -f '%U %S' -o "$work/wrk-time" wrk -t2 -c32 -d10s -s "$script" "$url")
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  load=$(awk -v n="$n" '{printf "%.1f µs", ($1 + $2) / n * 1e6}' "$work/wrk-time")
  echo "$name: $(awk '/^Requests\/sec:/ {printf "%d", $2}' <<<"$out")/s; server $(per_request $(( $(ticks "$server") - s0 )) "$n"), replica $(per_request $(( $(ticks "$replica_pid") - r0 )) "$n"), wrk $load per request"
}
for _ in $(seq 1 "$rounds"); do
  run replica "" bench/serving/predict.lua "${replica}predict"
  run route "$token" bench/serving/predict.lua "http://127.0.0.1:$port/v1/deployments/churn/predict"
  [[ ${STRATA_BENCH_ONLY:-} == route ]] && continue
  run ready-auth "$token" bench/serving/get.lua "http://127.0.0.1:$port/v1/deployments/churn/ready"
  run health-anon "" bench/serving/get.lua "http://127.0.0.1:$port/health/live"
done
