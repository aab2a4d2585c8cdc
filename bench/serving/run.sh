#!/usr/bin/env bash
# Single-row predictions of the example churn model (LightGBM, 100 trees) over HTTP, closed loop (wrk):
# straight to one replica (`strata-worker serve`), then through the platform's route
# (POST /v1/deployments/churn/predict: JWT, tenant check, router) to that same single replica.
# For each: the maximum throughput with 32 connections, then the latency at half that rate when wrk2
# (rate-limited, `-R`) is installed; plain wrk cannot hold a rate, and then the half-rate step says so.
# Usage: bench/serving/run.sh [duration, default 20s] [connections, default 32]
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib/server.sh
duration=${1:-20s}
connections=${2:-32}
port=${STRATA_BENCH_PORT:-18182}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
build_server
data=$(mktemp -d)
server=""
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$data"' EXIT

# The model: the built-in trainer on the example data, 100 trees.
bin=src/Strata.Server/bin/Release/net10.0
dotnet "$bin/strata-worker.dll" train --model lightgbm --label churned --data examples/churn/churn.csv \
  --output "$data/model" --hp num_iterations=100 >/dev/null

# Predictions are exempt from the API's rate limit; the cache is off (every request reaches the replica).
start_server "$data" "$port"
token=$(tenant_token "$data" "$port" bench)
mkdir -p "$data/.strata/artifacts/bench/out"
cp "$data/model/model.zip" "$data/.strata/artifacts/bench/out/model.zip"
api "$token" "$port" /v1/models/churn/versions -d "{\"path\":\"out/model.zip\",\"input_schema\":$(cat "$data/model/schema.json")}" >/dev/null
api "$token" "$port" /v1/deployments -d '{"model":"churn@1","min_replicas":1,"max_replicas":1}' >/dev/null
replica=""
for _ in $(seq 1 600); do
  replica=$(api "$token" "$port" /v1/deployments/churn | grep -o 'is ready at http://[0-9.:]*/' | head -n 1 | sed 's/is ready at //' || true)
  [[ -n $replica ]] && break
  sleep 0.2
done
[[ -n $replica ]] || { echo "the deployment's replica did not become ready" >&2; exit 1; }

# measure NAME URL [TOKEN]: warm-up, maximum throughput, then the latency at half of it (wrk2 only).
measure() {
  local name=$1 url=$2 auth=${3:-}
  echo "== $name: $url"
  STRATA_TOKEN=$auth wrk -t2 -c"$connections" -d5s -s bench/serving/predict.lua "$url" >/dev/null
  local out rate
  out=$(STRATA_TOKEN=$auth wrk -t2 -c"$connections" -d"$duration" --latency -s bench/serving/predict.lua "$url")
  echo "$out"
  rate=$(awk '/^Requests\/sec:/ {printf "%d", $2}' <<<"$out")
  if command -v wrk2 >/dev/null; then
    echo "-- at half that rate ($(( rate / 2 ))/s), wrk2:"
    STRATA_TOKEN=$auth wrk2 -t2 -c"$connections" -d"$duration" -R"$(( rate / 2 ))" --latency -s bench/serving/predict.lua "$url" | grep -E 'Requests/sec|99.000%|50.000%'
  else
    echo "-- half-rate latency: wrk2 is not installed (plain wrk cannot hold a rate); not measured"
  fi
}

measure "straight to the replica" "${replica}predict"
measure "through the platform" "http://127.0.0.1:$port/v1/deployments/churn/predict" "$token"
echo "server RSS after the run: $(( $(awk '/VmRSS/ {print $2}' /proc/$server/status) / 1024 )) MB"
