#!/usr/bin/env bash
# The dashboard's pages under a tenant with 10,000 jobs: the jobs page (first page, a deep page, a name
# search) and a job page with 1,000 metric points, each fetched one at a time with a signed-in session.
# The figure is curl's time to the last byte over loopback (the server's time plus a loopback round trip).
# Starts a Release server with a fresh data folder whose one core is held by a blocker job, so the 10,000
# jobs are stored and queued but none starts; the blocker carries the 1,000 points.
# Usage: bench/dashboard/run.sh [requests per page, default 200]
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib/server.sh
requests=${1:-200}
port=${STRATA_BENCH_PORT:-18182}
build_server
data=$(mktemp -d)
server=""
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; pkill -f "$data" 2>/dev/null || true; rm -rf "$data"' EXIT
start_server "$data" "$port" Runtime__Local__CpuCores=1 RateLimits__Enabled=false \
  Quotas__Default__CpuCores=1000000 Quotas__Default__MemoryGb=100000000 Quotas__Default__MaxPendingJobs=10000000
token=$(tenant_token "$data" "$port" bench)
blocker=$(api "$token" "$port" /v1/jobs/training -d '{"name":"blocker","entrypoint":"sleep 900","compute":{"cpu_cores":1,"memory_gb":1}}' \
  | sed 's/.*"id":"\([^"]*\)".*/\1/')
echo "submitting 10,000 jobs ..."
seq 1 10000 | xargs -P 8 -I{} curl -sf -o /dev/null -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  "http://127.0.0.1:$port/v1/jobs/training" -d '{"name":"job-{}","entrypoint":"true","compute":{"cpu_cores":1,"memory_gb":1}}'
points=$(python3 -c 'import json; print(json.dumps([{"name": "loss", "value": 1 / (s + 1), "step": s} for s in range(1, 1001)]))')
api "$token" "$port" "/v1/jobs/training/$blocker/metrics" -d "$points" >/dev/null

# Sign in as a person does: the form's antiforgery token, then the token posted.
jar=$data/cookies
form=$(curl -sf -c "$jar" -b "$jar" "http://127.0.0.1:$port/ui/signin")
antiforgery=$(grep -o 'name="__RequestVerificationToken"[^>]*value="[^"]*"' <<<"$form" | sed 's/.*value="//;s/"$//')
curl -sf -o /dev/null -c "$jar" -b "$jar" --data-urlencode "__RequestVerificationToken=$antiforgery" \
  --data-urlencode "token=$token" "http://127.0.0.1:$port/ui/signin"

measure() {
  local name=$1 path=$2
  for _ in $(seq 1 20); do curl -sf -o /dev/null -b "$jar" "http://127.0.0.1:$port$path"; done
  for _ in $(seq 1 "$requests"); do curl -sf -o /dev/null -b "$jar" -w '%{time_total}\n' "http://127.0.0.1:$port$path"; done \
    | sort -n | awk -v name="$name" '{ t[NR] = $1 * 1000 } END {
        printf "| %s | %.1f ms | %.1f ms | %.1f ms |\n", name, t[int(NR * 0.5)], t[int(NR * 0.95)], t[NR] }'
}
size() { curl -sf -b "$jar" "http://127.0.0.1:$port$1" | wc -c; }
echo "| Page ($requests requests each) | p50 | p95 | max |"
echo "|---|---|---|---|"
measure "jobs page, newest 50 of 10,001" "/ui/jobs"
measure "jobs page, 50 older than the 5,000th" "/ui/jobs?before=5000"
measure "jobs page, name search (job-99)" "/ui/jobs?q=job-99"
measure "jobs page, status filter (pending)" "/ui/jobs?status=pending"
measure "job page, 1,000 metric points" "/ui/jobs/$blocker"
echo "job page size: $(size "/ui/jobs/$blocker") bytes; jobs page size: $(size /ui/jobs) bytes"
echo "server RSS after the run: $(( $(awk '/VmRSS/ {print $2}' /proc/$server/status) / 1024 )) MB"
