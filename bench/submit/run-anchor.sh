#!/usr/bin/env bash
# The anchor beside bench/submit/run.sh: the seed course's FastAPI design (in memory, not durable) under
# the same wrk load. Needs Debian's python3-fastapi and python3-uvicorn.
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-20s}
connections=${2:-32}
port=${STRATA_BENCH_ANCHOR_PORT:-18185}
python3 -c 'import fastapi, uvicorn' 2>/dev/null || { apt-get update -qq && apt-get install -y -qq python3-fastapi python3-uvicorn; }
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
# The system Python, where Debian's packages are (not a pyenv shim).
(cd bench/submit/seed-anchor && exec /usr/bin/python3 -m uvicorn app:app --host 127.0.0.1 --port "$port" --log-level warning --no-access-log) &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
until curl -s -o /dev/null "http://127.0.0.1:$port/docs"; do sleep 0.2; done
STRATA_TOKEN=tenant-bench wrk -t2 -c"$connections" -d5s -s bench/submit/submit.lua "http://127.0.0.1:$port" >/dev/null
STRATA_TOKEN=tenant-bench wrk -t2 -c"$connections" -d"$duration" --latency -s bench/submit/submit.lua "http://127.0.0.1:$port"
