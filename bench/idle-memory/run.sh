#!/usr/bin/env bash
# The server's resident memory when idle: a Release server on loopback with a fresh data folder, one
# tenant and one finished job (so that storage, auth and the scheduler have all been used), then left
# alone for 30 s. Prints VmRSS and VmHWM from /proc.
set -euo pipefail
cd "$(dirname "$0")/../.."
port=${STRATA_BENCH_PORT:-18184}
dotnet build src/Strata.Server -c Release -v q -nologo >/dev/null
data=$(mktemp -d)
server=""
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$data"' EXIT
(cd "$data" && Logging__LogLevel__Default=Warning Strata__DataPath="$data/.strata" \
  exec dotnet "$OLDPWD/src/Strata.Server/bin/Release/net10.0/strata-server.dll" --urls "http://127.0.0.1:$port") &
server=$!
until curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null; do sleep 0.2; done
admin=$(cat "$data/.strata/admin-token")
api() { curl -sf -H "Authorization: Bearer $1" -H 'Content-Type: application/json' "http://127.0.0.1:$port$2" "${@:3}"; }
api "$admin" /v1/tenants -d '{"id":"idle"}' >/dev/null
token=$(api "$admin" /v1/tenants/idle/tokens -d '{}' | sed 's/.*"token":"\([^"]*\)".*/\1/')
api "$token" /v1/jobs/training -d '{"name":"once","entrypoint":"echo hi"}' >/dev/null
sleep 30
grep -E 'VmRSS|VmHWM' "/proc/$server/status"
