#!/usr/bin/env bash
# Churn predictions (the example model: LightGBM, 100 trees) over HTTP, closed loop (wrk), in one run:
#   1. straight to one replica (`strata-worker serve`);
#   2. through the platform's route (POST /v1/deployments/churn/predict: JWT, tenant check, router) to that
#      same single replica, the prediction cache off, with the server's CPU time per forwarded request;
#   3. the same route with the prediction cache on (in the server's memory), on a fresh server, the requests
#      a mix of customers scored again and new rows (STRATA_BENCH_REPEAT_SHARE, 0.8), the hit ratio read
#      from the server's cache counters;
#   4. the issue's FastAPI + scikit-learn reference stack (fastapi_anchor.py).
# Each single-row path at its maximum throughput with 32 connections, then its latency at about half that
# rate (see measure); then a batch of 64 rows per request at its maximum, in rows/s, on the replica, the
# route and the anchor. A summary table at the end.
# Usage: bench/serving/run.sh [duration, default 20s] [connections, default 32]
# STRATA_BENCH_ONLY=platform measures the platform's route alone (for A/B runs of one change).
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib/server.sh
duration=${1:-20s}
connections=${2:-32}
port=${STRATA_BENCH_PORT:-18182}
repeat_share=${STRATA_BENCH_REPEAT_SHARE:-0.8}
batch=64
rows_csv=$PWD/examples/churn/churn.csv
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
build_server
work=$(mktemp -d)
server=""
anchor=""
cleanup() {
  kill $server $anchor 2>/dev/null || true
  wait $server $anchor 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The model: the built-in trainer on the example data, 100 trees.
bin=src/Strata.Server/bin/Release/net10.0
dotnet "$bin/worker/strata-worker.dll" train --model lightgbm --label churned --data "$rows_csv" \
  --output "$work/model" --hp num_iterations=100 >/dev/null

# start_platform DATA [NAME=VALUE ...]: a fresh server (with those settings) in DATA, a tenant, the model
# as churn@1 and a deployment of one replica; sets $server, $token and $replica (its address).
# Predictions are exempt from the API's rate limit.
start_platform() {
  local data=$1
  shift
  start_server "$data" "$port" "$@"
  token=$(tenant_token "$data" "$port" bench)
  deploy_churn "$data" "$port" "$token" "$work/model"
}

stop_platform() {
  echo "server RSS after its runs: $(( $(awk '/VmRSS/ {print $2}' /proc/$server/status) / 1024 )) MB"
  kill $server
  wait $server 2>/dev/null || true
  server=""
}

# wrk_run SECONDS URL TOKEN [wrk args...]: one closed-loop wrk run of predict.lua (its STRATA_* settings
# come from the caller's environment).
wrk_run() {
  local d=$1 url=$2 auth=$3
  STRATA_TOKEN=$auth STRATA_ROWS=$rows_csv wrk -t2 -c"$connections" -d"$d" --latency -s bench/serving/predict.lua "${@:4}" "$url"
}
rate_of() { awk '/^Requests\/sec:/ {printf "%d", $2}'; }
requests_of() { awk '/^requests:/ {gsub(",", "", $2); print $2}'; }
# " (N errors)" when wrk counted any (a refused connection, a time-out, an answer other than 2xx), else nothing.
errors_of() { awk '/^requests:/ {gsub(",", ""); n += $5 + $7 + $9 + $11 + $13} END {if (n > 0) printf " (%d errors)", n}'; }
percentile_of() { awk -v p="latency p$1:" 'index($0, p) == 1 {print $3}'; }
# CPU seconds (user + system) a process has used so far, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# The pid of the process listening on a loopback address's port (http://127.0.0.1:PORT/).
listener_pid() { ss -Hltnp "sport = :$(sed 's|.*:\([0-9]*\)/*$|\1|' <<<"$1")" | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2 || true; }

summary=()
# measure NAME URL [TOKEN [PID]]: warm-up, the maximum throughput, then the latency at half of it; with a
# PID, that process's CPU time over the maximum run divided by the requests answered. Plain wrk cannot hold
# a rate, so each connection waits between requests (STRATA_DELAY_MS, see predict.lua). The rate a wait
# gives depends on the requests' own latency and on wrk's coarse timer, so the wait is found by bisection on
# short runs (the rate falls as the wait grows), and the rate reached is printed beside the latency. Latency
# is timed from each request's send: at half load a queue rarely forms, but a stall is not charged to the
# requests that would have been sent during it (wrk2 would).
measure() {
  local name=$1 url=$2 auth=${3:-} pid=${4:-}
  echo "== $name: $url"
  wrk_run 10s "$url" "$auth" >/dev/null
  local out rate half low high wait reached before cpu="" slow
  [[ -z $pid ]] || before=$(cpu_ticks "$pid")
  out=$(wrk_run "$duration" "$url" "$auth")
  echo "$out"
  if [[ -n $pid ]]; then
    cpu=$(awk -v t="$(( $(cpu_ticks "$pid") - before ))" -v hz="$(getconf CLK_TCK)" -v n="$(requests_of <<<"$out")" \
      'BEGIN {printf "%.0f µs", t / hz / n * 1e6}')
    echo "-- CPU time of process $pid per request over that run: $cpu"
  fi
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
  slow=$(STRATA_DELAY_MS=$wait wrk_run "$duration" "$url" "$auth")
  grep -E 'Requests/sec|^requests:|latency p' <<<"$slow"
  summary+=("$(printf '| %s%s | %s/s | %s ms | %s ms | %s/s | %s ms | %s ms | %s |' "$name" "$(printf '%s\n%s\n' "$out" "$slow" | errors_of)" "$rate" \
    "$(percentile_of 50 <<<"$out")" "$(percentile_of 99 <<<"$out")" "$(rate_of <<<"$slow")" \
    "$(percentile_of 50 <<<"$slow")" "$(percentile_of 99 <<<"$slow")" "${cpu:-}")")
}

batches=()
# measure_batch NAME URL [TOKEN]: warm-up, then the maximum throughput with STRATA_BATCH rows per request.
measure_batch() {
  local name=$1 url=$2 auth=${3:-} out rate
  echo "== $name, $batch rows per request: $url"
  STRATA_BATCH=$batch wrk_run 5s "$url" "$auth" >/dev/null
  out=$(STRATA_BATCH=$batch wrk_run "$duration" "$url" "$auth")
  echo "$out"
  rate=$(rate_of <<<"$out")
  batches+=("$(printf '| %s%s | %s/s | %s rows/s | %s ms | %s ms |' "$name" "$(errors_of <<<"$out")" "$rate" "$(( rate * batch ))" \
    "$(percentile_of 50 <<<"$out")" "$(percentile_of 99 <<<"$out")")")
}

print_summary() {
  echo
  echo "Summary ($duration runs, $connections connections; CPU: of the server per forwarded request, of the replica per request):"
  echo "| Path | Max throughput | p50 | p99 | At half rate: reached | p50 | p99 | CPU per request |"
  echo "|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${summary[@]}"
  (( ${#batches[@]} == 0 )) && return
  echo
  echo "| Path, $batch rows per request | Requests | Rows | p50 | p99 |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${batches[@]}"
}

route=http://127.0.0.1:$port/v1/deployments/churn/predict
start_platform "$work/plain"
if [[ ${STRATA_BENCH_ONLY:-} == platform ]]; then
  measure "Through the platform's route" "$route" "$token" "$server"
  stop_platform
  print_summary
  exit 0
fi
measure "Straight to the replica" "${replica}predict" "" "$(listener_pid "$replica")"
measure "Through the platform's route" "$route" "$token" "$server"
measure_batch "Straight to the replica" "${replica}predict"
measure_batch "Through the platform's route" "$route" "$token"
stop_platform

# The hit ratio over all of the path's requests, its warm-up included (where most customers are first scored).
cache_count() { curl -sf "http://127.0.0.1:$port/metrics" | awk -v m="ml_platform_prediction_cache_$1_total" 'index($0, m) == 1 {s += $2} END {print s + 0}'; }
start_platform "$work/cached" Serving__Cache__Enabled=true
hits=$(cache_count hits)
misses=$(cache_count misses)
STRATA_REPEAT_SHARE=$repeat_share measure "Through the platform's route, cache on" "$route" "$token" "$server"
hits=$(( $(cache_count hits) - hits ))
misses=$(( $(cache_count misses) - misses ))
ratio=$(awk -v h="$hits" -v m="$misses" 'BEGIN {printf "%.1f%%", 100 * h / (h + m)}')
echo "-- the cache: $hits hits, $misses misses ($ratio) over the warm-up, maximum, bisection and half-rate runs; $repeat_share of the requests a customer of the CSV drawn again, the rest a row never sent before"
summary[-1]=${summary[-1]/"cache on |"/"cache on ($ratio hits) |"}
stop_platform

# The issue's reference stack on the same machine, data and request: FastAPI + uvicorn (2 workers) +
# scikit-learn GradientBoostingClassifier (100 trees, depth 3), Debian's packages and interpreter.
if ! /usr/bin/python3 -c 'import fastapi, uvicorn, uvloop, httptools, sklearn' 2>/dev/null; then
  apt-get install -y -qq python3-fastapi python3-uvicorn python3-uvloop python3-httptools python3-sklearn >/dev/null
fi
anchor_port=$(( port + 8 ))
# Each worker on its own SO_REUSEPORT socket: with uvicorn's --workers, one worker at times accepted every
# connection and the anchor ran at half its speed (fastapi_anchor.py says more).
/usr/bin/python3 bench/serving/fastapi_anchor.py --workers 2 --host 127.0.0.1 --port "$anchor_port" &
anchor=$!
until curl -sf -o /dev/null -H 'Content-Type: application/json' "http://127.0.0.1:$anchor_port/predict" \
  -d '{"tenure_months":1,"plan":"basic","contract":"month-to-month","monthly_charges":1,"total_charges":1,"support_calls":0,"region":"south","paperless_billing":"yes"}'; do
  sleep 0.5
done
measure "Anchor: FastAPI + uvicorn (2 workers) + scikit-learn" "http://127.0.0.1:$anchor_port/predict"
measure_batch "Anchor: FastAPI + scikit-learn" "http://127.0.0.1:$anchor_port/predict/batch"
print_summary
