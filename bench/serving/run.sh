#!/usr/bin/env bash
# Single-row predictions of the example churn model (LightGBM, 100 trees) over HTTP, closed loop (wrk):
# straight to one replica (`strata-worker serve`), then through the platform's route
# (POST /v1/deployments/churn/predict: JWT, tenant check, router) to that same single replica.
# For each: the maximum throughput with 32 connections, then the latency at about half that rate (see
# measure); last, the same for the issue's FastAPI + scikit-learn reference stack (fastapi_anchor.py).
# Usage: bench/serving/run.sh [duration, default 20s] [connections, default 32]
# STRATA_BENCH_ONLY=platform measures the platform's route alone (for A/B runs of one change).
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
dotnet "$bin/worker/strata-worker.dll" train --model lightgbm --label churned --data examples/churn/churn.csv \
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

# wrk_run SECONDS URL TOKEN [wrk args...]: one closed-loop wrk run of the churn request.
wrk_run() {
  local d=$1 url=$2 auth=$3
  STRATA_TOKEN=$auth wrk -t2 -c"$connections" -d"$d" --latency -s bench/serving/predict.lua "${@:4}" "$url"
}
rate_of() { awk '/^Requests\/sec:/ {printf "%d", $2}'; }

# measure NAME URL [TOKEN]: warm-up, the maximum throughput, then the latency at half of it. Plain wrk
# cannot hold a rate, so each connection waits between requests (STRATA_DELAY_MS, see predict.lua). The
# rate a wait gives depends on the requests' own latency and on wrk's coarse timer, so the wait is found
# by bisection on short runs (the rate falls as the wait grows), and the rate reached is printed beside
# the latency. Latency is timed from each request's send: at half load a queue rarely forms, but a stall
# is not charged to the requests that would have been sent during it (wrk2 would).
measure() {
  local name=$1 url=$2 auth=${3:-}
  echo "== $name: $url"
  wrk_run 10s "$url" "$auth" >/dev/null
  local out rate half low high wait reached
  out=$(wrk_run "$duration" "$url" "$auth")
  echo "$out"
  rate=$(rate_of <<<"$out")
  half=$(( rate / 2 ))
  # Between no wait (the maximum rate) and the wait that alone would give half the rate twice over.
  low=0
  high=$(awk -v c="$connections" -v r="$half" 'BEGIN {printf "%.3f", 2 * c * 1000 / r}')
  for _ in 1 2 3 4 5 6 7; do
    wait=$(awk -v a="$low" -v b="$high" 'BEGIN {printf "%.3f", (a + b) / 2}')
    reached=$(STRATA_DELAY_MS=$wait wrk_run 3s "$url" "$auth" | rate_of)
    if (( reached > half )); then low=$wait; else high=$wait; fi
  done
  echo "-- at half that rate ($half/s; each connection waits $wait ms between requests):"
  STRATA_DELAY_MS=$wait wrk_run "$duration" "$url" "$auth" | grep -E 'Requests/sec|^requests:|latency p'
}

only=${STRATA_BENCH_ONLY:-}
[[ -n $only ]] || measure "straight to the replica" "${replica}predict"
measure "through the platform" "http://127.0.0.1:$port/v1/deployments/churn/predict" "$token"
[[ -z $only ]] || { echo "server RSS after the run: $(( $(awk '/VmRSS/ {print $2}' /proc/$server/status) / 1024 )) MB"; exit 0; }

# The issue's reference stack on the same machine, data and request: FastAPI + uvicorn (2 workers) +
# scikit-learn GradientBoostingClassifier (100 trees, depth 3), Debian's packages and interpreter.
if ! /usr/bin/python3 -c 'import fastapi, uvicorn, uvloop, httptools, sklearn' 2>/dev/null; then
  apt-get install -y -qq python3-fastapi python3-uvicorn python3-uvloop python3-httptools python3-sklearn >/dev/null
fi
anchor_port=$(( port + 8 ))
/usr/bin/python3 -m uvicorn --app-dir bench/serving fastapi_anchor:app --workers 2 --host 127.0.0.1 \
  --port "$anchor_port" --log-level warning &
anchor=$!
trap 'kill $server $anchor 2>/dev/null || true; wait $server $anchor 2>/dev/null || true; rm -rf "$data"' EXIT
until curl -sf -o /dev/null -H 'Content-Type: application/json' "http://127.0.0.1:$anchor_port/predict" \
  -d '{"tenure_months":1,"plan":"basic","contract":"month-to-month","monthly_charges":1,"total_charges":1,"support_calls":0,"region":"south","paperless_billing":"yes"}'; do
  sleep 0.5
done
measure "anchor: FastAPI + uvicorn (2 workers) + scikit-learn" "http://127.0.0.1:$anchor_port/predict"
echo "server RSS after the run: $(( $(awk '/VmRSS/ {print $2}' /proc/$server/status) / 1024 )) MB"
