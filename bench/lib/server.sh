# Shared by the benchmark scripts (source it from the repository root): build and start a Release server
# on loopback with a fresh data folder, and give it a tenant with a member token.

# build_server: the Release build of the server (and the JIT worker beside it, in worker/).
build_server() {
  dotnet build src/Strata.Server -c Release -v q -nologo >/dev/null
}

# start_server DATA PORT [NAME=VALUE ...]: starts the server in the background with its data folder in
# DATA/.strata and the given settings as environment variables; sets $server to its pid and waits until ready.
start_server() {
  local data=$1 port=$2
  shift 2
  mkdir -p "$data"
  (cd "$data" && exec env Logging__LogLevel__Default=Warning Strata__DataPath="$data/.strata" "$@" \
     dotnet "$OLDPWD/src/Strata.Server/bin/Release/net10.0/strata-server.dll" --urls "http://127.0.0.1:$port") &
  server=$!
  until curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null; do
    kill -0 "$server" 2>/dev/null || { echo "the server exited before it was ready" >&2; return 1; }
    sleep 0.2
  done
}

# api TOKEN PORT PATH [curl args...]: an authenticated JSON request.
api() {
  curl -sf -H "Authorization: Bearer $1" -H 'Content-Type: application/json' "http://127.0.0.1:$2$3" "${@:4}"
}

# tenant_token DATA PORT TENANT: creates the tenant and prints a member token for it.
tenant_token() {
  local admin; admin=$(cat "$1/.strata/admin-token")
  api "$admin" "$2" /v1/tenants -d "{\"id\":\"$3\"}" >/dev/null
  api "$admin" "$2" "/v1/tenants/$3/tokens" -d '{"role":"member"}' | sed 's/.*"token":"\([^"]*\)".*/\1/'
}

# deploy_churn DATA PORT TOKEN MODEL: registers MODEL/model.zip (with MODEL/schema.json, as the trainer wrote them)
# as churn@1 and deploys it on one replica; sets $replica to its address once ready. TOKEN is a member's of the
# tenant `bench` (tenant_token DATA PORT bench), whose file area the model is copied into.
deploy_churn() {
  local data=$1 port=$2 token=$3 model=$4
  mkdir -p "$data/.strata/artifacts/bench/out"
  cp "$model/model.zip" "$data/.strata/artifacts/bench/out/model.zip"
  api "$token" "$port" /v1/models/churn/versions -d "{\"path\":\"out/model.zip\",\"input_schema\":$(cat "$model/schema.json")}" >/dev/null
  api "$token" "$port" /v1/deployments -d '{"model":"churn@1","min_replicas":1,"max_replicas":1}' >/dev/null
  replica=""
  for _ in $(seq 1 600); do
    replica=$(api "$token" "$port" /v1/deployments/churn | grep -o 'is ready at http://[0-9.:]*/' | head -n 1 | sed 's/is ready at //' || true)
    [[ -n $replica ]] && return 0
    sleep 0.2
  done
  echo "the deployment's replica did not become ready" >&2
  return 1
}
