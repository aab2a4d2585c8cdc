#!/usr/bin/env bash
# Paired A/B runs of the platform's route for one change, on a machine other work shares: each pair runs
# `STRATA_BENCH_ONLY=platform bench/serving/run.sh` in checkout A and in checkout B at the same time (ports
# 18182 and 18282), so that both sides see the same load from the rest of the machine; which one starts first
# alternates. Besides the rates, it prints the CPU time the server and its replica used per forwarded prediction
# during the maximum-throughput phase (from /proc/<pid>/stat), which varies less with the load than the rate.
# The two sides also compete with each other, so the rates are about half of a run alone: compare within a pair.
# Usage: bench/serving/ab.sh CHECKOUT_A CHECKOUT_B [pairs, default 2] [duration, default 20s]
# Each checkout builds its own server (run.sh does), e.g. the commit before a change cloned into /tmp/before:
#   git clone -q . /tmp/before && git -C /tmp/before checkout -q HEAD~1 && bench/serving/ab.sh /tmp/before .
set -euo pipefail
a=$(realpath "$1") b=$(realpath "$2") pairs=${3:-2} duration=${4:-20s}

# side CHECKOUT PORT: one run.sh; one line of figures when it ends.
side() {
  local checkout=$1 port=$2 out load bench server replica s0 r0 s1 r1 requests
  out=$(mktemp)
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  (cd "$checkout" && STRATA_BENCH_PORT=$port STRATA_BENCH_ONLY=platform exec bench/serving/run.sh "$duration" 32) >"$out" 2>&1 &
  bench=$!
  # The maximum-throughput phase is the first wrk run of the full duration on this port.
  local phase="wrk -t2 -c32 -d$duration .*:$port/"
  until pgrep -f "$phase" >/dev/null; do kill -0 $bench 2>/dev/null || { cat "$out"; return 1; }; sleep 0.05; done
  server=$(pgrep -f "strata-server.dll --urls http://127.0.0.1:$port" | head -n 1)
  replica=$(pgrep -P "$server" -f ' serve ' | head -n 1)
  cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
  s0=$(cpu "$server") r0=$(cpu "$replica")
  while pgrep -f "$phase" >/dev/null; do sleep 0.05; done
  s1=$(cpu "$server") r1=$(cpu "$replica")
  wait $bench
  requests=$(grep -m 1 '^requests:' "$out" | awk '{print $2}' | tr -d ,)
  # Clock ticks are 10 ms: 10,000 µs each.
  printf '%s: max %s/s, p99 at half %s ms, server %d µs and replica %d µs of CPU per prediction (load average before: %s)\n' \
    "$checkout" "$(grep -m 1 'Requests/sec' "$out" | awk '{printf "%d", $2}')" "$(grep 'latency p99:' "$out" | sed -n 2p | awk '{print $3}')" \
    $(( (s1 - s0) * 10000 / requests )) $(( (r1 - r0) * 10000 / requests )) "$load"
  rm -f "$out"
}

for pair in $(seq 1 "$pairs"); do
  echo "== pair $pair"
  if (( pair % 2 )); then first=$a second=$b; else first=$b second=$a; fi
  side "$first" 18182 & sleep 1; side "$second" 18282 & wait
done
